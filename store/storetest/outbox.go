package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func testClaimDue(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		h := newHarness(t, open)
		e := spec{id: "evt_1", at: at(0), targets: to(erp)}.event()
		h.ingest(e)
		claims := h.wantClaimed(erp, later, "evt_1")
		want := relay.Claim{
			Outbound: relay.Outbound{
				EventID: "evt_1", Sink: erp, Type: "transaction.sent", Subject: "trx_evt_1",
				Event: e.Event, Data: dataOf(t, e), Delivery: e.Delivery, Attempt: 1,
			},
			ScheduleAttempt: 1,
		}
		if diff := cmp.Diff(want, claims[0]); diff != "" {
			t.Errorf("claim (-want +got):\n%s", diff)
		}
	})

	t.Run("DueOrder", func(t *testing.T) {
		h := newHarness(t, open)
		// Ingested out of receive order: due order is receive order.
		h.ingest(
			spec{id: "evt_c", at: at(2), targets: to(erp)}.event(),
			spec{id: "evt_a", at: at(0), targets: to(erp)}.event(),
			spec{id: "evt_b", at: at(1), targets: to(erp)}.event(),
		)
		h.wantClaimed(erp, later, "evt_a", "evt_b", "evt_c")
	})

	t.Run("InFlightNotClaimable", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp, ap)}.event())
		h.wantClaimed(erp, later, "evt_1")
		h.wantClaimed(erp, later.Add(time.Hour))
		h.wantState("evt_1", erp, relay.StateInFlight)
		h.wantState("evt_1", ap, relay.StatePending)
		h.wantStatus("evt_1", relay.StatusPending)
		// Another sink's entry is its own.
		h.wantClaimed(ap, later, "evt_1")
	})

	t.Run("Max", func(t *testing.T) {
		h := newHarness(t, open)
		for i := range 5 {
			h.ingest(spec{id: fmt.Sprintf("evt_%d", i), at: at(i), targets: to(erp)}.event())
		}
		claims, next := h.claimNext(erp, later, 2)
		if diff := cmp.Diff([]string{"evt_0", "evt_1"}, ids(claims)); diff != "" {
			t.Fatalf("first claim (-want +got):\n%s", diff)
		}
		if next.IsZero() || next.After(later) {
			t.Errorf("next = %v with due entries left, want a time not after %v", next, later)
		}
		h.wantClaimed(erp, later, "evt_2", "evt_3", "evt_4")
	})

	t.Run("NextDue", func(t *testing.T) {
		h := newHarness(t, open)
		future := later.Add(10 * time.Minute)
		h.ingest(
			spec{id: "evt_now", at: at(0), targets: to(erp)}.event(),
			spec{id: "evt_future", at: future, targets: to(erp)}.event(),
		)
		claims, next := h.claimNext(erp, later, 10)
		if diff := cmp.Diff([]string{"evt_now"}, ids(claims)); diff != "" {
			t.Fatalf("claim (-want +got):\n%s", diff)
		}
		if !next.Equal(future) {
			t.Errorf("next = %v, want %v", next, future)
		}
		claims, next = h.claimNext(erp, future, 10)
		if diff := cmp.Diff([]string{"evt_future"}, ids(claims)); diff != "" {
			t.Fatalf("claim at the due time (-want +got):\n%s", diff)
		}
		if !next.IsZero() {
			t.Errorf("next = %v with nothing waiting, want zero", next)
		}
	})

	t.Run("UnknownSink", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		claims, next := h.claimNext("nobody", later, 10)
		if len(claims) != 0 || !next.IsZero() {
			t.Errorf("ClaimDue(nobody) = %v, %v; want nothing", ids(claims), next)
		}
	})
}

func testFinish(t *testing.T, open Opener) {
	t.Run("Delivered", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", subject: "trx_1", targets: to(ap)}.event())
		h.wantClaimed(ap, later, "evt_1")
		a := attempt(relay.StateDelivered, later)
		doc := relay.CreatedDocument{Sink: ap, Subject: "trx_1", EventID: "evt_1", DocumentNumber: "00004/FPJ/07/29", CreatedAt: later}
		h.finish(ap, "evt_1", a, relay.Transition{
			State: relay.StateDelivered, Result: map[string]string{"document_number": doc.DocumentNumber}, Created: &doc,
		})
		d := h.get("evt_1")
		if d.Status != relay.StatusDelivered {
			t.Errorf("status = %q, want delivered", d.Status)
		}
		want := relay.DeliveryState{
			Sink: ap, State: relay.StateDelivered, Attempts: 1, LastStatus: 201,
			Result: map[string]string{"document_number": doc.DocumentNumber}, History: []relay.Attempt{a},
		}
		if diff := cmp.Diff(want, d.Deliveries[0], ignoreUpdatedAt); diff != "" {
			t.Errorf("delivery (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]relay.CreatedDocument{doc}, d.Created); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}
		h.wantClaimed(ap, later.Add(time.Hour))

		// Later events of the subject see the record at that sink only.
		h.ingest(
			spec{id: "evt_2", subject: "trx_1", at: at(10), targets: to(ap, erp)}.event(),
			spec{id: "evt_3", subject: "trx_2", at: at(20), targets: to(ap)}.event(),
		)
		claims := h.wantClaimed(ap, later, "evt_2", "evt_3")
		if diff := cmp.Diff(&doc, claims[0].Created); diff != "" {
			t.Errorf("claim of the same subject: created (-want +got):\n%s", diff)
		}
		if claims[1].Created != nil {
			t.Errorf("claim of another subject: created = %+v, want nil", claims[1].Created)
		}
		if c := h.wantClaimed(erp, later, "evt_2"); c[0].Created != nil {
			t.Errorf("claim at another sink: created = %+v, want nil", c[0].Created)
		}
	})

	t.Run("Retry", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		h.wantClaimed(erp, later, "evt_1")
		retryAt := later.Add(5 * time.Minute)
		a := attempt(relay.StatePending, later)
		h.finish(erp, "evt_1", a, relay.Transition{State: relay.StatePending, NextAt: retryAt})
		ds := h.delivery("evt_1", erp)
		if ds.State != relay.StatePending || ds.Attempts != 1 || ds.LastError != a.Error || ds.LastStatus != 503 {
			t.Errorf("delivery = %+v, want pending after 1 attempt with the last error", ds)
		}
		if ds.NextAttemptAt == nil || !ds.NextAttemptAt.Equal(retryAt) {
			t.Errorf("next attempt at = %v, want %v", ds.NextAttemptAt, retryAt)
		}
		claims, next := h.claimNext(erp, retryAt.Add(-time.Nanosecond), 10)
		if len(claims) != 0 {
			t.Fatalf("claimed %v before the retry time", ids(claims))
		}
		if !next.Equal(retryAt) {
			t.Errorf("next = %v, want %v", next, retryAt)
		}
		for n := 2; n <= 3; n++ {
			c := h.wantClaimed(erp, retryAt, "evt_1")[0]
			if c.Attempt != n || c.ScheduleAttempt != n {
				t.Errorf("retry: attempt %d, schedule attempt %d; want %d, %d", c.Attempt, c.ScheduleAttempt, n, n)
			}
			retryAt = retryAt.Add(time.Minute)
			h.finish(erp, "evt_1", attempt(relay.StatePending, retryAt), relay.Transition{State: relay.StatePending, NextAt: retryAt})
		}
		if got := len(h.delivery("evt_1", erp).History); got != 3 {
			t.Errorf("history has %d attempts, want 3", got)
		}
		h.wantStatus("evt_1", relay.StatusPending)
	})

	t.Run("RetryAfterUnknown", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		h.wantClaimed(erp, later, "evt_1")
		h.finish(erp, "evt_1", attempt(relay.StateNeedsReview, later), relay.Transition{State: relay.StatePending, NextAt: later, PriorUnknown: true})
		if c := h.wantClaimed(erp, later, "evt_1")[0]; !c.PriorUnknown {
			t.Error("claim after an unknown outcome: PriorUnknown = false, want true")
		}
		h.finish(erp, "evt_1", attempt(relay.StatePending, later), relay.Transition{State: relay.StatePending, NextAt: later})
		if c := h.wantClaimed(erp, later, "evt_1")[0]; c.PriorUnknown {
			t.Error("claim after a known failure: PriorUnknown = true, want false")
		}
	})

	t.Run("PriorUnknownAt", func(t *testing.T) {
		// When the unknown attempt began travels with PriorUnknown from
		// Finish to every later claim, is shown on the delivery, and is
		// dropped with it.
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		h.wantClaimed(erp, later, "evt_1")
		began := later.Add(-3 * time.Second)
		look := later.Add(15 * time.Second)
		h.finish(erp, "evt_1", attempt(relay.StateNeedsReview, began), relay.Transition{State: relay.StatePending, NextAt: look, PriorUnknown: true, PriorUnknownAt: began})
		if ds := h.delivery("evt_1", erp); !ds.PriorUnknownAt.Equal(began) {
			t.Errorf("delivery prior_unknown_at = %v, want %v", ds.PriorUnknownAt, began)
		}
		c := h.wantClaimed(erp, look, "evt_1")[0]
		if !c.PriorUnknown || !c.PriorUnknownAt.Equal(began) {
			t.Errorf("claim: PriorUnknown %v at %v, want true at %v", c.PriorUnknown, c.PriorUnknownAt, began)
		}
		h.finish(erp, "evt_1", attempt(relay.StatePending, look), relay.Transition{State: relay.StatePending, NextAt: look})
		c = h.wantClaimed(erp, look, "evt_1")[0]
		if c.PriorUnknown || !c.PriorUnknownAt.IsZero() {
			t.Errorf("claim after the unknown outcome was settled: PriorUnknown %v at %v, want false at zero", c.PriorUnknown, c.PriorUnknownAt)
		}
	})

	t.Run("KeepSchedule", func(t *testing.T) {
		// Attempts with KeepSchedule are counted and recorded but leave the
		// schedule where it was: look-ups cannot spend it.
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		h.wantClaimed(erp, later, "evt_1")
		h.finish(erp, "evt_1", attempt(relay.StatePending, later), relay.Transition{State: relay.StatePending, NextAt: later})
		for n := 2; n <= 4; n++ {
			c := h.wantClaimed(erp, later, "evt_1")[0]
			if c.Attempt != n || c.ScheduleAttempt != 2 {
				t.Errorf("claim: attempt %d, schedule attempt %d; want %d, 2", c.Attempt, c.ScheduleAttempt, n)
			}
			h.finish(erp, "evt_1", attempt(relay.StatePending, later), relay.Transition{State: relay.StatePending, NextAt: later, KeepSchedule: true})
		}
		h.wantClaimed(erp, later, "evt_1")
		h.finish(erp, "evt_1", attempt(relay.StatePending, later), relay.Transition{State: relay.StatePending, NextAt: later})
		if c := h.wantClaimed(erp, later, "evt_1")[0]; c.Attempt != 6 || c.ScheduleAttempt != 3 {
			t.Errorf("claim after a counted attempt: attempt %d, schedule attempt %d; want 6, 3", c.Attempt, c.ScheduleAttempt)
		}
		if ds := h.delivery("evt_1", erp); ds.Attempts != 5 || len(ds.History) != 5 {
			t.Errorf("delivery: %d attempts, %d in history; want 5, 5", ds.Attempts, len(ds.History))
		}
	})

	t.Run("Dead", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", typ: "transaction.paid", targets: to(erp)}.event())
		h.settle(erp, later, map[string]string{"evt_1": relay.StateDead})
		h.wantStatus("evt_1", relay.StatusDead)
		want := []relay.DeadLetter{{
			EventID: "evt_1", Sink: erp, Source: relay.DefaultSource, State: relay.StateDead, Type: "transaction.paid", Subject: "trx_evt_1",
			Attempts: 1, Reason: "422: customer not found", LastStatus: 422, DeadAt: later,
		}}
		if diff := cmp.Diff(want, h.deadLetters(relay.DeadLetterFilter{})); diff != "" {
			t.Errorf("dead letters (-want +got):\n%s", diff)
		}
		h.wantClaimed(erp, later.Add(48*time.Hour))
	})

	t.Run("NeedsReview", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(ap)}.event())
		h.settle(ap, later, map[string]string{"evt_1": relay.StateNeedsReview})
		h.wantStatus("evt_1", relay.StatusNeedsReview)
		dl := h.deadLetters(relay.DeadLetterFilter{State: relay.StateNeedsReview})
		if len(dl) != 1 || dl[0].EventID != "evt_1" || dl[0].State != relay.StateNeedsReview || dl[0].Reason == "" {
			t.Errorf("needs-review letters = %+v, want evt_1 with its reason", dl)
		}
		if dl := h.deadLetters(relay.DeadLetterFilter{State: relay.StateDead}); len(dl) != 0 {
			t.Errorf("dead letters = %+v, want none", dl)
		}
		h.wantClaimed(ap, later.Add(48*time.Hour))
	})

	t.Run("Skipped", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(ap)}.event())
		h.settle(ap, later, map[string]string{"evt_1": relay.StateSkipped})
		h.wantState("evt_1", ap, relay.StateSkipped)
		h.wantStatus("evt_1", relay.StatusDelivered)
		if dl := h.deadLetters(relay.DeadLetterFilter{}); len(dl) != 0 {
			t.Errorf("dead letters = %+v, want none", dl)
		}
		h.wantClaimed(ap, later.Add(48*time.Hour))
	})

	t.Run("ErrConflict", func(t *testing.T) {
		tests := []struct {
			name  string
			state string // what the delivery is before Finish
		}{
			{"Pending", relay.StatePending},
			{"Retrying", "retry"},
			{"Delivered", relay.StateDelivered},
			{"Dead", relay.StateDead},
			{"NeedsReview", relay.StateNeedsReview},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, open)
				h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
				switch tt.state {
				case relay.StatePending:
				case "retry":
					h.settle(erp, later, map[string]string{"evt_1": relay.StatePending})
				default:
					h.settle(erp, later, map[string]string{"evt_1": tt.state})
				}
				before := h.delivery("evt_1", erp)
				err := h.s.Finish(h.ctx, erp, "evt_1", attempt(relay.StateDelivered, later), relay.Transition{State: relay.StateDelivered})
				wantCode(t, err, relay.ECONFLICT)
				if diff := cmp.Diff(before, h.delivery("evt_1", erp)); diff != "" {
					t.Errorf("a refused Finish changed the delivery (-before +after):\n%s", diff)
				}
			})
		}
	})
}

func testResumeInFlight(t *testing.T, open Opener) {
	resume := func(h *harness, sink string, review bool, now time.Time) int {
		h.t.Helper()
		n, err := h.s.ResumeInFlight(h.ctx, sink, review, now)
		if err != nil {
			h.t.Fatalf("ResumeInFlight(%s, %v): %v", sink, review, err)
		}
		return n
	}

	t.Run("Retry", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_1", at: at(0), targets: to(erp, ap)}.event(),
			spec{id: "evt_2", at: at(1), targets: to(erp)}.event(),
		)
		h.settle(erp, later, map[string]string{"evt_1": relay.StateInFlight, "evt_2": relay.StateDelivered})
		h.wantClaimed(ap, later, "evt_1")
		h.ingest(spec{id: "evt_3", at: at(2), targets: to(erp)}.event())

		restart := later.Add(time.Minute)
		if n := resume(h, erp, false, restart); n != 1 {
			t.Errorf("resumed %d, want 1", n)
		}
		h.wantState("evt_1", erp, relay.StatePending)
		h.wantState("evt_1", ap, relay.StateInFlight) // another sink's claim is untouched
		h.wantState("evt_2", erp, relay.StateDelivered)
		// evt_3 was due since its receipt, evt_1 again since the restart.
		claims := h.wantClaimed(erp, restart, "evt_3", "evt_1")
		if !claims[1].PriorUnknown || !claims[1].PriorUnknownAt.Equal(restart) {
			t.Errorf("resumed claim: PriorUnknown %v at %v, want true at the restart, %v", claims[1].PriorUnknown, claims[1].PriorUnknownAt, restart)
		}
		if claims[0].PriorUnknown {
			t.Error("fresh claim: PriorUnknown = true, want false")
		}
	})

	t.Run("Review", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_1", at: at(0), targets: to(ap)}.event(),
			spec{id: "evt_2", at: at(1), targets: to(ap)}.event(),
		)
		h.settle(ap, later, map[string]string{"evt_1": relay.StateInFlight, "evt_2": relay.StatePending})
		if n := resume(h, ap, true, later.Add(time.Minute)); n != 1 {
			t.Errorf("resumed %d, want 1", n)
		}
		h.wantState("evt_1", ap, relay.StateNeedsReview)
		h.wantState("evt_2", ap, relay.StatePending)
		h.wantStatus("evt_1", relay.StatusNeedsReview)
		dl := h.deadLetters(relay.DeadLetterFilter{})
		if len(dl) != 1 || dl[0].EventID != "evt_1" || dl[0].State != relay.StateNeedsReview {
			t.Errorf("dead letters = %+v, want evt_1 needing review", dl)
		}
		h.wantClaimed(ap, later.Add(time.Hour))
		if n := resume(h, ap, true, later.Add(time.Hour)); n != 0 {
			t.Errorf("second resume: %d, want 0", n)
		}
	})
}
