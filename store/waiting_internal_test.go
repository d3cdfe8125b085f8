package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// TestGetEvent_WaitingForSkipsFinishedHistory: finding what a waiting
// delivery waits behind does not read the subject's finished history. The
// records of the subject's 200 finished events are made unreadable; a walk
// that touched them would fail.
func TestGetEvent_WaitingForSkipsFinishedHistory(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "relay.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	target := relay.OutboxTarget{Sink: "ap", OrderKey: "trx_A"}
	ingest := func(i int, id string) {
		t.Helper()
		e := storetest.NewEvent(id, t0.Add(time.Duration(i)*time.Millisecond), target)
		e.Subject = "trx_A"
		if _, err := s.Ingest(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Hour)
	claim := func(want string) {
		t.Helper()
		claims, _, err := s.ClaimDue(ctx, "ap", now, 10)
		if err != nil || len(claims) != 1 || claims[0].EventID != want {
			t.Fatalf("ClaimDue = %+v, %v; want %s", claims, err, want)
		}
	}
	const history = 200
	var old []string
	for i := range history {
		id := fmt.Sprintf("evt_%03d", i)
		old = append(old, id)
		ingest(i, id)
		claim(id)
		if err := s.Finish(ctx, "ap", id, relay.Attempt{At: now, Outcome: "delivered", StatusCode: 200}, relay.Transition{State: relay.StateDelivered}); err != nil {
			t.Fatal(err)
		}
	}
	ingest(history, "evt_head")
	ingest(history+1, "evt_wait")
	claim("evt_head")
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, id := range old {
			if err := tx.Bucket(bktEvents).Put([]byte(id), []byte("{unreadable")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.GetEvent(ctx, "evt_wait")
	if err != nil {
		t.Fatalf("GetEvent(evt_wait): %v (the walk read the finished history)", err)
	}
	if ds := d.Deliveries[0]; ds.WaitingFor != "evt_head" || ds.WaitingForState != relay.StateInFlight {
		t.Fatalf("evt_wait waits for %q (%s), want evt_head (in_flight)", ds.WaitingFor, ds.WaitingForState)
	}
}
