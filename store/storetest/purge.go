package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func testPurge(t *testing.T, open Opener) {
	cutoff := t0.Add(time.Minute)
	// purgeAll calls Purge with max until it reports Done.
	purgeAll := func(h *harness, max int) int {
		h.t.Helper()
		total := 0
		for range 100 {
			res, err := h.s.Purge(h.ctx, cutoff, max)
			if err != nil {
				h.t.Fatalf("Purge: %v", err)
			}
			if res.Events > max {
				h.t.Fatalf("Purge(max %d) removed %d", max, res.Events)
			}
			total += res.Events
			if res.Done {
				return total
			}
		}
		h.t.Fatal("Purge not done after 100 calls")
		return 0
	}

	t.Run("OK", func(t *testing.T) {
		h := newHarness(t, open)
		doc := relay.CreatedDocument{Sink: ap, Subject: "trx_C", EventID: "old_created", DocumentNumber: "INV-9", CreatedAt: later}
		h.ingest(
			spec{id: "old_delivered", at: at(0), targets: to(erp)}.event(),
			spec{id: "old_unrouted", at: at(1)}.event(),
			unparsed("old_unparsed", at(2), "garbage"),
			spec{id: "old_skipped", at: at(3), targets: to(ap)}.event(),
			spec{id: "old_created", subject: "trx_C", at: at(4), targets: to(ap)}.event(),
			spec{id: "old_pending", at: at(5), targets: to(erp)}.event(),
			spec{id: "old_inflight", at: at(6), targets: to(erp)}.event(),
			spec{id: "old_dead", at: at(7), targets: to(erp)}.event(),
			spec{id: "old_review", at: at(8), targets: to(ap)}.event(),
			spec{id: "old_partly", at: at(9), targets: to(erp, ap)}.event(),
			spec{id: "new_delivered", at: cutoff, targets: to(erp)}.event(),
			spec{id: "new_unrouted", at: cutoff.Add(time.Second)}.event(),
		)
		h.settle(erp, later, map[string]string{
			"old_delivered": relay.StateDelivered, "old_pending": relay.StatePending, "old_inflight": relay.StateInFlight,
			"old_dead": relay.StateDead, "old_partly": relay.StateDelivered, "new_delivered": relay.StateDelivered,
		})
		h.wantClaimed(ap, later, "old_skipped", "old_created", "old_review", "old_partly")
		h.finish(ap, "old_skipped", attempt(relay.StateSkipped, later), transition(relay.StateSkipped, later))
		h.finish(ap, "old_created", attempt(relay.StateDelivered, later), relay.Transition{State: relay.StateDelivered, Created: &doc})
		h.finish(ap, "old_review", attempt(relay.StateNeedsReview, later), transition(relay.StateNeedsReview, later))

		if n := purgeAll(h, 1); n != 5 {
			t.Errorf("purged %d events, want 5", n)
		}
		for _, id := range []string{"old_delivered", "old_unrouted", "old_unparsed", "old_skipped", "old_created"} {
			_, err := h.s.GetEvent(h.ctx, id)
			wantCode(t, err, relay.ENOTFOUND)
		}
		kept := []string{"new_unrouted", "new_delivered", "old_partly", "old_review", "old_dead", "old_inflight", "old_pending"}
		got, _ := h.listAll(relay.EventFilter{})
		if diff := cmp.Diff(kept, got); diff != "" {
			t.Errorf("events left (-want +got):\n%s", diff)
		}
		for _, id := range kept {
			h.get(id)
		}
		if got := h.export(relay.ExportFilter{}); len(got) != len(kept) {
			t.Errorf("export after purge: %d records, want %d", len(got), len(kept))
		}
		wantCounts := map[string]int64{
			relay.StatusPending: 3, relay.StatusDead: 1, relay.StatusNeedsReview: 1,
			relay.StatusDelivered: 1, relay.StatusUnrouted: 1,
		}
		if diff := cmp.Diff(wantCounts, h.eventCounts(later)); diff != "" {
			t.Errorf("event counts after purge (-want +got):\n%s", diff)
		}
		st := h.stats(later)
		// The last hour's attempt counts are not events: a purge leaves
		// them (the delivered attempts at later).
		wantSinks := map[string]relay.SinkStats{
			erp: {Pending: 1, InFlight: 1, Delivered: 2, Dead: 1, DeliveredLastHour: 3},
			ap:  {InFlight: 1, NeedsReview: 1, DeliveredLastHour: 1},
		}
		if diff := cmp.Diff(wantSinks, st.Sinks, cmpopts.IgnoreFields(relay.SinkStats{}, "OldestPendingAge")); diff != "" {
			t.Errorf("sink counts after purge (-want +got):\n%s", diff)
		}

		// The dedup key went with the event; the create-once record did not.
		if got := h.ingestStatus(spec{id: "old_delivered", at: later}.event()); got != relay.IngestAccepted {
			t.Errorf("Ingest of a purged id = %q, want accepted", got)
		}
		h.ingest(spec{id: "evt_next", subject: "trx_C", at: later, targets: to(ap)}.event())
		claims := h.claim(ap, later, 1000)
		var next *relay.Claim
		for i := range claims {
			if claims[i].EventID == "evt_next" {
				next = &claims[i]
			}
		}
		if next == nil {
			t.Fatalf("evt_next not claimable; claimed %v", ids(claims))
		}
		if diff := cmp.Diff(&doc, next.Created); diff != "" {
			t.Errorf("create-once record after purge (-want +got):\n%s", diff)
		}

		res, err := h.s.Purge(h.ctx, cutoff, 10)
		if err != nil || res.Events != 0 || !res.Done {
			t.Errorf("Purge with nothing to do = %+v, %v; want 0 events, done", res, err)
		}
	})

	t.Run("Batches", func(t *testing.T) {
		h := newHarness(t, open)
		events := make([]*relay.NewEvent, 60)
		for i := range events {
			events[i] = spec{id: "evt_" + string(rune('A'+i/26)) + string(rune('a'+i%26)), at: at(i)}.event()
		}
		events = append(events, spec{id: "evt_keep", at: at(100), targets: to(erp)}.event())
		h.ingestConcurrently(events, 8)
		if n := purgeAll(h, 7); n != 60 {
			t.Errorf("purged %d, want 60", n)
		}
		got, _ := h.listAll(relay.EventFilter{})
		if diff := cmp.Diff([]string{"evt_keep"}, got); diff != "" {
			t.Errorf("events left (-want +got):\n%s", diff)
		}
	})
}
