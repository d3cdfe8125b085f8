package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// testWaitingFor checks SPEC 3: a delivery that waits for its turn says so.
// GetEvent's deliveries[].waiting_for holds the id of the event whose open
// delivery at that sink it waits behind (and waiting_for_state that
// delivery's state); both are empty for a delivery that is not waiting.
func testWaitingFor(t *testing.T, open Opener) {
	// waits returns, per event, what its delivery at sink waits for:
	// "evt_x state", or "" when it is not waiting.
	waits := func(h *harness, sink string, ids ...string) map[string]string {
		h.t.Helper()
		out := map[string]string{}
		for _, id := range ids {
			ds := h.delivery(id, sink)
			switch {
			case ds.WaitingFor == "" && ds.WaitingForState == "":
				out[id] = ""
			default:
				out[id] = ds.WaitingFor + " " + ds.WaitingForState
				if ds.State != relay.StatePending || ds.NextAttemptAt != nil {
					h.t.Errorf("%s at %s waits for %s but is %s with next attempt %v; want pending, not scheduled", id, sink, out[id], ds.State, ds.NextAttemptAt)
				}
			}
		}
		return out
	}
	want := func(h *harness, sink string, w map[string]string) {
		h.t.Helper()
		ids := make([]string, 0, len(w))
		for id := range w {
			ids = append(ids, id)
		}
		if diff := cmp.Diff(w, waits(h, sink, ids...)); diff != "" {
			h.t.Errorf("waiting for at %s (-want +got):\n%s", sink, diff)
		}
	}
	three := func(h *harness, sinks ...string) {
		h.t.Helper()
		h.ingest(
			spec{id: "evt_1", subject: "trx_A", at: at(0), targets: ordered("trx_A", sinks...)}.event(),
			spec{id: "evt_2", subject: "trx_A", at: at(1), targets: ordered("trx_A", sinks...)}.event(),
			spec{id: "evt_3", subject: "trx_A", at: at(2), targets: ordered("trx_A", sinks...)}.event(),
		)
	}

	t.Run("ThroughTheHeadsLife", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap)
		// Freshly ingested: evt_1 is due, the others wait behind it.
		want(h, ap, map[string]string{"evt_1": "", "evt_2": "evt_1 pending", "evt_3": "evt_1 pending"})

		h.wantClaimed(ap, later, "evt_1")
		want(h, ap, map[string]string{"evt_1": "", "evt_2": "evt_1 in_flight", "evt_3": "evt_1 in_flight"})

		retryAt := later.Add(time.Minute)
		h.finish(ap, "evt_1", attempt(relay.StatePending, later), relay.Transition{State: relay.StatePending, NextAt: retryAt, Reason: "503"})
		want(h, ap, map[string]string{"evt_1": "", "evt_2": "evt_1 pending", "evt_3": "evt_1 pending"})

		h.wantClaimed(ap, retryAt, "evt_1")
		h.finish(ap, "evt_1", attempt(relay.StateNeedsReview, retryAt), transition(relay.StateNeedsReview, retryAt))
		want(h, ap, map[string]string{"evt_1": "", "evt_2": "evt_1 needs_review", "evt_3": "evt_1 needs_review"})

		resolveAt := retryAt.Add(time.Hour)
		err := h.s.Resolve(h.ctx, "evt_1", relay.Resolution{Sink: ap, Outcome: "delivered", Result: map[string]string{"document_number": "INV-1"}, Operator: "ops"}, resolveAt)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		// evt_2 has its turn now; evt_3 waits behind it.
		want(h, ap, map[string]string{"evt_1": "", "evt_2": "", "evt_3": "evt_2 pending"})
		h.settle(ap, resolveAt, map[string]string{"evt_2": relay.StateSkipped})
		want(h, ap, map[string]string{"evt_1": "", "evt_2": "", "evt_3": ""})
	})

	t.Run("PerSink", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap, erp)
		h.settle(ap, later, map[string]string{"evt_1": relay.StateDelivered})
		h.settle(erp, later, map[string]string{"evt_1": relay.StateNeedsReview})
		want(h, ap, map[string]string{"evt_1": "", "evt_2": "", "evt_3": "evt_2 pending"})
		want(h, erp, map[string]string{"evt_1": "", "evt_2": "evt_1 needs_review", "evt_3": "evt_1 needs_review"})
	})

	t.Run("OtherSubjectsAndUnordered", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap)
		h.ingest(
			spec{id: "evt_b", subject: "trx_B", at: at(3), targets: ordered("trx_B", ap)}.event(),
			spec{id: "evt_u", subject: "trx_A", at: at(4), targets: to(erp)}.event(),
			spec{id: "evt_v", subject: "trx_A", at: at(5), targets: to(erp)}.event(),
		)
		h.settle(ap, later, map[string]string{"evt_1": relay.StateNeedsReview, "evt_b": relay.StateInFlight})
		want(h, ap, map[string]string{"evt_b": "", "evt_2": "evt_1 needs_review"})
		want(h, erp, map[string]string{"evt_u": "", "evt_v": ""})
	})

	t.Run("ReplayedBehindALaterEvent", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap)
		h.settle(ap, later, map[string]string{"evt_1": relay.StateDelivered})
		h.settle(ap, later, map[string]string{"evt_2": relay.StateInFlight})
		if err := h.replay("evt_1", relay.OutboxTarget{Sink: ap, OrderKey: "trx_A"}, "ops", later); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		want(h, ap, map[string]string{"evt_1": "evt_2 in_flight", "evt_2": "", "evt_3": "evt_2 in_flight"})
	})
}
