package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// testOrdering checks subject ordering (SPEC 3, ORDERING=subject): per sink
// and order key, a later event waits while an earlier one is in flight,
// waiting to retry or in needs_review; once the earlier one is delivered,
// skipped or dead, the next goes.
func testOrdering(t *testing.T, open Opener) {
	t.Run("LongHistory", func(t *testing.T) { testOrderingLongHistory(t, open) })
	// three ingests evt_1..evt_3 of subject trx_A, ordered at sinks.
	three := func(h *harness, sinks ...string) {
		h.t.Helper()
		h.ingest(
			spec{id: "evt_1", subject: "trx_A", at: at(0), targets: ordered("trx_A", sinks...)}.event(),
			spec{id: "evt_2", subject: "trx_A", at: at(1), targets: ordered("trx_A", sinks...)}.event(),
			spec{id: "evt_3", subject: "trx_A", at: at(2), targets: ordered("trx_A", sinks...)}.event(),
		)
	}

	t.Run("OnlyHeadClaimable", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap)
		h.wantClaimed(ap, later, "evt_1")
		h.wantClaimed(ap, later.Add(time.Hour))
		h.wantState("evt_2", ap, relay.StatePending)
		h.wantState("evt_3", ap, relay.StatePending)
	})

	for _, state := range []string{relay.StateDelivered, relay.StateSkipped, relay.StateDead} {
		t.Run("ReleasedBy"+state, func(t *testing.T) {
			h := newHarness(t, open)
			three(h, ap)
			h.settle(ap, later, map[string]string{"evt_1": state})
			h.settle(ap, later, map[string]string{"evt_2": state})
			h.wantClaimed(ap, later, "evt_3")
		})
	}

	t.Run("RetryBlocks", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap)
		h.wantClaimed(ap, later, "evt_1")
		retryAt := later.Add(time.Minute)
		h.finish(ap, "evt_1", attempt(relay.StatePending, later), relay.Transition{State: relay.StatePending, NextAt: retryAt})
		h.wantClaimed(ap, retryAt.Add(time.Hour), "evt_1")
		h.wantClaimed(ap, retryAt.Add(time.Hour)) // nothing else became due
		h.finish(ap, "evt_1", attempt(relay.StateDelivered, retryAt), relay.Transition{State: relay.StateDelivered})
		h.wantClaimed(ap, retryAt, "evt_2")
	})

	t.Run("NeedsReviewBlocksUntilResolved", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap)
		h.settle(ap, later, map[string]string{"evt_1": relay.StateNeedsReview})
		h.wantClaimed(ap, later.Add(24*time.Hour))
		resolveAt := later.Add(25 * time.Hour)
		err := h.s.Resolve(h.ctx, "evt_1", relay.Resolution{Sink: ap, Outcome: "retry", Operator: "ops"}, resolveAt)
		if err != nil {
			t.Fatalf("Resolve(retry): %v", err)
		}
		h.wantClaimed(ap, resolveAt, "evt_1") // the head again, nothing behind it
		h.finish(ap, "evt_1", attempt(relay.StateNeedsReview, resolveAt), transition(relay.StateNeedsReview, resolveAt))
		err = h.s.Resolve(h.ctx, "evt_1", relay.Resolution{
			Sink: ap, Outcome: "delivered", Result: map[string]string{"document_number": "INV-1"}, Operator: "ops",
		}, resolveAt)
		if err != nil {
			t.Fatalf("Resolve(delivered): %v", err)
		}
		h.wantClaimed(ap, resolveAt, "evt_2")
	})

	t.Run("OtherSubjectNotBlocked", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap)
		h.ingest(spec{id: "evt_b", subject: "trx_B", at: at(3), targets: ordered("trx_B", ap)}.event())
		h.wantClaimed(ap, later, "evt_1", "evt_b")
	})

	t.Run("PerSink", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap, erp)
		h.settle(ap, later, map[string]string{"evt_1": relay.StateDelivered})
		h.settle(erp, later, map[string]string{"evt_1": relay.StateInFlight})
		h.wantClaimed(ap, later, "evt_2")
		h.wantClaimed(erp, later)
	})

	t.Run("Unordered", func(t *testing.T) {
		h := newHarness(t, open)
		for i, id := range []string{"evt_1", "evt_2", "evt_3"} {
			h.ingest(spec{id: id, subject: "trx_A", at: at(i), targets: to(erp)}.event())
		}
		h.wantClaimed(erp, later, "evt_1", "evt_2", "evt_3")
	})

	t.Run("RedriveWaitsBehindTheNext", func(t *testing.T) {
		h := newHarness(t, open)
		three(h, ap)
		h.settle(ap, later, map[string]string{"evt_1": relay.StateDead})
		h.wantClaimed(ap, later, "evt_2")
		if n, err := h.s.Redrive(h.ctx, relay.Redrive{IDs: []string{"evt_1"}}, later); err != nil || n != 1 {
			t.Fatalf("Redrive = %d, %v; want 1", n, err)
		}
		// evt_2 is in flight: the redriven evt_1 must not overtake it.
		h.wantClaimed(ap, later.Add(time.Hour))
		h.finish(ap, "evt_2", attempt(relay.StateDelivered, later), relay.Transition{State: relay.StateDelivered})
		got := h.claimIDs(ap, later.Add(time.Hour))
		if len(got) != 1 {
			t.Fatalf("after evt_2 was delivered: claimed %v, want exactly one of evt_1, evt_3", got)
		}
	})
}

// testOrderingLongHistory: ordering holds for a subject that already has a
// long finished history (SPEC 3: its cost per event does not grow with
// that history; the bbolt benchmark BenchmarkOrderedIngest measures it).
// After 2,000 delivered events of trx_A, new ones still wait while the
// head is in flight, waiting to retry or dead-then-redriven, are released
// in order, and name what they wait behind.
func testOrderingLongHistory(t *testing.T, open Opener) {
	h := newHarness(t, open)
	const history = 2000
	target := ordered("trx_A", ap)
	const batch = 200
	for start := 0; start < history; start += batch {
		events := make([]*relay.NewEvent, 0, batch)
		for i := start; i < start+batch; i++ {
			events = append(events, spec{id: fmt.Sprintf("old_%04d", i), subject: "trx_A", at: at(i), targets: target}.event())
		}
		h.ingest(events...)
		// One head at a time: each is claimable only once the one before
		// it is delivered.
		for i := start; i < start+batch; i++ {
			h.settle(ap, later, map[string]string{fmt.Sprintf("old_%04d", i): relay.StateDelivered})
		}
	}
	h.wantClaimed(ap, later)

	waits := func(id string) string {
		h.t.Helper()
		ds := h.delivery(id, ap)
		return ds.WaitingFor + " " + ds.WaitingForState
	}
	ingestAt := history + 1
	h.ingest(
		spec{id: "evt_1", subject: "trx_A", at: at(ingestAt), targets: target}.event(),
		spec{id: "evt_2", subject: "trx_A", at: at(ingestAt + 1), targets: target}.event(),
		spec{id: "evt_3", subject: "trx_A", at: at(ingestAt + 2), targets: target}.event(),
	)
	if got := waits("evt_2"); got != "evt_1 pending" {
		t.Errorf("evt_2 waits for %q, want evt_1 pending", got)
	}
	h.wantClaimed(ap, later, "evt_1")
	if got := waits("evt_3"); got != "evt_1 in_flight" {
		t.Errorf("evt_3 waits for %q, want evt_1 in_flight", got)
	}
	retryAt := later.Add(time.Minute)
	h.finish(ap, "evt_1", attempt(relay.StatePending, later), relay.Transition{State: relay.StatePending, NextAt: retryAt})
	h.wantClaimed(ap, retryAt.Add(-time.Second)) // nothing behind a retry is due
	h.wantClaimed(ap, retryAt, "evt_1")
	h.finish(ap, "evt_1", attempt(relay.StateDelivered, retryAt), relay.Transition{State: relay.StateDelivered})
	h.wantClaimed(ap, retryAt, "evt_2")
	h.finish(ap, "evt_2", attempt(relay.StateDead, retryAt), transition(relay.StateDead, retryAt))
	h.wantClaimed(ap, retryAt, "evt_3")
	// Redriven while evt_3 is in flight: evt_2 goes to the back and waits.
	n, err := h.s.Redrive(h.ctx, relay.Redrive{IDs: []string{"evt_2"}, Operator: "ops"}, retryAt)
	if err != nil || n != 1 {
		t.Fatalf("Redrive(evt_2) = %d, %v", n, err)
	}
	if got := waits("evt_2"); got != "evt_3 in_flight" {
		t.Errorf("redriven evt_2 waits for %q, want evt_3 in_flight", got)
	}
	h.wantClaimed(ap, retryAt)
	h.finish(ap, "evt_3", attempt(relay.StateSkipped, retryAt), transition(relay.StateSkipped, retryAt))
	h.wantClaimed(ap, retryAt, "evt_2")
	h.wantState("old_0000", ap, relay.StateDelivered)
}
