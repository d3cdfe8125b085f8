package storetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func testListDeadLetters(t *testing.T, open Opener) {
	// Five dead letters, dying a minute apart: evt_0 first.
	setup := func(t *testing.T) *harness {
		h := newHarness(t, open)
		types := []string{"transaction.sent", "payment.failed", "transaction.paid", "payment.failed", "transaction.sent"}
		sinks := []string{erp, ap, erp, erp, ap}
		for i := range 5 {
			id := fmt.Sprintf("evt_%d", i)
			h.ingest(spec{id: id, typ: types[i], at: at(i), targets: to(sinks[i])}.event())
			state := relay.StateDead
			if i == 4 {
				state = relay.StateNeedsReview
			}
			h.settle(sinks[i], later.Add(time.Duration(i)*time.Minute), map[string]string{id: state})
		}
		return h
	}
	letterIDs := func(dl []relay.DeadLetter) []string {
		out := []string{}
		for _, d := range dl {
			out = append(out, d.EventID)
		}
		return out
	}

	t.Run("Filters", func(t *testing.T) {
		h := setup(t)
		tests := []struct {
			name   string
			filter relay.DeadLetterFilter
			want   []string
		}{
			{"All", relay.DeadLetterFilter{}, []string{"evt_4", "evt_3", "evt_2", "evt_1", "evt_0"}},
			{"Sink", relay.DeadLetterFilter{Sink: ap}, []string{"evt_4", "evt_1"}},
			{"Type", relay.DeadLetterFilter{Type: "transaction.*"}, []string{"evt_4", "evt_2", "evt_0"}},
			{"Dead", relay.DeadLetterFilter{State: relay.StateDead}, []string{"evt_3", "evt_2", "evt_1", "evt_0"}},
			{"NeedsReview", relay.DeadLetterFilter{State: relay.StateNeedsReview}, []string{"evt_4"}},
			{"Since", relay.DeadLetterFilter{Since: later.Add(2 * time.Minute)}, []string{"evt_4", "evt_3", "evt_2"}},
			{"SinkAndType", relay.DeadLetterFilter{Sink: erp, Type: "payment.*"}, []string{"evt_3"}},
			{"None", relay.DeadLetterFilter{Sink: "nobody"}, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if diff := cmp.Diff(tt.want, letterIDs(h.deadLetters(tt.filter))); diff != "" {
					t.Errorf("ListDeadLetters (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		h := setup(t)
		var got []string
		f := relay.DeadLetterFilter{Limit: 2}
		for page := 0; ; page++ {
			if page == 10 {
				t.Fatal("more than 10 pages")
			}
			p, err := h.s.ListDeadLetters(h.ctx, f)
			if err != nil {
				t.Fatalf("ListDeadLetters: %v", err)
			}
			if len(p.DeadLetters) > 2 {
				t.Fatalf("page of %d, limit 2", len(p.DeadLetters))
			}
			got = append(got, letterIDs(p.DeadLetters)...)
			if p.NextCursor == "" {
				break
			}
			f.Cursor = p.NextCursor
		}
		if diff := cmp.Diff([]string{"evt_4", "evt_3", "evt_2", "evt_1", "evt_0"}, got); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})

	t.Run("ErrInvalidCursor", func(t *testing.T) {
		h := newHarness(t, open)
		_, err := h.s.ListDeadLetters(h.ctx, relay.DeadLetterFilter{Cursor: "not a cursor!"})
		wantCode(t, err, relay.EINVALID)
	})
}

func testRedrive(t *testing.T, open Opener) {
	// The fixture, as "event/sink" → state. evt_3 was delivered at erp.
	fixture := map[string]string{
		"evt_1/erp": relay.StateDead,        // transaction.sent
		"evt_2/erp": relay.StateDead,        // payment.completed
		"evt_3/erp": relay.StateDelivered,   // transaction.paid
		"evt_3/ap":  relay.StateDead,        //
		"evt_4/erp": relay.StateNeedsReview, // transaction.sent
		"evt_5/erp": relay.StateDead,        // transaction.sent
		"evt_5/ap":  relay.StateDead,        //
	}
	setup := func(t *testing.T) *harness {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_1", typ: "transaction.sent", at: at(1), targets: to(erp)}.event(),
			spec{id: "evt_2", typ: "payment.completed", at: at(2), targets: to(erp)}.event(),
			spec{id: "evt_3", typ: "transaction.paid", at: at(3), targets: to(erp, ap)}.event(),
			spec{id: "evt_4", typ: "transaction.sent", at: at(4), targets: to(erp)}.event(),
			spec{id: "evt_5", typ: "transaction.sent", at: at(5), targets: to(erp, ap)}.event(),
		)
		for _, sink := range []string{erp, ap} {
			want := map[string]string{}
			for k, state := range fixture {
				if id, s, _ := strings.Cut(k, "/"); s == sink {
					want[id] = state
				}
			}
			h.settle(sink, later, want)
		}
		return h
	}

	tests := []struct {
		name     string
		req      relay.Redrive
		want     []string // "event/sink" moved back to pending
		wantCode string
	}{
		{name: "ID", req: relay.Redrive{IDs: []string{"evt_1"}}, want: []string{"evt_1/erp"}},
		{name: "IDEverySink", req: relay.Redrive{IDs: []string{"evt_5"}}, want: []string{"evt_5/ap", "evt_5/erp"}},
		{name: "IDsOneSink", req: relay.Redrive{IDs: []string{"evt_3", "evt_5"}, Sink: ap}, want: []string{"evt_3/ap", "evt_5/ap"}},
		{name: "IDNeedsReview", req: relay.Redrive{IDs: []string{"evt_4"}}},
		{name: "IDUnknown", req: relay.Redrive{IDs: []string{"evt_nope"}}},
		{name: "Sink", req: relay.Redrive{Sink: ap}, want: []string{"evt_3/ap", "evt_5/ap"}},
		{name: "Type", req: relay.Redrive{Type: "transaction.*"}, want: []string{"evt_1/erp", "evt_3/ap", "evt_5/ap", "evt_5/erp"}},
		{name: "SinkAndType", req: relay.Redrive{Sink: erp, Type: "payment.*"}, want: []string{"evt_2/erp"}},
		{name: "All", req: relay.Redrive{All: true}, want: []string{"evt_1/erp", "evt_2/erp", "evt_3/ap", "evt_5/ap", "evt_5/erp"}},
		{name: "ErrEmpty", req: relay.Redrive{}, wantCode: relay.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t)
			n, err := h.s.Redrive(h.ctx, tt.req, later.Add(time.Hour))
			wantCode(t, err, tt.wantCode)
			if n != len(tt.want) {
				t.Errorf("redriven = %d, want %d", n, len(tt.want))
			}
			moved := map[string]bool{}
			for _, k := range tt.want {
				moved[k] = true
			}
			for k, before := range fixture {
				want := before
				if moved[k] {
					want = relay.StatePending
				}
				id, sink, _ := strings.Cut(k, "/")
				h.wantState(id, sink, want)
			}
			// Moved deliveries are due again; nothing else is.
			var claimed []string
			for _, sink := range []string{ap, erp} {
				for _, id := range h.claimIDs(sink, later.Add(time.Hour)) {
					claimed = append(claimed, id+"/"+sink)
				}
			}
			sort.Strings(claimed)
			if diff := cmp.Diff(tt.want, claimed, cmpEmpty); diff != "" {
				t.Errorf("claimable after redrive (-want +got):\n%s", diff)
			}
			if got, want := len(h.deadLetters(relay.DeadLetterFilter{})), 6-len(tt.want); got != want {
				t.Errorf("%d dead letters left, want %d", got, want)
			}
			// Everything moved back was claimed just above.
			wantSinks := map[string]relay.SinkStats{}
			for k, state := range fixture {
				_, sink, _ := strings.Cut(k, "/")
				ss := wantSinks[sink]
				switch {
				case moved[k]:
					ss.InFlight++
				case state == relay.StateDead:
					ss.Dead++
				case state == relay.StateDelivered:
					ss.Delivered++
				case state == relay.StateNeedsReview:
					ss.NeedsReview++
				}
				wantSinks[sink] = ss
			}
			h.wantSinks(later.Add(time.Hour), wantSinks)
		})
	}

	t.Run("KeepsEventAndHistory", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		h.settle(erp, later, map[string]string{"evt_1": relay.StatePending})
		h.settle(erp, later.Add(24*time.Hour), map[string]string{"evt_1": relay.StateDead})
		redriveAt := later.Add(48 * time.Hour)
		n, err := h.s.Redrive(h.ctx, relay.Redrive{IDs: []string{"evt_1"}, Operator: "ops@example.com"}, redriveAt)
		if err != nil || n != 1 {
			t.Fatalf("Redrive = %d, %v; want 1", n, err)
		}
		d := h.get("evt_1")
		if d.ID != "evt_1" || d.Status != relay.StatusPending {
			t.Errorf("event %s status %q, want evt_1 pending", d.ID, d.Status)
		}
		ds := h.delivery("evt_1", erp)
		if ds.Attempts != 2 || len(ds.History) != 2 {
			t.Errorf("attempts %d, history %d; want the 2 earlier attempts kept", ds.Attempts, len(ds.History))
		}
		if !hasOperation(d, "redrive", erp, "ops@example.com") {
			t.Errorf("operations = %+v, want the redrive recorded", d.Operations)
		}
		c := h.wantClaimed(erp, redriveAt, "evt_1")[0]
		if c.ScheduleAttempt != 1 || c.Attempt != 3 {
			t.Errorf("redriven claim: schedule attempt %d, attempt %d; want 1, 3", c.ScheduleAttempt, c.Attempt)
		}
		h.finish(erp, "evt_1", attempt(relay.StatePending, redriveAt), relay.Transition{State: relay.StatePending, NextAt: redriveAt})
		if c := h.wantClaimed(erp, redriveAt, "evt_1")[0]; c.ScheduleAttempt != 2 {
			t.Errorf("retry after redrive: schedule attempt %d, want 2", c.ScheduleAttempt)
		}
		if n, err := h.s.Redrive(h.ctx, relay.Redrive{All: true}, redriveAt); err != nil || n != 0 {
			t.Errorf("Redrive(all) with nothing dead = %d, %v; want 0", n, err)
		}
	})
}
