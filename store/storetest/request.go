package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// testAttemptRequest: the request body an attempt sent is kept on the
// attempt through Finish, exactly, and only on the latest attempt that
// sent one.
func testAttemptRequest(t *testing.T, open Opener) {
	t.Run("KeptOnTheAttempt", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", subject: "trx_1", targets: to(ap)}.event())
		h.wantClaimed(ap, later, "evt_1")
		body := json.RawMessage(`{"customer_name":"PT Maju Jaya","document_date":"02/03/2026","items":[{"quantity":2,"unit_price":9007199254740993}]}`)
		a := attempt(relay.StateNeedsReview, later)
		a.Request = body
		h.finish(ap, "evt_1", a, transition(relay.StateNeedsReview, later))
		ds := h.delivery("evt_1", ap)
		if diff := cmp.Diff([]relay.Attempt{a}, ds.History); diff != "" {
			t.Fatalf("history (-want +got):\n%s", diff)
		}
		if got := relay.LastRequest(ds.History); got == nil || string(got.Request) != string(body) {
			t.Errorf("last request = %v, want the body byte for byte", got)
		}
	})

	t.Run("Truncated", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(ap)}.event())
		h.wantClaimed(ap, later, "evt_1")
		a := attempt(relay.StateNeedsReview, later)
		a.Request, a.RequestTruncated = json.RawMessage(`"{\"customer_name\":\"PT Maju"`), true
		h.finish(ap, "evt_1", a, transition(relay.StateNeedsReview, later))
		got := h.delivery("evt_1", ap).History[0]
		if string(got.Request) != string(a.Request) || !got.RequestTruncated {
			t.Errorf("attempt request = %s (truncated %v), want %s (truncated)", got.Request, got.RequestTruncated, a.Request)
		}
	})

	t.Run("OnlyTheLatest", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(erp)}.event())
		now := later
		for _, body := range []string{`{"n":1}`, `{"n":2}`, ``} {
			h.wantClaimed(erp, now, "evt_1")
			a := attempt(relay.StatePending, now)
			a.Request = json.RawMessage(body)
			if body == "" {
				a.Request, a.Action = nil, "lookup"
			}
			h.finish(erp, "evt_1", a, relay.Transition{State: relay.StatePending, NextAt: now.Add(time.Minute)})
			now = now.Add(time.Minute)
		}
		hist := h.delivery("evt_1", erp).History
		var got []string
		for _, a := range hist {
			got = append(got, string(a.Request))
		}
		if diff := cmp.Diff([]string{"", `{"n":2}`, ""}, got); diff != "" {
			t.Errorf("requests kept per attempt (-want +got):\n%s", diff)
		}
		if lr := relay.LastRequest(hist); lr == nil || string(lr.Request) != `{"n":2}` {
			t.Errorf("LastRequest = %v, want the second attempt's body", lr)
		}
	})
}

// testSearchReturned: an event is found by the document number a sink
// returned for it, as a case-insensitive substring like TagihanAI's own
// document number, on delivery and on an operator's resolve; retention
// removes the key with the event.
func testSearchReturned(t *testing.T, open Opener) {
	t.Run("Delivered", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_1", subject: "trx_1", doc: "INV/2026/001", at: at(0), targets: to(ap)}.event(),
			spec{id: "evt_2", subject: "trx_2", doc: "INV/2026/002", at: at(1), targets: to(ap)}.event(),
		)
		h.wantClaimed(ap, later, "evt_1", "evt_2")
		h.finish(ap, "evt_1", attempt(relay.StateDelivered, later), relay.Transition{
			State: relay.StateDelivered, Result: map[string]string{"document_number": "00004/FPJ/07/29"},
		})
		h.finish(ap, "evt_2", attempt(relay.StateDelivered, later), relay.Transition{
			State: relay.StateDelivered, Result: map[string]string{"invoice_number": "INV/2026/002", "invoice_id": "OP-77812"},
		})
		for _, tc := range []struct {
			q    string
			want []string
		}{
			{q: "00004/FPJ/07/29", want: []string{"evt_1"}},
			{q: "fpj/07", want: []string{"evt_1"}},
			{q: "op-77812", want: []string{"evt_2"}},
			{q: "INV/2026", want: []string{"evt_2", "evt_1"}},
			{q: "FPJ/08", want: []string{}},
		} {
			got := summaryIDs(h.list(relay.EventFilter{Q: tc.q}))
			if diff := cmp.Diff(tc.want, got, cmpEmpty); diff != "" {
				t.Errorf("q=%q (-want +got):\n%s", tc.q, diff)
			}
		}
	})

	t.Run("NotBeforeDelivered", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", targets: to(ap)}.event())
		h.wantClaimed(ap, later, "evt_1")
		h.finish(ap, "evt_1", attempt(relay.StateNeedsReview, later), transition(relay.StateNeedsReview, later))
		if got := summaryIDs(h.list(relay.EventFilter{Q: "AP-DOC-9"})); len(got) != 0 {
			t.Fatalf("q=AP-DOC-9 before the resolve = %v, want none", got)
		}
		err := h.s.Resolve(h.ctx, "evt_1", relay.Resolution{Sink: ap, Outcome: "delivered",
			Result: map[string]string{"document_number": "AP-DOC-9"}, Operator: "ops"}, later)
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if diff := cmp.Diff([]string{"evt_1"}, summaryIDs(h.list(relay.EventFilter{Q: "ap-doc-9"}))); diff != "" {
			t.Errorf("q=ap-doc-9 after the resolve (-want +got):\n%s", diff)
		}
	})

	t.Run("Purged", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "old", at: at(0), targets: to(ap)}.event())
		h.wantClaimed(ap, later, "old")
		h.finish(ap, "old", attempt(relay.StateDelivered, later), relay.Transition{
			State: relay.StateDelivered, Result: map[string]string{"document_number": "AP-OLD-1"},
		})
		for i := 0; ; i++ {
			res, err := h.s.Purge(h.ctx, t0.Add(time.Minute), 10)
			if err != nil {
				t.Fatalf("Purge: %v", err)
			}
			if res.Done {
				break
			}
			if i == 100 {
				t.Fatal("Purge not done after 100 calls")
			}
		}
		if got := summaryIDs(h.list(relay.EventFilter{Q: "AP-OLD-1"})); len(got) != 0 {
			t.Errorf("q=AP-OLD-1 after purge = %v, want none", got)
		}
	})
}
