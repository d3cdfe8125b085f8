package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func testReplay(t *testing.T, open Opener) {
	replayAt := later.Add(2 * time.Hour)

	t.Run("SameSink", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		h.settle(erp, later, map[string]string{"evt_1": relay.StateDelivered})
		if err := h.replay("evt_1", relay.OutboxTarget{Sink: erp}, "dev@example.com", replayAt); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		h.wantState("evt_1", erp, relay.StatePending)
		h.wantStatus("evt_1", relay.StatusPending)
		h.wantSinks(replayAt, map[string]relay.SinkStats{erp: {Pending: 1}})
		d := h.get("evt_1")
		if !hasOperation(d, "replay", erp, "dev@example.com") {
			t.Errorf("operations = %+v, want the replay recorded", d.Operations)
		}
		if got := len(d.Deliveries[0].History); got != 1 {
			t.Errorf("history has %d attempts, want the earlier one kept", got)
		}
		c := h.wantClaimed(erp, replayAt, "evt_1")[0]
		if c.ScheduleAttempt != 1 {
			t.Errorf("replayed claim: schedule attempt %d, want 1", c.ScheduleAttempt)
		}
		h.finish(erp, "evt_1", attempt(relay.StateDelivered, replayAt), relay.Transition{State: relay.StateDelivered})
		h.wantStatus("evt_1", relay.StatusDelivered)
	})

	t.Run("NewSink", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		h.settle(erp, later, map[string]string{"evt_1": relay.StateDelivered})
		if err := h.replay("evt_1", relay.OutboxTarget{Sink: "archive"}, "dev", replayAt); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		d := h.get("evt_1")
		if diff := cmp.Diff(map[string]string{erp: relay.StateDelivered, "archive": relay.StatePending}, states(d)); diff != "" {
			t.Errorf("delivery states (-want +got):\n%s", diff)
		}
		if d.Status != relay.StatusPending {
			t.Errorf("status = %q, want pending", d.Status)
		}
		if !hasOperation(d, "replay", "archive", "dev") {
			t.Errorf("operations = %+v, want the replay recorded", d.Operations)
		}
		h.wantClaimed("archive", replayAt, "evt_1")
		h.wantClaimed(erp, replayAt)
	})

	t.Run("Unrouted", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1"}.event())
		if err := h.replay("evt_1", relay.OutboxTarget{Sink: erp}, "dev", replayAt); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		h.wantStatus("evt_1", relay.StatusPending)
		h.wantClaimed(erp, replayAt, "evt_1")
		if diff := cmp.Diff(map[string]int64{relay.StatusPending: 1}, h.eventCounts(replayAt)); diff != "" {
			t.Errorf("event counts (-want +got):\n%s", diff)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		tests := []struct {
			name     string
			id       string
			state    string // of evt_1's delivery to erp before the replay
			wantCode string
		}{
			{"Pending", "evt_1", relay.StatePending, relay.ECONFLICT},
			{"InFlight", "evt_1", relay.StateInFlight, relay.ECONFLICT},
			{"Retrying", "evt_1", "retry", relay.ECONFLICT},
			{"NeedsReview", "evt_1", relay.StateNeedsReview, relay.ECONFLICT},
			{"NotFound", "evt_nope", relay.StatePending, relay.ENOTFOUND},
			{"Unparsed", "evt_raw", relay.StatePending, relay.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, open)
				h.ingest(spec{id: "evt_1", targets: to(erp)}.event(), unparsed("evt_raw", t0, "???"))
				switch tt.state {
				case relay.StatePending:
				case "retry":
					h.settle(erp, later, map[string]string{"evt_1": relay.StatePending})
				default:
					h.settle(erp, later, map[string]string{"evt_1": tt.state})
				}
				before := h.get("evt_1")
				err := h.replay(tt.id, relay.OutboxTarget{Sink: erp}, "dev", replayAt)
				wantCode(t, err, tt.wantCode)
				if diff := cmp.Diff(before, h.get("evt_1")); diff != "" {
					t.Errorf("a refused replay changed the event (-before +after):\n%s", diff)
				}
			})
		}
	})
}

func testResolve(t *testing.T, open Opener) {
	resolveAt := later.Add(3 * time.Hour)
	// evt_1 needs review at ap; evt_2, the same subject, waits behind it.
	setup := func(t *testing.T) *harness {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_1", subject: "trx_1", at: at(0), targets: ordered("trx_1", ap)}.event(),
			spec{id: "evt_2", subject: "trx_1", at: at(1), targets: ordered("trx_1", ap)}.event(),
		)
		h.settle(ap, later, map[string]string{"evt_1": relay.StateNeedsReview})
		return h
	}

	t.Run("Delivered", func(t *testing.T) {
		h := setup(t)
		err := h.s.Resolve(h.ctx, "evt_1", relay.Resolution{
			Sink: ap, Outcome: "delivered", Result: map[string]string{"document_number": "INV-2026-0042"}, Operator: "ops",
		}, resolveAt)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		d := h.get("evt_1")
		if d.Status != relay.StatusDelivered {
			t.Errorf("status = %q, want delivered", d.Status)
		}
		ds := h.delivery("evt_1", ap)
		if ds.State != relay.StateDelivered || ds.Result["document_number"] != "INV-2026-0042" {
			t.Errorf("delivery = %+v, want delivered with the document number", ds)
		}
		wantDoc := relay.CreatedDocument{Sink: ap, Subject: "trx_1", EventID: "evt_1", DocumentNumber: "INV-2026-0042", CreatedAt: resolveAt}
		if diff := cmp.Diff([]relay.CreatedDocument{wantDoc}, d.Created); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}
		if !hasOperation(d, "resolve", ap, "ops") {
			t.Errorf("operations = %+v, want the resolve recorded", d.Operations)
		}
		if dl := h.deadLetters(relay.DeadLetterFilter{}); len(dl) != 0 {
			t.Errorf("dead letters = %+v, want none", dl)
		}
		h.wantSinks(resolveAt, map[string]relay.SinkStats{ap: {Delivered: 1, Pending: 1}})
		c := h.wantClaimed(ap, resolveAt, "evt_2")[0]
		if diff := cmp.Diff(&wantDoc, c.Created); diff != "" {
			t.Errorf("next claim of the subject: created (-want +got):\n%s", diff)
		}
	})

	t.Run("Retry", func(t *testing.T) {
		h := setup(t)
		if err := h.s.Resolve(h.ctx, "evt_1", relay.Resolution{Sink: ap, Outcome: "retry", Operator: "ops"}, resolveAt); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		h.wantState("evt_1", ap, relay.StatePending)
		if dl := h.deadLetters(relay.DeadLetterFilter{}); len(dl) != 0 {
			t.Errorf("dead letters = %+v, want none", dl)
		}
		h.wantSinks(resolveAt, map[string]relay.SinkStats{ap: {Pending: 2}})
		c := h.wantClaimed(ap, resolveAt, "evt_1")[0]
		if c.ScheduleAttempt != 1 || c.Attempt != 2 || c.Created != nil {
			t.Errorf("claim: schedule attempt %d, attempt %d, created %v; want 1, 2, nil", c.ScheduleAttempt, c.Attempt, c.Created)
		}
		if d := h.get("evt_1"); !hasOperation(d, "resolve", ap, "ops") {
			t.Errorf("operations = %+v, want the resolve recorded", d.Operations)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		tests := []struct {
			name     string
			id       string
			res      relay.Resolution
			wantCode string
		}{
			{"NotNeedsReview", "evt_2", relay.Resolution{Sink: ap, Outcome: "delivered"}, relay.ECONFLICT},
			{"NotNeedsReviewRetry", "evt_2", relay.Resolution{Sink: ap, Outcome: "retry"}, relay.ECONFLICT},
			{"BadOutcome", "evt_1", relay.Resolution{Sink: ap, Outcome: "ignore"}, relay.EINVALID},
			{"NoOutcome", "evt_1", relay.Resolution{Sink: ap}, relay.EINVALID},
			{"UnknownEvent", "evt_nope", relay.Resolution{Sink: ap, Outcome: "retry"}, relay.ENOTFOUND},
			{"UnknownSink", "evt_1", relay.Resolution{Sink: "nobody", Outcome: "retry"}, relay.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := setup(t)
				err := h.s.Resolve(h.ctx, tt.id, tt.res, resolveAt)
				wantCode(t, err, tt.wantCode)
				h.wantState("evt_1", ap, relay.StateNeedsReview)
				h.wantState("evt_2", ap, relay.StatePending)
				h.wantClaimed(ap, resolveAt)
			})
		}
	})

	t.Run("ResolvedTwice", func(t *testing.T) {
		h := setup(t)
		res := relay.Resolution{Sink: ap, Outcome: "delivered", Result: map[string]string{"document_number": "INV-1"}}
		if err := h.s.Resolve(h.ctx, "evt_1", res, resolveAt); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		wantCode(t, h.s.Resolve(h.ctx, "evt_1", res, resolveAt), relay.ECONFLICT)
	})
}
