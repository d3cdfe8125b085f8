package storetest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func testListEvents(t *testing.T, open Opener) {
	t.Run("NewestFirst", func(t *testing.T) {
		h := newHarness(t, open)
		events := []*relay.NewEvent{
			spec{id: "evt_b", at: at(2000)}.event(),
			spec{id: "evt_d", at: at(4000)}.event(),
			spec{id: "evt_a", at: at(1000)}.event(),
			spec{id: "evt_c", at: at(3000).Add(time.Nanosecond)}.event(),
			spec{id: "evt_e", at: at(3000)}.event(),
		}
		h.ingest(events...)
		p := h.list(relay.EventFilter{})
		if diff := cmp.Diff([]string{"evt_d", "evt_c", "evt_e", "evt_b", "evt_a"}, summaryIDs(p)); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
		if p.NextCursor != "" {
			t.Errorf("next cursor = %q on the only page, want empty", p.NextCursor)
		}
		want := relay.EventSummary{ID: "evt_d", Source: relay.DefaultSource, Type: "transaction.sent", Subject: "trx_evt_d", Status: relay.StatusUnrouted, ReceivedAt: at(4000)}
		if diff := cmp.Diff(want, p.Events[0]); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		h := newHarness(t, open)
		events := make([]*relay.NewEvent, 250)
		for i := range events {
			typ := "transaction.sent"
			if i%2 == 1 {
				typ = "payment.completed"
			}
			// Pairs share a receive time: the cursor must still split them.
			events[i] = spec{id: fmt.Sprintf("evt_%03d", i), typ: typ, at: at(i / 2)}.event()
		}
		h.ingestConcurrently(events, 16)
		// Events received at the same instant may come in either order.
		wantOrder := func(t *testing.T, want, got []string) {
			t.Helper()
			if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Fatalf("every event exactly once (-want +got):\n%s", diff)
			}
			rt := map[string]time.Time{}
			for _, e := range events {
				rt[e.ID] = e.Delivery.ReceivedAt
			}
			for i := 1; i < len(got); i++ {
				if rt[got[i]].After(rt[got[i-1]]) {
					t.Fatalf("%s (received %v) listed after %s (received %v): not newest first",
						got[i], rt[got[i]], got[i-1], rt[got[i-1]])
				}
			}
		}

		var all, payments []string
		for _, e := range events {
			all = append(all, e.ID)
			if e.Type == "payment.completed" {
				payments = append(payments, e.ID)
			}
		}
		got, sizes := h.listAll(relay.EventFilter{Limit: 100})
		wantOrder(t, all, got)
		if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
			t.Errorf("page sizes (-want +got):\n%s", diff)
		}
		got, sizes = h.listAll(relay.EventFilter{Type: "payment.*", Limit: 30})
		wantOrder(t, payments, got)
		if diff := cmp.Diff([]int{30, 30, 30, 30, 5}, sizes); diff != "" {
			t.Errorf("filtered page sizes (-want +got):\n%s", diff)
		}
		if p := h.list(relay.EventFilter{}); len(p.Events) != 100 || p.NextCursor == "" {
			t.Errorf("default limit: %d events, cursor %q; want 100 and a cursor", len(p.Events), p.NextCursor)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_1", typ: "transaction.sent", subject: "trx_A", at: at(0), targets: to(erp)}.event(),
			spec{id: "evt_2", typ: "transaction.paid", subject: "trx_A", at: at(1000), targets: to(erp)}.event(),
			spec{id: "evt_3", typ: "payment.completed", subject: "pay_B", at: at(2000), targets: to(ap)}.event(),
			spec{id: "evt_4", typ: "transaction.sent", subject: "trx_C", at: at(3000)}.event(),
			unparsed("evt_5", at(4000), "not json"),
			spec{id: "evt_6", typ: "subscription.paused", subject: "sub_D", at: at(5000), targets: to(erp)}.event(),
			spec{id: "evt_7", typ: "transaction.sent", subject: "trx_A10", at: at(6000)}.event(),
		)
		h.settle(erp, later, map[string]string{"evt_1": relay.StateDelivered, "evt_2": relay.StateInFlight, "evt_6": relay.StateNeedsReview})
		h.settle(ap, later, map[string]string{"evt_3": relay.StateDead})

		tests := []struct {
			name   string
			filter relay.EventFilter
			want   []string
		}{
			{"All", relay.EventFilter{}, []string{"evt_7", "evt_6", "evt_5", "evt_4", "evt_3", "evt_2", "evt_1"}},
			{"TypeGlob", relay.EventFilter{Type: "transaction.*"}, []string{"evt_7", "evt_4", "evt_2", "evt_1"}},
			{"Type", relay.EventFilter{Type: "transaction.sent"}, []string{"evt_7", "evt_4", "evt_1"}},
			{"TypeNone", relay.EventFilter{Type: "party.*"}, []string{}},
			{"StatusDelivered", relay.EventFilter{Status: relay.StatusDelivered}, []string{"evt_1"}},
			{"StatusPending", relay.EventFilter{Status: relay.StatusPending}, []string{"evt_2"}},
			{"StatusDead", relay.EventFilter{Status: relay.StatusDead}, []string{"evt_3"}},
			{"StatusUnrouted", relay.EventFilter{Status: relay.StatusUnrouted}, []string{"evt_7", "evt_4"}},
			{"StatusUnparsed", relay.EventFilter{Status: relay.StatusUnparsed}, []string{"evt_5"}},
			{"StatusNeedsReview", relay.EventFilter{Status: relay.StatusNeedsReview}, []string{"evt_6"}},
			{"Subject", relay.EventFilter{Subject: "trx_A"}, []string{"evt_2", "evt_1"}},
			{"SubjectAndType", relay.EventFilter{Subject: "trx_A", Type: "transaction.paid"}, []string{"evt_2"}},
			{"SubjectAndSince", relay.EventFilter{Subject: "trx_A", Since: at(500)}, []string{"evt_2"}},
			{"SubjectUnknown", relay.EventFilter{Subject: "trx_"}, []string{}},
			{"Since", relay.EventFilter{Since: at(4000)}, []string{"evt_7", "evt_6", "evt_5"}},
			{"Until", relay.EventFilter{Until: at(2000)}, []string{"evt_3", "evt_2", "evt_1"}},
			{"SinceUntil", relay.EventFilter{Since: at(1000), Until: at(3000)}, []string{"evt_4", "evt_3", "evt_2"}},
			{"SinceUntilEmpty", relay.EventFilter{Since: at(100), Until: at(900)}, []string{}},
			{"TypeAndStatus", relay.EventFilter{Type: "transaction.*", Status: relay.StatusUnrouted}, []string{"evt_7", "evt_4"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := summaryIDs(h.list(tt.filter))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ListEvents (-want +got):\n%s", diff)
				}
				f := tt.filter
				f.Limit = 1
				got, _ = h.listAll(f)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ListEvents one at a time (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("Search", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_s1", subject: "trx_100", doc: "INV-2026-0042", party: "PT Maju Jaya", at: at(0)}.event(),
			spec{id: "evt_s2", subject: "trx_101", doc: "INV-2026-0043", party: "CV Sinar Abadi", at: at(1000)}.event(),
			spec{id: "evt_s3", typ: "transaction.paid", subject: "trx_100", doc: "INV-2026-0042", party: "PT Maju Jaya", at: at(2000)}.event(),
			spec{id: "evt_s4", typ: "payment.completed", subject: "pay_7", party: "Toko Maju Bersama", at: at(3000)}.event(),
			spec{id: "evt_s5", subject: "trx_1000", doc: "BILL-7", party: "Koperasi Sejahtera", at: at(4000)}.event(),
		)
		tests := []struct {
			name   string
			filter relay.EventFilter
			want   []string
		}{
			{"EventID", relay.EventFilter{Q: "evt_s2"}, []string{"evt_s2"}},
			{"Subject", relay.EventFilter{Q: "trx_100"}, []string{"evt_s3", "evt_s1"}},
			{"DocumentNumberSubstring", relay.EventFilter{Q: "inv-2026-00"}, []string{"evt_s3", "evt_s2", "evt_s1"}},
			{"DocumentNumberExact", relay.EventFilter{Q: "INV-2026-0043"}, []string{"evt_s2"}},
			{"CounterpartySubstring", relay.EventFilter{Q: "maju"}, []string{"evt_s4", "evt_s3", "evt_s1"}},
			{"CounterpartyUpper", relay.EventFilter{Q: "SINAR ABA"}, []string{"evt_s2"}},
			{"AndType", relay.EventFilter{Q: "maju", Type: "transaction.*"}, []string{"evt_s3", "evt_s1"}},
			{"AndSubject", relay.EventFilter{Q: "maju", Subject: "pay_7"}, []string{"evt_s4"}},
			{"NoMatch", relay.EventFilter{Q: "nothing like it"}, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if diff := cmp.Diff(tt.want, summaryIDs(h.list(tt.filter))); diff != "" {
					t.Errorf("ListEvents (-want +got):\n%s", diff)
				}
				f := tt.filter
				f.Limit = 1
				got, _ := h.listAll(f)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ListEvents one at a time (-want +got):\n%s", diff)
				}
			})
		}
		p := h.list(relay.EventFilter{Q: "evt_s1"})
		want := relay.EventSummary{
			ID: "evt_s1", Source: relay.DefaultSource, Type: "transaction.sent", Subject: "trx_100", Status: relay.StatusUnrouted, ReceivedAt: at(0),
		}
		if len(p.Events) != 1 {
			t.Fatalf("ListEvents(q=evt_s1) = %v", summaryIDs(p))
		}
		if diff := cmp.Diff(want, p.Events[0], cmpopts.IgnoreFields(relay.EventSummary{}, "DocumentNumber", "Counterparty")); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
	})

	// "What happened to invoice X?" includes its payments: a payment event
	// (its own subject) belongs to its transaction by data.transaction_id.
	t.Run("SearchFindsPaymentsOfTransaction", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_t1", subject: "trx_200", doc: "INV-2026-0100", party: "PT Maju Jaya", at: at(0)}.event(),
			spec{id: "evt_p1", typ: "payment.completed", subject: "pay_1", txn: "trx_200", at: at(1000)}.event(),
			spec{id: "evt_p2", typ: "payment.completed", subject: "pay_2", txn: "trx_200", at: at(2000)}.event(),
			spec{id: "evt_t2", subject: "trx_201", doc: "INV-2026-0101", at: at(3000)}.event(),
			spec{id: "evt_p3", typ: "payment.completed", subject: "pay_3", txn: "trx_201", at: at(4000)}.event(),
			// A payment whose transaction the relay never received.
			spec{id: "evt_p4", typ: "payment.completed", subject: "pay_4", txn: "trx_999", at: at(5000)}.event(),
		)
		tests := []struct {
			name   string
			filter relay.EventFilter
			want   []string
		}{
			{"ByInvoiceNumber", relay.EventFilter{Q: "INV-2026-0100"}, []string{"evt_p2", "evt_p1", "evt_t1"}},
			{"ByTransactionID", relay.EventFilter{Q: "trx_200"}, []string{"evt_p2", "evt_p1", "evt_t1"}},
			{"TransactionNeverReceived", relay.EventFilter{Q: "trx_999"}, []string{"evt_p4"}},
			{"PaymentID", relay.EventFilter{Q: "pay_3"}, []string{"evt_p3"}},
			{"AndType", relay.EventFilter{Q: "INV-2026-0101", Type: "payment.*"}, []string{"evt_p3"}},
			{"NotAnotherTransactionsPayments", relay.EventFilter{Q: "INV-2026-0101"}, []string{"evt_p3", "evt_t2"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if diff := cmp.Diff(tt.want, summaryIDs(h.list(tt.filter))); diff != "" {
					t.Errorf("ListEvents (-want +got):\n%s", diff)
				}
				f := tt.filter
				f.Limit = 1
				got, _ := h.listAll(f)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ListEvents one at a time (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("ErrInvalidCursor", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1"}.event())
		for _, f := range []relay.EventFilter{{Cursor: "not a cursor!"}, {Cursor: "%%%"}, {Q: "evt_1", Cursor: "not a cursor!"}} {
			_, err := h.s.ListEvents(h.ctx, f)
			wantCode(t, err, relay.EINVALID)
		}
	})
}

func testStats(t *testing.T, open Opener) {
	h := newHarness(t, open)
	h.ingest(
		spec{id: "evt_1", at: at(0), targets: to(erp)}.event(),                // pending
		spec{id: "evt_2", at: at(1), targets: to(erp)}.event(),                // delivered
		spec{id: "evt_3", at: at(2), targets: to(ap)}.event(),                 // dead
		spec{id: "evt_4", at: at(3), targets: to(ap)}.event(),                 // needs review
		spec{id: "evt_5", at: at(4), targets: to(erp)}.event(),                // in flight
		spec{id: "evt_6", at: at(5)}.event(),                                  // unrouted
		unparsed("evt_7", at(6), "<xml/>"),                                    // unparsed
		spec{id: "evt_8", at: at(7), targets: to(erp, ap)}.event(),            // skipped + delivered
		spec{id: "evt_9", at: later.Add(time.Hour), targets: to(erp)}.event(), // pending, not due yet
	)
	h.settle(erp, later, map[string]string{
		"evt_1": relay.StatePending, "evt_2": relay.StateDelivered, "evt_5": relay.StateInFlight, "evt_8": relay.StateSkipped,
	})
	h.settle(ap, later, map[string]string{
		"evt_3": relay.StateDead, "evt_4": relay.StateNeedsReview, "evt_8": relay.StateDelivered,
	})
	now := later.Add(2 * time.Hour)
	st := h.stats(now)
	wantEvents := map[string]int64{
		relay.StatusPending: 3, relay.StatusDelivered: 2, relay.StatusDead: 1, relay.StatusNeedsReview: 1,
		relay.StatusUnrouted: 1, relay.StatusUnparsed: 1,
	}
	if diff := cmp.Diff(wantEvents, h.eventCounts(now)); diff != "" {
		t.Errorf("events by status (-want +got):\n%s", diff)
	}
	wantSinks := map[string]relay.SinkStats{
		erp: {Pending: 2, InFlight: 1, Delivered: 1, Skipped: 1},
		ap:  {Delivered: 1, Dead: 1, NeedsReview: 1},
	}
	if diff := cmp.Diff(wantSinks, st.Sinks, cmpopts.IgnoreFields(relay.SinkStats{}, "OldestPendingAge")); diff != "" {
		t.Errorf("sinks (-want +got):\n%s", diff)
	}
	// evt_1, received at t0, is the oldest delivery not yet done at erp.
	if got, want := st.Sinks[erp].OldestPendingAge, now.Sub(t0).Seconds(); math.Abs(got-want) > 1 {
		t.Errorf("erp oldest pending age = %vs, want %vs", got, want)
	}
	if got := st.Sinks[ap].OldestPendingAge; got != 0 {
		t.Errorf("ap oldest pending age = %vs with nothing pending, want 0", got)
	}
}
