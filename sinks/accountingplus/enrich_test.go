package accountingplus

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/tagihanai"
)

const testTagihanAIKey = "tgh_sk_live_5f2a9c7e1b3d"

// fakeTagihanAI serves GET /api/v1/transactions/:id for subject only,
// checking the Bearer key, with scripted answers (the last repeats).
type fakeTagihanAI struct {
	t      *testing.T
	script []responder

	mu    sync.Mutex
	calls int
}

func (f *fakeTagihanAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/api/v1/transactions/"+subject {
		f.t.Errorf("fake TagihanAI: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testTagihanAIKey {
		f.t.Errorf("fake TagihanAI: Authorization = %q", got)
		writeJSON(w, http.StatusUnauthorized, `{"error":"unauthorized","message":"Missing or invalid API key"}`)
		return
	}
	f.mu.Lock()
	a := f.script[min(f.calls, len(f.script)-1)]
	f.calls++
	f.mu.Unlock()
	a(w, r, "")
}

func (f *fakeTagihanAI) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// without returns the transaction JSON with the given top-level keys removed.
func without(tb testing.TB, tx string, keys ...string) string {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(tx), &m); err != nil {
		tb.Fatal(err)
	}
	for _, k := range keys {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// totalBody is the one-line invoice of invoiceTx without line items.
const totalBody = `{
  "customer_name": "PT Maju Jaya", "document_date": "23/11/2026", "auto_create_payment": false, "other_amount": 0,
  "items": [{"item_code": "LAIN-LAIN", "item_name": "Pengembangan modul penagihan November 2026", "quantity": 1,
             "unit_of_measurement": "pcs", "unit_price": 9007199254740993, "discount_amount": 0, "tax_code": ""}]}`

func TestSink_Deliver_Enrichment(t *testing.T) {
	// fetched is what GET /transactions/:id answers: the whole transaction
	// except document_date (absent from the reference's example answer).
	fetched := reply(200, `{"data":`+without(t, invoiceTx, "document_date")+`}`)
	// sparse is the reference's example answer: no line items, no description.
	sparse := reply(200, `{"data":{"id":"`+subject+`","type":"INVOICE","document_number":"INV-2026-0042","status":"SENT",
		"payment_status":"UNPAID","total":9007199254740993,"paid_amount":0,"receiver_name":"PT Maju Jaya","metadata":{}}}`)
	rateLimited := func(after string) responder {
		return reply(429, `{"error":"rate-limit-exceeded","message":"Rate limit exceeded, retry after delay"}`, "Retry-After", after)
	}
	const enrichErr = `accountingplus: enrich from TagihanAI: tagihanai: get transaction "` + subject + `": `

	tests := []struct {
		name      string
		noKey     bool
		data      string
		script    []responder
		wantBody  string
		want      relay.Result
		wantCalls int
	}{
		{name: "NoLineItems/RateLimitedThenOK", data: without(t, invoiceTx, "line_items"),
			script:   []responder{rateLimited("0"), fetched},
			wantBody: invoiceBody, want: relay.Delivered(200, map[string]string{"document_number": "00004/FPJ/07/29"}), wantCalls: 2},
		{name: "NoCustomerName", data: without(t, invoiceTx, "receiver_name", "counterparty_name"),
			script:   []responder{fetched},
			wantBody: invoiceBody, want: relay.Delivered(200, map[string]string{"document_number": "00004/FPJ/07/29"}), wantCalls: 1},
		{name: "FetchedHasNoLineItemsEither", data: without(t, invoiceTx, "line_items"),
			script:   []responder{sparse},
			wantBody: totalBody, want: relay.Delivered(200, map[string]string{"document_number": "00004/FPJ/07/29"}), wantCalls: 1},
		{name: "NoKey", noKey: true, data: without(t, invoiceTx, "line_items"),
			wantBody: totalBody, want: relay.Delivered(200, map[string]string{"document_number": "00004/FPJ/07/29"})},
		{name: "CompleteEventNotFetched", data: invoiceTx, script: []responder{fetched},
			wantBody: invoiceBody, want: relay.Delivered(200, map[string]string{"document_number": "00004/FPJ/07/29"})},
		{name: "CustomerMissingEverywhere", data: without(t, invoiceTx, "receiver_name", "counterparty_name"),
			script: []responder{reply(200, `{"data":`+without(t, invoiceTx, "receiver_name", "counterparty_name")+`}`)},
			want:   relay.Permanent(0, "accountingplus: customer_name: neither receiver_name nor counterparty_name is set"), wantCalls: 1},
		{name: "CustomerMissingNoKey", noKey: true, data: without(t, invoiceTx, "receiver_name", "counterparty_name"),
			want: relay.Permanent(0, "accountingplus: customer_name: neither receiver_name nor counterparty_name is set")},
		{name: "NotFound", data: without(t, invoiceTx, "line_items"),
			script: []responder{reply(404, `{"error":"not-found","message":"Resource does not exist in this workspace"}`)},
			want:   relay.Permanent(404, enrichErr+"HTTP 404: not found: Resource does not exist in this workspace"), wantCalls: 1},
		{name: "ServerError", data: without(t, invoiceTx, "line_items"),
			script: []responder{reply(500, `{"error":"internal-error","message":"Unexpected server error"}`)},
			want:   relay.Transient(500, 0, enrichErr+"HTTP 500: unexpected response: Unexpected server error"), wantCalls: 1},
		{name: "RateLimitedLong", data: without(t, invoiceTx, "line_items"),
			script: []responder{rateLimited("3600")},
			want:   relay.Transient(429, time.Hour, enrichErr+"HTTP 429: rate limit exceeded: Rate limit exceeded, retry after delay"), wantCalls: 1},
		{name: "BillNotFetched", data: strings.Replace(without(t, invoiceTx, "line_items"), `"INVOICE"`, `"BILL"`, 1),
			script: []responder{fetched},
			want:   relay.Skipped(`transaction type "BILL": only INVOICE transactions create a sales invoice`)},
		{name: "FetchedIsBill", data: without(t, invoiceTx, "line_items", "type"),
			script: []responder{reply(200, `{"data":{"id":"`+subject+`","type":"BILL"}}`)},
			want:   relay.Skipped(`transaction type "BILL": only INVOICE transactions create a sales invoice`), wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ap := &fakeAP{t: t, auth: AuthJWT, adata: ADataQuery, wantBody: tt.wantBody}
			apSrv := MustFakeAP(t, ap)
			tg := &fakeTagihanAI{t: t, script: tt.script}
			tgSrv := httptest.NewServer(tg)
			defer tgSrv.Close()
			deps := Deps{HTTP: apSrv.Client()}
			if !tt.noKey {
				deps.TagihanAI = tagihanai.NewClient(tgSrv.URL+"/api/v1", testTagihanAIKey, tgSrv.Client())
			}
			s := MustSink(t, testConfig(apSrv.URL, AuthJWT, ADataQuery), deps)
			got := s.Deliver(context.Background(), outbound(tt.data))
			// The body sent is checked by TestSink_Deliver_ReportsRequest.
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(relay.Result{}, "Request")); diff != "" {
				t.Errorf("Deliver (-want +got):\n%s", diff)
			}
			if n := tg.Calls(); n != tt.wantCalls {
				t.Errorf("TagihanAI calls = %d, want %d", n, tt.wantCalls)
			}
			wantAP := 0
			if tt.want.Outcome == relay.OutcomeDelivered {
				wantAP = 1
			}
			if n := len(ap.Used()); n != wantAP {
				t.Errorf("AccountingPlus requests = %d, want %d", n, wantAP)
			}
			if strings.Contains(got.Reason, testTagihanAIKey) {
				t.Errorf("Reason %q carries the TagihanAI key", got.Reason)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	event := map[string]any{"a": "event", "b": "event", "c": "event", "d": []any{"x"}, "e": "event"}
	fetched := map[string]any{"a": "api", "b": nil, "c": "  ", "d": []any{}, "f": "api"}
	want := map[string]any{"a": "api", "b": "event", "c": "event", "d": []any{"x"}, "e": "event", "f": "api"}
	if diff := cmp.Diff(want, merge(event, fetched)); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
}
