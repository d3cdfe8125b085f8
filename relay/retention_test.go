package relay_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

// retentionHarness ingests three events through a started dispatcher: an
// old one that is delivered, an old one that is dead, and a recent
// delivered one, relative to the returned clock.
func retentionHarness(t *testing.T) (h *harness, old, dead, recent string, now time.Time) {
	t.Helper()
	sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
		if o.EventID == "evt_old_dead" {
			return relay.Permanent(422, "rejected")
		}
		return relay.Delivered(200, nil)
	}}
	h = startHarness(t, spec(t, "erp", sink, "10ms"))
	// The retention clock is fixed; the first two arrived 800h before it
	// (older than the 720h kept), the third an hour before.
	now = time.Now().UTC().Truncate(time.Second)
	old = h.ingestAt(t, "transaction.paid", eventOpts("evt_old_delivered", ""), now.Add(-800*time.Hour))
	dead = h.ingestAt(t, "transaction.paid", eventOpts("evt_old_dead", ""), now.Add(-800*time.Hour))
	recent = h.ingestAt(t, "transaction.paid", eventOpts("evt_recent", ""), now.Add(-time.Hour))
	h.waitState(t, 5*time.Second, old, "erp", relay.StateDelivered)
	h.waitState(t, 5*time.Second, dead, "erp", relay.StateDead)
	h.waitState(t, 5*time.Second, recent, "erp", relay.StateDelivered)
	return h, old, dead, recent, now
}

func TestRetention_RunOnce(t *testing.T) {
	h, old, dead, recent, now := retentionHarness(t)
	ctx := context.Background()
	var removed atomic.Int64
	r := &relay.Retention{
		Store: h.store, MaxAge: 720 * time.Hour, Interval: time.Hour,
		Now:       func() time.Time { return now },
		OnRemoved: func(n int) { removed.Add(int64(n)) },
	}
	if n := r.RunOnce(ctx); n != 1 {
		t.Errorf("RunOnce removed %d events, want 1", n)
	}
	if removed.Load() != 1 {
		t.Errorf("OnRemoved counted %d", removed.Load())
	}
	if _, err := h.store.GetEvent(ctx, old); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("old delivered event: GetEvent error %v, want not found", err)
	}
	for _, id := range []string{dead, recent} {
		if _, err := h.store.GetEvent(ctx, id); err != nil {
			t.Errorf("%s removed: %v", id, err)
		}
	}
	page, err := h.store.ListDeadLetters(ctx, relay.DeadLetterFilter{})
	if err != nil || len(page.DeadLetters) != 1 || page.DeadLetters[0].EventID != dead {
		t.Errorf("dead letters after retention: %+v, %v", page.DeadLetters, err)
	}
	if n := r.RunOnce(ctx); n != 0 {
		t.Errorf("second RunOnce removed %d", n)
	}
}

func TestRetention_StartStop(t *testing.T) {
	h, old, dead, _, now := retentionHarness(t)
	ctx := context.Background()
	var removed atomic.Int64
	r := &relay.Retention{
		Store: h.store, MaxAge: 720 * time.Hour, Interval: time.Hour,
		Now:       func() time.Time { return now },
		OnRemoved: func(n int) { removed.Add(int64(n)) },
	}
	r.Start(ctx) // the first pass runs at once
	t.Cleanup(r.Stop)
	testkit.Eventually(t, 5*time.Second, "the first retention pass", func() bool { return removed.Load() == 1 })
	r.Stop()
	r.Stop()
	if _, err := h.store.GetEvent(ctx, old); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("old delivered event kept: %v", err)
	}
	if _, err := h.store.GetEvent(ctx, dead); err != nil {
		t.Errorf("dead event removed: %v", err)
	}

	// A second Start does not start a second loop (goleak would see it).
	r2 := &relay.Retention{Store: h.store, MaxAge: 720 * time.Hour, Interval: time.Hour, Now: func() time.Time { return now }}
	r2.Start(ctx)
	r2.Start(ctx)
	stopped := make(chan struct{})
	go func() {
		r2.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop after a second Start did not return")
	}
}

func TestRetention_StopBeforeStart(t *testing.T) {
	st := testkit.OpenStore(t)
	r := &relay.Retention{Store: st, MaxAge: time.Hour, Interval: time.Hour}
	r.Stop() // returns at once
	r.Stop()
	// Started after Stop, its loop would never end (goleak would see it).
	r.Start(context.Background())
	r.Stop()
}
