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
)

// invoiceTx is a TagihanAI invoice as carried by transaction.sent. The
// first line's price is 2^53+1, which float64 would round.
const invoiceTx = `{
  "id": "550e8400-e29b-41d4-a716-446655440000",
  "type": "INVOICE",
  "document_number": "INV-2026-0042",
  "document_date": "2026-11-23",
  "due_date": "2026-12-23",
  "status": "SENT",
  "payment_status": "UNPAID",
  "total": 9007199254740993,
  "receiver_name": "PT Maju Jaya",
  "counterparty_name": "PT Maju Jaya",
  "description": "Pengembangan modul penagihan November 2026",
  "line_items": [
    {"item_code": "JSA-DEV-001", "product_name": "Jasa Pengembangan Aplikasi Web", "quantity": 1, "unit": "paket", "unit_price": 9007199254740993, "discount_amount": 0},
    {"product_name": "Langganan Cloud Hosting Business", "quantity": 3, "unit_price": 1250000.50, "discount_amount": 250000}
  ]
}`

// invoiceBody is what AccountingPlus must receive for invoiceTx with
// DEFAULT_ITEM_CODE=LAIN-LAIN, written out by hand.
const invoiceBody = `{
  "customer_name": "PT Maju Jaya",
  "document_date": "23/11/2026",
  "auto_create_payment": false,
  "other_amount": 0,
  "items": [
    {"item_code": "JSA-DEV-001", "item_name": "Jasa Pengembangan Aplikasi Web", "quantity": 1,
     "unit_of_measurement": "paket", "unit_price": 9007199254740993, "discount_amount": 0, "tax_code": ""},
    {"item_code": "LAIN-LAIN", "item_name": "Langganan Cloud Hosting Business", "quantity": 3,
     "unit_of_measurement": "pcs", "unit_price": 1250000.50, "discount_amount": 250000, "tax_code": ""}
  ]
}`

const subject = "550e8400-e29b-41d4-a716-446655440000"

// outbound is a delivery of data as transaction.sent.
func outbound(data string) *relay.Outbound {
	return &relay.Outbound{
		EventID: "evt_01JD5S9Q6K", Sink: "erp", Type: "transaction.sent",
		Subject: subject, Data: json.RawMessage(data), Attempt: 1,
	}
}

// testConfig is a valid configuration against baseURL.
func testConfig(baseURL, auth, adata string) Config {
	return Config{
		BaseURL: baseURL, ClientID: testClientID, ClientSecret: testClientSecret,
		SignatureSecret: testSignatureSecret, Email: testEmail, TenantID: testTenantID,
		Auth: auth, ADataFormat: adata, DefaultItemCode: "LAIN-LAIN", TokenTTL: 5 * time.Minute,
	}
}

// MustSink builds a sink or fails the test.
func MustSink(tb testing.TB, cfg Config, deps Deps) *Sink {
	tb.Helper()
	s, err := New("SINK_ERP_", cfg, deps)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// checkNoSecrets fails when a reason carries a secret or a token.
func checkNoSecrets(tb testing.TB, res relay.Result, tokens ...string) {
	tb.Helper()
	for _, s := range append(tokens, testClientSecret, testSignatureSecret) {
		if s != "" && strings.Contains(res.Reason, s) {
			tb.Errorf("Reason %q carries a secret", res.Reason)
		}
	}
}

func TestSink_Deliver(t *testing.T) {
	clock := time.Now().Truncate(time.Second)
	tests := []struct {
		name         string
		auth, adata  string
		data         string
		created      *relay.CreatedDocument
		invoices     []responder
		want         relay.Result
		wantRequests int
	}{
		{name: "OK/JWT", auth: AuthJWT, adata: ADataQuery, data: invoiceTx,
			want: relay.Delivered(200, map[string]string{"document_number": "00004/FPJ/07/29"}), wantRequests: 1},
		{name: "OK/JWT/ADataJSON", auth: AuthJWT, adata: ADataJSON, data: invoiceTx,
			want: relay.Delivered(200, map[string]string{"document_number": "00004/FPJ/07/29"}), wantRequests: 1},
		{name: "OK/OAuth", auth: AuthOAuth, adata: ADataQuery, data: invoiceTx,
			want: relay.Delivered(200, map[string]string{"document_number": "00004/FPJ/07/29"}), wantRequests: 1},
		{name: "Rejected", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(200, `{"status":"01","message":"customer Mira Ramadhani not found","data":null}`)},
			want:     relay.Permanent(200, `accountingplus: rejected: status "01": customer Mira Ramadhani not found`), wantRequests: 1},
		{name: "RejectedWith400", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(400, `{"status":"01","message":"item_code ITM00009 not found"}`)},
			want:     relay.Permanent(400, `accountingplus: HTTP 400: status "01": item_code ITM00009 not found`), wantRequests: 1},
		{name: "ServerError", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(500, `{"status":"99","message":"internal server error"}`, "Retry-After", "120")},
			want:     relay.Transient(500, 2*time.Minute, `accountingplus: HTTP 500: status "99": internal server error`), wantRequests: 1},
		{name: "BadGatewayHTML", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(502, "<html>\n<h1>502 Bad Gateway</h1></html>")},
			want:     relay.Transient(502, 0, `accountingplus: HTTP 502: <html> <h1>502 Bad Gateway</h1></html>`), wantRequests: 1},
		{name: "RateLimited", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(429, `{"status":"29","message":"too many requests"}`, "Retry-After", clock.Add(90*time.Second).UTC().Format(http.TimeFormat))},
			want:     relay.Transient(429, 90*time.Second, `accountingplus: HTTP 429: status "29": too many requests`), wantRequests: 1},
		{name: "RequestTimeout", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(408, `{}`)},
			want:     relay.Transient(408, 0, `accountingplus: HTTP 408`), wantRequests: 1},
		{name: "TooEarly", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(425, `{}`)},
			want:     relay.Transient(425, 0, `accountingplus: HTTP 425`), wantRequests: 1},
		{name: "Unprocessable", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(422, `{"status":"02","message":"document_date is invalid"}`)},
			want:     relay.Permanent(422, `accountingplus: HTTP 422: status "02": document_date is invalid`), wantRequests: 1},
		{name: "UnauthorizedOnceThenOK", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(401, `{"status":"41","message":"token expired"}`), created("00005/FPJ/07/29")},
			want:     relay.Delivered(200, map[string]string{"document_number": "00005/FPJ/07/29"}), wantRequests: 2},
		{name: "UnauthorizedTwice", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(401, `{"status":"41","message":"invalid signature"}`)},
			want:     relay.Permanent(401, `accountingplus: still unauthorized after renewing the token: HTTP 401: status "41": invalid signature`), wantRequests: 2},
		{name: "Redirect", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(302, ``, "Location", "/login")},
			want:     relay.Permanent(302, `accountingplus: HTTP 302: unexpected redirect`), wantRequests: 1},
		{name: "SuccessNotJSON", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(200, `OK`)},
			want:     relay.Unknown(`accountingplus: HTTP 200 without a status, the invoice may have been created: OK`), wantRequests: 1},
		{name: "SuccessAnswerTooLarge", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(200, `{"status":"00","data":{"document_number":"00004/FPJ/07/29"},"pad":"`+strings.Repeat("x", maxAnswerBytes)+`"}`)},
			want:     relay.Unknown(`accountingplus: HTTP 200 but the answer was cut off (answer too large: more than 1048576 bytes), the invoice may have been created`), wantRequests: 1},
		{name: "SuccessWithoutStatus", auth: AuthJWT, data: invoiceTx,
			invoices: []responder{reply(200, `{"data":{"document_number":"00004/FPJ/07/29"}}`)},
			want:     relay.Unknown(`accountingplus: HTTP 200 without a status, the invoice may have been created`), wantRequests: 1},
		{name: "Bill", auth: AuthJWT, data: strings.Replace(invoiceTx, `"INVOICE"`, `"BILL"`, 1),
			want: relay.Skipped(`transaction type "BILL": only INVOICE transactions create a sales invoice`)},
		{name: "AlreadyCreated", auth: AuthJWT, data: invoiceTx,
			created: &relay.CreatedDocument{Sink: "erp", Subject: subject, EventID: "evt_01JD5R0000", DocumentNumber: "00004/FPJ/07/29"},
			want:    relay.Skipped(`document 00004/FPJ/07/29 already created for ` + subject + ` by event evt_01JD5R0000`)},
		{name: "InvalidAmount", auth: AuthJWT, data: strings.Replace(invoiceTx, `1250000.50`, `1.25e6`, 1),
			want: relay.Permanent(0, `accountingplus: line_items[1].unit_price: "1.25e6" is not a plain decimal`)},
		{name: "TooManyFractionDigits", auth: AuthJWT, data: strings.Replace(invoiceTx, `1250000.50`, `12.345`, 1),
			want: relay.Permanent(0, `accountingplus: line_items[1].unit_price: "12.345" has more than 2 fraction digits`)},
		{name: "NotJSON", auth: AuthJWT, data: `{"type":`,
			want: relay.Permanent(0, `accountingplus: transaction: invalid JSON: unexpected EOF`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAP{t: t, auth: tt.auth, adata: tt.adata, wantBody: invoiceBody, invoices: tt.invoices, expiresIn: 3600}
			if f.adata == "" {
				f.adata = ADataQuery
			}
			srv := MustFakeAP(t, f)
			s := MustSink(t, testConfig(srv.URL, tt.auth, tt.adata), Deps{HTTP: srv.Client(), Now: func() time.Time { return clock }})
			o := outbound(tt.data)
			o.Created = tt.created
			got := s.Deliver(context.Background(), o)
			// The body sent is checked by TestSink_Deliver_ReportsRequest.
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(relay.Result{}, "Request")); diff != "" {
				t.Errorf("Deliver (-want +got):\n%s", diff)
			}
			if n := len(f.Used()); n != tt.wantRequests {
				t.Errorf("invoice requests = %d, want %d", n, tt.wantRequests)
			}
			checkNoSecrets(t, got, f.Used()...)
		})
	}
}

// TestSink_Deliver_ExactBody checks the bytes on the wire, not a decoding
// of them: 2^53+1 must arrive as written.
func TestSink_Deliver_ExactBody(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body = readAll(r)
		writeJSON(w, 200, `{"status":"00","message":"success","data":{"document_number":"1"}}`)
	}))
	defer srv.Close()
	s := MustSink(t, testConfig(srv.URL, AuthJWT, ADataQuery), Deps{HTTP: srv.Client()})
	if got := s.Deliver(context.Background(), outbound(invoiceTx)); got.Outcome != relay.OutcomeDelivered {
		t.Fatalf("Deliver = %+v", got)
	}
	want := `{"customer_name":"PT Maju Jaya","document_date":"23/11/2026","auto_create_payment":false,"other_amount":0,"items":[` +
		`{"item_code":"JSA-DEV-001","item_name":"Jasa Pengembangan Aplikasi Web","quantity":1,"unit_of_measurement":"paket","unit_price":9007199254740993,"discount_amount":0,"tax_code":""},` +
		`{"item_code":"LAIN-LAIN","item_name":"Langganan Cloud Hosting Business","quantity":3,"unit_of_measurement":"pcs","unit_price":1250000.50,"discount_amount":250000,"tax_code":""}]}`
	if body != want {
		t.Errorf("body\n got %s\nwant %s", body, want)
	}
}

// The Result carries the exact body the server received, also when the
// outcome is unknown, for the operator who settles it.
func TestSink_Deliver_ReportsRequest(t *testing.T) {
	received := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- readAll(r)
		<-r.Context().Done()
	}))
	defer srv.Close()
	s := MustSink(t, testConfig(srv.URL, AuthJWT, ADataQuery), Deps{HTTP: srv.Client()})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	got := s.Deliver(ctx, outbound(invoiceTx))
	if got.Outcome != relay.OutcomeUnknown {
		t.Fatalf("Deliver = %+v, want OutcomeUnknown", got)
	}
	if sent := <-received; string(got.Request) != sent {
		t.Errorf("Result.Request\n got %s\nwant %s", got.Request, sent)
	}
}

func TestSink_Deliver_TaxCodeAndPayment(t *testing.T) {
	f := &fakeAP{t: t, auth: AuthJWT, adata: ADataQuery, wantBody: `{
	  "customer_name": "PT Maju Jaya", "document_date": "23/11/2026", "auto_create_payment": true, "other_amount": 0,
	  "items": [
	    {"item_code": "JSA-DEV-001", "item_name": "Jasa Pengembangan Aplikasi Web", "quantity": 1,
	     "unit_of_measurement": "paket", "unit_price": 9007199254740993, "discount_amount": 0, "tax_code": "PPN12"},
	    {"item_code": "LAIN-LAIN", "item_name": "Langganan Cloud Hosting Business", "quantity": 3,
	     "unit_of_measurement": "pcs", "unit_price": 1250000.50, "discount_amount": 250000, "tax_code": "PPN12"}]}`}
	srv := MustFakeAP(t, f)
	cfg := testConfig(srv.URL, AuthJWT, ADataQuery)
	cfg.TaxCode, cfg.AutoCreatePayment = "PPN12", true
	s := MustSink(t, cfg, Deps{HTTP: srv.Client()})
	if got := s.Deliver(context.Background(), outbound(invoiceTx)); got.Outcome != relay.OutcomeDelivered {
		t.Fatalf("Deliver = %+v", got)
	}
}

func TestSink_OAuth(t *testing.T) {
	t.Run("TokenCached", func(t *testing.T) {
		f := &fakeAP{t: t, auth: AuthOAuth, adata: ADataQuery, wantBody: invoiceBody, expiresIn: 3600}
		srv := MustFakeAP(t, f)
		s := MustSink(t, testConfig(srv.URL, AuthOAuth, ""), Deps{HTTP: srv.Client()})
		for range 3 {
			if got := s.Deliver(context.Background(), outbound(invoiceTx)); got.Outcome != relay.OutcomeDelivered {
				t.Fatalf("Deliver = %+v", got)
			}
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if got := s.Deliver(context.Background(), outbound(invoiceTx)); got.Outcome != relay.OutcomeDelivered {
					t.Errorf("Deliver = %+v", got)
				}
			})
		}
		wg.Wait()
		if n := f.TokenCalls(); n != 1 {
			t.Errorf("token requests = %d for 11 deliveries, want 1", n)
		}
	})

	t.Run("ConcurrentFirstUse", func(t *testing.T) {
		f := &fakeAP{t: t, auth: AuthOAuth, adata: ADataQuery, wantBody: invoiceBody}
		srv := MustFakeAP(t, f)
		s := MustSink(t, testConfig(srv.URL, AuthOAuth, ""), Deps{HTTP: srv.Client()})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if got := s.Deliver(context.Background(), outbound(invoiceTx)); got.Outcome != relay.OutcomeDelivered {
					t.Errorf("Deliver = %+v", got)
				}
			})
		}
		wg.Wait()
		if n := f.TokenCalls(); n != 1 {
			t.Errorf("token requests = %d for 8 concurrent deliveries, want 1", n)
		}
	})

	t.Run("RenewedBeforeExpiry", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

		f := &fakeAP{t: t, auth: AuthOAuth, adata: ADataQuery, wantBody: invoiceBody, expiresIn: 300}
		srv := MustFakeAP(t, f)
		s := MustSink(t, testConfig(srv.URL, AuthOAuth, ""), Deps{HTTP: srv.Client(), Now: clock})
		deliver := func() {
			t.Helper()
			if got := s.Deliver(context.Background(), outbound(invoiceTx)); got.Outcome != relay.OutcomeDelivered {
				t.Fatalf("Deliver = %+v", got)
			}
		}
		deliver()
		advance(3*time.Minute + 59*time.Second) // a minute and a second left: still used
		deliver()
		advance(2 * time.Second) // under a minute left: renewed
		deliver()
		want := []string{"oauth-token-1", "oauth-token-1", "oauth-token-2"}
		if diff := cmp.Diff(want, f.Used()); diff != "" {
			t.Errorf("tokens used (-want +got):\n%s", diff)
		}
	})

	t.Run("RenewedAfter401", func(t *testing.T) {
		f := &fakeAP{t: t, auth: AuthOAuth, adata: ADataQuery, wantBody: invoiceBody, expiresIn: 3600,
			invoices: []responder{reply(401, `{"status":"41","message":"token revoked"}`), created("00006/FPJ/07/29")}}
		srv := MustFakeAP(t, f)
		s := MustSink(t, testConfig(srv.URL, AuthOAuth, ""), Deps{HTTP: srv.Client()})
		got := s.Deliver(context.Background(), outbound(invoiceTx))
		if diff := cmp.Diff(relay.Delivered(200, map[string]string{"document_number": "00006/FPJ/07/29"}), got, cmpopts.IgnoreFields(relay.Result{}, "Request")); diff != "" {
			t.Errorf("Deliver (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"oauth-token-1", "oauth-token-2"}, f.Used()); diff != "" {
			t.Errorf("tokens used (-want +got):\n%s", diff)
		}
		// The renewed token is cached for the next delivery.
		_ = s.Deliver(context.Background(), outbound(invoiceTx))
		if n := f.TokenCalls(); n != 2 {
			t.Errorf("token requests = %d, want 2", n)
		}
	})

	t.Run("TokenEndpointFails", func(t *testing.T) {
		tests := []struct {
			name  string
			reply responder
			want  relay.Result
		}{
			{"ServerError", reply(503, `{"message":"maintenance"}`, "Retry-After", "30"),
				relay.Transient(503, 30*time.Second, "accountingplus: get access token: HTTP 503: maintenance")},
			{"BadCredentials", reply(401, `{"status":"41","message":"invalid client credentials"}`),
				relay.Permanent(401, `accountingplus: get access token: HTTP 401: status "41": invalid client credentials`)},
			{"NoToken", reply(200, `{"status":"00","message":"success","data":{}}`),
				relay.Permanent(200, `accountingplus: get access token: HTTP 200 without access_token: status "00": success`)},
			{"EchoesSecret", reply(400, `{"message":"bad secret `+testClientSecret+`"}`),
				relay.Permanent(400, `accountingplus: get access token: HTTP 400: bad secret [redacted]`)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := &fakeAP{t: t, auth: AuthOAuth, adata: ADataQuery, tokenReply: []responder{tt.reply}}
				srv := MustFakeAP(t, f)
				s := MustSink(t, testConfig(srv.URL, AuthOAuth, ""), Deps{HTTP: srv.Client(), Now: func() time.Time { return time.Unix(0, 0) }})
				got := s.Deliver(context.Background(), outbound(invoiceTx))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Deliver (-want +got):\n%s", diff)
				}
				if n := len(f.Used()); n != 0 {
					t.Errorf("invoice requests = %d, want 0", n)
				}
			})
		}
	})
}

// TestSink_Deliver_UnknownAfterSend: the server takes the request and never
// answers before the deadline, so the invoice may exist.
func TestSink_Deliver_UnknownAfterSend(t *testing.T) {
	received := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = readAll(r)
		received <- struct{}{}
		<-r.Context().Done() // blocks until the client gives up
	}))
	defer srv.Close()
	s := MustSink(t, testConfig(srv.URL, AuthJWT, ADataQuery), Deps{HTTP: srv.Client()})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	got := s.Deliver(ctx, outbound(invoiceTx))
	if got.Outcome != relay.OutcomeUnknown || !strings.Contains(got.Reason, "the invoice may have been created") {
		t.Errorf("Deliver = %+v, want OutcomeUnknown", got)
	}
	select {
	case <-received:
	default:
		t.Error("the server never received the request")
	}
	checkNoSecrets(t, got)
}

func TestSink_Deliver_TransientBeforeSend(t *testing.T) {
	t.Run("ConnectionRefused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		s := MustSink(t, testConfig(url, AuthJWT, ADataQuery), Deps{})
		got := s.Deliver(context.Background(), outbound(invoiceTx))
		if got.Outcome != relay.OutcomeTransient || !strings.HasPrefix(got.Reason, "accountingplus: request not sent: ") {
			t.Errorf("Deliver = %+v, want OutcomeTransient", got)
		}
	})
	t.Run("ContextDone", func(t *testing.T) {
		f := &fakeAP{t: t, auth: AuthJWT, adata: ADataQuery}
		srv := MustFakeAP(t, f)
		s := MustSink(t, testConfig(srv.URL, AuthJWT, ADataQuery), Deps{HTTP: srv.Client()})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := s.Deliver(ctx, outbound(invoiceTx))
		if got.Outcome != relay.OutcomeTransient {
			t.Errorf("Deliver = %+v, want OutcomeTransient", got)
		}
		if n := len(f.Used()); n != 0 {
			t.Errorf("invoice requests = %d, want 0", n)
		}
	})
}
