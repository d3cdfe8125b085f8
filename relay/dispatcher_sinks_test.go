package relay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

// TestDispatcher_SetSinks: sinks added, replaced and removed while the
// dispatcher runs (a source applied at run time, SPEC 6). An attempt that
// began under the old configuration finishes with it; the next delivery
// uses the new one; a removed sink claims nothing more and its entries
// stay pending, not lost.
func TestDispatcher_SetSinks(t *testing.T) {
	ctx := context.Background()
	type got struct{ sink, event string }
	var mu sync.Mutex
	var seen []got
	release := make(chan struct{})
	recorder := func(label string, block bool) relay.Sink {
		return &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			if block {
				<-release
			}
			mu.Lock()
			seen = append(seen, got{label, o.EventID})
			mu.Unlock()
			return relay.Delivered(200, nil)
		}}
	}
	count := func(label string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, g := range seen {
			if g.sink == label {
				n++
			}
		}
		return n
	}
	h := startHarness(t, spec(t, "base", recorder("base", false), "20ms"))
	// Events routed to a sink the dispatcher does not run yet wait pending.
	added := spec(t, "acme/ap", recorder("v1", true), "20ms")
	added.Concurrency = 1
	h.recv.Routes = append(h.recv.Routes, added.Route)
	first := h.ingest(t, "transaction.sent", eventOpts("evt_set_1", "trx_set_1"))
	if st := h.delivery(t, first, "acme/ap").State; st != relay.StatePending {
		t.Fatalf("before the sink runs: %s, want pending", st)
	}

	if err := h.disp.SetSinks(ctx, []*relay.SinkSpec{added}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.disp.Spec("acme/ap"); !ok {
		t.Fatal("Spec(acme/ap): not running after SetSinks")
	}
	// v1 is now sending first (blocked); the replacement does not wait.
	testkit.Eventually(t, 5*time.Second, "v1 to claim the first event", func() bool {
		return h.delivery(t, first, "acme/ap").State == relay.StateInFlight
	})
	replaced := make(chan error, 1)
	go func() {
		replaced <- h.disp.SetSinks(ctx, []*relay.SinkSpec{spec(t, "acme/ap", recorder("v2", false), "20ms")}, nil)
	}()
	close(release)
	if err := <-replaced; err != nil {
		t.Fatal(err)
	}
	h.waitState(t, 5*time.Second, first, "acme/ap", relay.StateDelivered)
	if n := count("v1"); n != 1 {
		t.Fatalf("the attempt v1 began: finished %d times, want 1", n)
	}
	second := h.ingest(t, "transaction.sent", eventOpts("evt_set_2", "trx_set_2"))
	h.waitState(t, 5*time.Second, second, "acme/ap", relay.StateDelivered)
	if count("v2") != 1 || count("v1") != 1 {
		t.Fatalf("after the replacement: v1 %d, v2 %d deliveries, want 1 and 1", count("v1"), count("v2"))
	}

	if err := h.disp.SetSinks(ctx, nil, []string{"acme/ap"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.disp.Spec("acme/ap"); ok {
		t.Fatal("Spec(acme/ap) after removal: still there")
	}
	third := h.ingest(t, "transaction.sent", eventOpts("evt_set_3", "trx_set_3"))
	h.waitState(t, 5*time.Second, third, "base", relay.StateDelivered)
	if st := h.delivery(t, third, "acme/ap").State; st != relay.StatePending {
		t.Fatalf("at a removed sink: %s, want pending (kept, not lost)", st)
	}
	h.disp.Stop()
	if err := h.disp.SetSinks(ctx, []*relay.SinkSpec{added}, nil); err == nil {
		t.Fatal("SetSinks after Stop: no error")
	}
}
