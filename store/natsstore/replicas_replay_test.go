package natsstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// TestReplicas_WaitingForAndReplay: what one replica did is what another
// answers at once: the delivery a waiting one waits behind (GetEvent syncs
// its index first) and a replay to a create-once sink after another
// replica created the subject's document.
func TestReplicas_WaitingForAndReplay(t *testing.T) {
	ctx := context.Background()
	rs := replicas(t, 2, natsstore.Options{})
	a, b := rs[0], rs[1]
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ordered := relay.OutboxTarget{Sink: "ap", OrderKey: "trx_1"}
	for i, id := range []string{"evt_1", "evt_2"} {
		e := storetest.NewEvent(id, t0.Add(time.Duration(i)*time.Millisecond), ordered)
		e.Subject = "trx_1"
		if _, err := a.Ingest(ctx, e); err != nil {
			t.Fatalf("Ingest(%s): %v", id, err)
		}
	}
	now := t0.Add(time.Hour)
	claimOne := func(want string) {
		t.Helper()
		var claims []relay.Claim
		testkit.Eventually(t, 10*time.Second, "a claim of "+want, func() bool {
			var err error
			claims, _, err = a.ClaimDue(ctx, "ap", now, 10)
			return err == nil && len(claims) > 0
		})
		if len(claims) != 1 || claims[0].EventID != want {
			t.Fatalf("claimed %+v, want %s only", claims, want)
		}
	}
	waitingFor := func(s *natsstore.Store, id string) (string, string) {
		t.Helper()
		d, err := s.GetEvent(ctx, id)
		if err != nil {
			t.Fatalf("GetEvent(%s): %v", id, err)
		}
		return d.Deliveries[0].WaitingFor, d.Deliveries[0].WaitingForState
	}

	claimOne("evt_1")
	for range 20 {
		// Each round a fresh state change on a, read at once on b.
		if err := a.Finish(ctx, "ap", "evt_1", relay.Attempt{At: now, Outcome: "unknown", Error: "timeout"},
			relay.Transition{State: relay.StateNeedsReview, Reason: "outcome unknown: timeout"}); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if id, st := waitingFor(b, "evt_2"); id != "evt_1" || st != relay.StateNeedsReview {
			t.Fatalf("replica b: evt_2 waits for %q (%s), want evt_1 (needs_review)", id, st)
		}
		if err := a.Resolve(ctx, "evt_1", relay.Resolution{Sink: "ap", Outcome: "retry", Operator: "ops"}, now); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		claimOne("evt_1")
		if id, st := waitingFor(b, "evt_2"); id != "evt_1" || st != relay.StateInFlight {
			t.Fatalf("replica b: evt_2 waits for %q (%s), want evt_1 (in_flight)", id, st)
		}
	}

	cd := relay.CreatedDocument{Sink: "ap", Subject: "trx_1", EventID: "evt_1", DocumentNumber: "INV-9", CreatedAt: now}
	if err := a.Finish(ctx, "ap", "evt_1", relay.Attempt{At: now, Outcome: "delivered", StatusCode: 200},
		relay.Transition{State: relay.StateDelivered, Result: map[string]string{"document_number": "INV-9"}, Created: &cd}); err != nil {
		t.Fatalf("Finish(delivered): %v", err)
	}
	if id, _ := waitingFor(b, "evt_2"); id != "" {
		t.Fatalf("replica b: evt_2 still waits for %q after evt_1 was delivered", id)
	}
	res, err := b.Replay(ctx, "evt_1", relay.ReplayRequest{Target: ordered, CreateOnce: true, Operator: "ops"}, now)
	if err != nil || res.Queued != 0 || res.Skipped != 1 || !strings.Contains(res.Reason, "INV-9") {
		t.Fatalf("replica b: Replay = %+v, %v; want skipped naming INV-9", res, err)
	}
	d, err := a.GetEvent(ctx, "evt_1")
	if err != nil {
		t.Fatal(err)
	}
	if ds := d.Deliveries[0]; ds.State != relay.StateDelivered || ds.Result["document_number"] != "INV-9" {
		t.Fatalf("after the replay: %s %v, want delivered with INV-9", ds.State, ds.Result)
	}
}
