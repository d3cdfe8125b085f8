package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// The last-hour counts are in the file: a restart does not reset them
// (the console's "delivered, last hour" read 0 after every restart when it
// was counted in memory).
func TestStore_LastHourSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	s, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt_1", "evt_2"} {
		if _, err := s.Ingest(ctx, storetest.NewEvent(id, now.Add(-time.Minute), relay.OutboxTarget{Sink: "erp"})); err != nil {
			t.Fatal(err)
		}
	}
	claims, _, err := s.ClaimDue(ctx, "erp", now, 10)
	if err != nil || len(claims) != 2 {
		t.Fatalf("ClaimDue: %d claims, %v", len(claims), err)
	}
	for _, c := range claims {
		if err := s.Finish(ctx, "erp", c.EventID, relay.Attempt{At: now, Outcome: "delivered", StatusCode: 200},
			relay.Transition{State: relay.StateDelivered}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = testkit.OpenStoreAt(t, path, store.Options{})
	st, err := s.Stats(ctx, now.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Sinks["erp"].DeliveredLastHour; got != 2 {
		t.Errorf("delivered in the last hour after reopening = %d, want 2", got)
	}
}
