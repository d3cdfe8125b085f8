package tagihanai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

// addInvoices stores n invoices, one an hour from 1 November 2026 and
// documents dated one a day, in the statuses given in turn.
func addInvoices(api *tagihanaitest.Server, n int, statuses ...string) []string {
	base := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	var ids []string
	for i := range n {
		ids = append(ids, api.AddTransaction(tagihanaitest.Transaction{
			DocumentNumber: fmt.Sprintf("INV-2026-%04d", i+1),
			DocumentDate:   base.AddDate(0, 0, i%30).Format(time.DateOnly),
			Status:         statuses[i%len(statuses)],
			CreatedAt:      base.Add(time.Duration(i) * time.Hour),
		}))
	}
	return ids
}

func TestClient_Transactions(t *testing.T) {
	walk := func(t *testing.T, c *Client, q TransactionQuery) []TransactionSummary {
		t.Helper()
		var got []TransactionSummary
		if err := c.Transactions(context.Background(), q, func(tx TransactionSummary) error {
			got = append(got, tx)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	t.Run("ThreePages", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		ids := addInvoices(api, 230, "SENT")
		got := walk(t, c, TransactionQuery{})
		if len(got) != 230 {
			t.Fatalf("walked %d transactions, want 230", len(got))
		}
		want := []string{"GET /transactions?page=1&per_page=100", "GET /transactions?page=2&per_page=100", "GET /transactions?page=3&per_page=100"}
		if diff := cmp.Diff(want, paths(api)); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
		seen := map[string]bool{}
		for _, tx := range got {
			seen[tx.ID] = true
		}
		for _, id := range ids {
			if !seen[id] {
				t.Errorf("transaction %s not walked", id)
			}
		}
		// Newest first: the last one stored.
		wantFirst := TransactionSummary{ID: ids[229], Type: "INVOICE", DocumentNumber: "INV-2026-0230", DocumentDate: "2026-11-20",
			Status: "SENT", PaymentStatus: "UNPAID", ReceiverName: "PT Maju Jaya", CreatedAt: time.Date(2026, 11, 10, 15, 0, 0, 0, time.UTC)}
		if diff := cmp.Diff(wantFirst, got[0]); diff != "" {
			t.Errorf("first (-want +got):\n%s", diff)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		addInvoices(api, 60, "SENT", "PAID", "DRAFT")
		api.AddTransaction(tagihanaitest.Transaction{Type: "BILL", DocumentDate: "2026-11-05", Status: "SENT"})
		got := walk(t, c, TransactionQuery{Type: "INVOICE", Status: "SENT", DateFrom: "2026-11-05", DateTo: "2026-11-14"})
		// Days 5..14 hold 20 invoices (two a day), 6 of them SENT.
		for _, tx := range got {
			if tx.Type != "INVOICE" || tx.Status != "SENT" || tx.DocumentDate < "2026-11-05" || tx.DocumentDate > "2026-11-14" {
				t.Errorf("walked %+v, outside the query", tx)
			}
		}
		if len(got) != 6 {
			t.Errorf("walked %d, want 6", len(got))
		}
		r := api.Requests()[0]
		for k, v := range map[string]string{"type": "INVOICE", "status": "SENT", "date_from": "2026-11-05", "date_to": "2026-11-14", "page": "1", "per_page": "100"} {
			if r.Param(k) != v {
				t.Errorf("request %s: %s = %q, want %q", r, k, r.Param(k), v)
			}
		}
	})
	t.Run("EmptyFiltersNotSent", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		walk(t, c, TransactionQuery{Type: "INVOICE"})
		if diff := cmp.Diff([]string{"GET /transactions?page=1&per_page=100&type=INVOICE"}, paths(api)); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("FnErrorStops", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		addInvoices(api, 150, "SENT")
		stop := errors.New("stop")
		err := c.Transactions(context.Background(), TransactionQuery{}, func(TransactionSummary) error { return stop })
		if err != stop || len(api.Requests()) != 1 {
			t.Errorf("error %v after %d requests, want stop after 1", err, len(api.Requests()))
		}
	})
	t.Run("Refused", func(t *testing.T) {
		_, c, _, w := MustFakeAPI(t)
		err := c.Transactions(context.Background(), TransactionQuery{DateFrom: "last week"}, func(TransactionSummary) error { return nil })
		wantError(t, err, ErrUnexpectedResponse, 400, false)
		if len(w.get()) != 0 {
			t.Errorf("waited %v for a 400", w.get())
		}
	})
	t.Run("RateLimitedMidWalk", func(t *testing.T) {
		api, c, _, w := MustFakeAPI(t)
		addInvoices(api, 250, "SENT")
		api.Limit(2, 20*time.Second)
		if got := walk(t, c, TransactionQuery{}); len(got) != 250 {
			t.Errorf("walked %d, want 250", len(got))
		}
		if diff := cmp.Diff([]time.Duration{20 * time.Second}, w.get()); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
		var got []string
		for _, r := range api.Requests() {
			got = append(got, fmt.Sprintf("%s %d", r.Param("page"), r.Status))
		}
		if diff := cmp.Diff([]string{"1 200", "2 200", "3 429", "3 200"}, got); diff != "" {
			t.Errorf("pages and statuses (-want +got):\n%s", diff)
		}
	})
}

func TestClient_Transaction_Fake(t *testing.T) {
	api, c, _, _ := MustFakeAPI(t)
	id := api.AddTransaction(tagihanaitest.Transaction{Status: "PAID", Fields: map[string]any{"total": json.Number("9007199254740993")}})
	got, err := c.Transaction(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(api.Transaction(id)) {
		t.Errorf("Transaction = %s, want %s", got, api.Transaction(id))
	}
	var tx struct {
		Total     json.Number       `json:"total"`
		LineItems []json.RawMessage `json:"line_items"`
	}
	if err := json.Unmarshal(got, &tx); err != nil || tx.Total != "9007199254740993" || len(tx.LineItems) == 0 {
		t.Errorf("transaction = %s (%v), want the exact total and line items", got, err)
	}
	_, err = c.Transaction(context.Background(), "nope")
	wantError(t, err, ErrNotFound, 404, false)
}
