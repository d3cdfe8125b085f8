package onlinepajak

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// testNow is the clock of every test sink.
var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// MustNewSink returns a sink talking to f with the fake's credentials;
// mods change the config first.
func MustNewSink(tb testing.TB, f *fakeOnlinePajak, mods ...func(*Config)) *Sink {
	tb.Helper()
	cfg := Config{BaseURL: f.srv.URL, APIKey: fakeAPIKey, UserID: fakeUserID, LookupTimeout: 2 * time.Second}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := New("SINK_TAX_", cfg, Deps{HTTP: f.srv.Client(), Now: func() time.Time { return testNow }})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// outbound is a transaction.sent delivery of a golden case's transaction.
func outbound(tb testing.TB, name string) *relay.Outbound {
	tb.Helper()
	data := mustRead(tb, filepath.Join(goldenDir, name, "transaction.json"))
	var tx struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &tx); err != nil {
		tb.Fatal(err)
	}
	return &relay.Outbound{
		EventID: "evt_" + name,
		Sink:    "tax",
		Type:    "transaction.sent",
		Subject: tx.ID,
		Data:    data,
		Attempt: 1,
	}
}

// checkResult compares a Result with want: everything but Reason exactly,
// Reason by the substrings in want.Reason ("|"-separated), and never the key.
func checkResult(t *testing.T, got, want relay.Result) {
	t.Helper()
	if got.Outcome != want.Outcome || got.StatusCode != want.StatusCode || got.RetryAfter != want.RetryAfter || got.Lookup != want.Lookup {
		t.Errorf("result = %v/%d/%v lookup %v (%s), want %v/%d/%v lookup %v", got.Outcome, got.StatusCode, got.RetryAfter, got.Lookup, got.Reason, want.Outcome, want.StatusCode, want.RetryAfter, want.Lookup)
	}
	if diff := cmp.Diff(want.Result, got.Result); diff != "" {
		t.Errorf("Result map (-want +got):\n%s", diff)
	}
	if want.Reason != "" {
		for _, s := range strings.Split(want.Reason, "|") {
			if !strings.Contains(got.Reason, s) {
				t.Errorf("reason %q does not contain %q", got.Reason, s)
			}
		}
	}
	for _, key := range []string{fakeAPIKey, unauthedKey, "wrong-key-1234"} {
		if strings.Contains(got.Reason, key) {
			t.Errorf("reason leaks the API key: %q", got.Reason)
		}
	}
}

func respond(status int, header map[string]string, body string) func(http.ResponseWriter, *http.Request, []byte) bool {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return true
	}
}

func TestSink_Deliver(t *testing.T) {
	created := map[string]string{"invoice_number": "INV-2026-0042", "invoice_id": "1389133"}
	tests := []struct {
		name      string
		cfg       func(*Config)
		fake      func(f *fakeOnlinePajak)
		out       func(o *relay.Outbound)
		want      relay.Result
		wantPosts int
	}{
		{
			name:      "OK",
			want:      relay.Delivered(200, created),
			wantPosts: 1,
		},
		{
			name:      "APIKeyInvalid",
			cfg:       func(c *Config) { c.APIKey = "wrong-key-1234" },
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 403, Reason: "API_KEY_INVALID|An invalid api_key was supplied"},
			wantPosts: 1,
		},
		{
			name:      "APIKeyUnauthorized",
			cfg:       func(c *Config) { c.APIKey = unauthedKey },
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 403, Reason: "API_KEY_UNAUTHORIZED"},
			wantPosts: 1,
		},
		{
			name: "GatewayErrorEvenWith5xx",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = respond(503, nil, `{"error":{"code":"API_KEY_INVALID","message":"An invalid api_key was supplied."}}`)
			},
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 503, Reason: "API_KEY_INVALID"},
			wantPosts: 1,
		},
		{
			name:      "UnknownUser",
			cfg:       func(c *Config) { c.UserID = "9999" },
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 400, Reason: "HTTP 400: invalid token given"},
			wantPosts: 1,
		},
		{
			name: "RejectedByAPIValidation",
			out: func(o *relay.Outbound) {
				o.Data = bytes.Replace(o.Data, []byte(`"010.000-26.00000042"`), []byte(`"FP-2026-42"`), 1)
			},
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 400, Reason: "documentNumber must be XXX.XXX-XX.XXXXXXXX"},
			wantPosts: 1,
		},
		{
			name: "BusinessRejectionIn200",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = respond(200, nil, `{"code":400,"message":"Vendor PT Maju Jaya is not in the vendor list"}`)
			},
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 200, Reason: "code 400: Vendor PT Maju Jaya is not in the vendor list"},
			wantPosts: 1,
		},
		{
			name: "ServerErrorIn200",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = respond(200, nil, `{"code":500,"message":"The API encountered a fatal error"}`)
			},
			want:      relay.Result{Outcome: relay.OutcomeTransient, StatusCode: 200, Reason: "The API encountered a fatal error"},
			wantPosts: 1,
		},
		{
			name: "OtherClientError",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = respond(422, nil, `{"code":422,"message":"invoiceNumber already used"}`)
			},
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 422, Reason: "invoiceNumber already used"},
			wantPosts: 1,
		},
		{
			name: "TooManyRequestsRetryAfterSeconds",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = respond(429, map[string]string{"Retry-After": "120"}, `{"code":429,"message":"slow down"}`)
			},
			want:      relay.Result{Outcome: relay.OutcomeTransient, StatusCode: 429, RetryAfter: 120 * time.Second, Reason: "slow down"},
			wantPosts: 1,
		},
		{
			name: "UnavailableRetryAfterDate",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = respond(503, map[string]string{"Retry-After": testNow.Add(90 * time.Second).Format(http.TimeFormat)}, `<html>maintenance</html>`)
			},
			want:      relay.Result{Outcome: relay.OutcomeTransient, StatusCode: 503, RetryAfter: 90 * time.Second, Reason: "HTTP 503: <html>maintenance</html>"},
			wantPosts: 1,
		},
		{
			name:      "RequestTimeout",
			fake:      func(f *fakeOnlinePajak) { f.postHook = respond(408, nil, ``) },
			want:      relay.Result{Outcome: relay.OutcomeTransient, StatusCode: 408, Reason: "HTTP 408: (no message)"},
			wantPosts: 1,
		},
		{
			name:      "TooEarly",
			fake:      func(f *fakeOnlinePajak) { f.postHook = respond(425, nil, ``) },
			want:      relay.Result{Outcome: relay.OutcomeTransient, StatusCode: 425},
			wantPosts: 1,
		},
		{
			name:      "BadGateway",
			fake:      func(f *fakeOnlinePajak) { f.postHook = respond(502, nil, `bad gateway`) },
			want:      relay.Result{Outcome: relay.OutcomeTransient, StatusCode: 502},
			wantPosts: 1,
		},
		{
			name: "RedirectNotFollowed",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
					http.Redirect(w, r, "https://elsewhere.example/marketplace/v1/invoices?"+r.URL.RawQuery, http.StatusFound)
					return true
				}
			},
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 302, Reason: "redirect|api_key=REDACTED"},
			wantPosts: 1,
		},
		{
			name: "MessageEchoingTheKeyIsRedacted",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = respond(400, nil, `{"code":400,"message":"bad request for api_key=`+fakeAPIKey+`"}`)
			},
			want:      relay.Result{Outcome: relay.OutcomePermanent, StatusCode: 400, Reason: "api_key=REDACTED"},
			wantPosts: 1,
		},
		{
			name: "BillSkipped",
			out:  func(o *relay.Outbound) { o.Data = outbound(t, "bill_skipped").Data },
			want: relay.Result{Outcome: relay.OutcomeSkipped, Reason: `not an INVOICE transaction: type is "BILL"`},
		},
		{
			name: "CancelledSkipped",
			out:  func(o *relay.Outbound) { o.Data = outbound(t, "cancelled_skipped").Data },
			want: relay.Result{Outcome: relay.OutcomeSkipped, Reason: "cancelled"},
		},
		{
			name: "CancelEventSkipped",
			out:  func(o *relay.Outbound) { o.Type = "transaction.cancelled" },
			want: relay.Result{Outcome: relay.OutcomeSkipped, Reason: "transaction.cancelled"},
		},
		{
			name: "PaymentEventSkipped",
			out:  func(o *relay.Outbound) { o.Type = "payment.completed" },
			want: relay.Result{Outcome: relay.OutcomeSkipped, Reason: `"payment.completed" is not a transaction event`},
		},
		{
			name: "AlreadyCreatedSkipped",
			out: func(o *relay.Outbound) {
				o.Created = &relay.CreatedDocument{Sink: "tax", Subject: o.Subject, DocumentNumber: "INV-2026-0042"}
			},
			want: relay.Result{Outcome: relay.OutcomeSkipped, Reason: `invoice "INV-2026-0042" already created`},
		},
		{
			name: "MissingTaxFieldsPermanent",
			out:  func(o *relay.Outbound) { o.Data = outbound(t, "missing_tax_fields").Data },
			want: relay.Result{Outcome: relay.OutcomePermanent, Reason: "missing tax fields npwp, documentNumber, transactionType, transactionDetail, documentType"},
		},
		{
			name: "NotJSONPermanent",
			out:  func(o *relay.Outbound) { o.Data = json.RawMessage(`not json`) },
			want: relay.Result{Outcome: relay.OutcomePermanent, Reason: "not a JSON object"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOnlinePajak(t)
			if tt.fake != nil {
				tt.fake(f)
			}
			var mods []func(*Config)
			if tt.cfg != nil {
				mods = append(mods, tt.cfg)
			}
			s := MustNewSink(t, f, mods...)
			o := outbound(t, "line_items")
			if tt.out != nil {
				tt.out(o)
			}
			got := s.Deliver(context.Background(), o)
			checkResult(t, got, tt.want)
			if c := f.counts(); c.posts != tt.wantPosts || c.gets != 0 || c.duplicates != 0 {
				t.Errorf("fake saw %+v, want %d POST(s), no GET, no duplicate", c, tt.wantPosts)
			}
		})
	}
}

// TestSink_Deliver_Golden sends every golden request case to the strict fake:
// each must be accepted, and the body on the wire must be the golden one.
func TestSink_Deliver_Golden(t *testing.T) {
	for name, wantErr := range goldenCases {
		if wantErr != nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			f := newFakeOnlinePajak(t)
			dir := filepath.Join(goldenDir, name)
			cfg := goldenConfig(t, dir)
			s := MustNewSink(t, f, func(c *Config) {
				c.VATRate, c.TransactionType, c.TransactionDetail, c.DocumentType = cfg.VATRate, cfg.TransactionType, cfg.TransactionDetail, cfg.DocumentType
			})
			got := s.Deliver(context.Background(), outbound(t, name))
			if got.Outcome != relay.OutcomeDelivered {
				t.Fatalf("Deliver = %v: %s (fake rejected: %q)", got.Outcome, got.Reason, f.rejected())
			}
			var wire, golden any
			if err := json.Unmarshal(f.lastBody(), &wire); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "request.golden.json")), &golden); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(golden, wire); diff != "" {
				t.Errorf("body on the wire differs from the golden request (-golden +wire):\n%s", diff)
			}
		})
	}
}

// TestSink_Deliver_ExactAmountsOnTheWire checks the bytes, not a decoded
// value: 2^53+1 must arrive as the string "9007199254740993".
func TestSink_Deliver_ExactAmountsOnTheWire(t *testing.T) {
	f := newFakeOnlinePajak(t)
	s := MustNewSink(t, f)
	got := s.Deliver(context.Background(), outbound(t, "large_amounts"))
	if got.Outcome != relay.OutcomeDelivered {
		t.Fatalf("Deliver = %v: %s", got.Outcome, got.Reason)
	}
	body := f.lastBody()
	// The Result carries the body the server received, never the URL and
	// its api_key.
	if !bytes.Equal(got.Request, body) {
		t.Errorf("Result.Request\n got %s\nwant %s", got.Request, body)
	}
	for _, want := range []string{`"unitPrice":"9007199254740993"`, `"discount":"900719925474099.37"`, `"vatRate":12`, `"revision":0`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body %s does not contain %s", body, want)
		}
	}
}

// TestSink_Deliver_UnknownOutcome: the POST was written but no answer came.
// The attempt is Unknown and nothing else happens in it: a look-up right
// away would find nothing while the API is still creating the invoice.
// RetryAfter schedules the first look-up (lookupDelay: grace/8 after a
// short attempt).
func TestSink_Deliver_UnknownOutcome(t *testing.T) {
	stall := func(f *fakeOnlinePajak) func(http.ResponseWriter, *http.Request, []byte) bool {
		return func(_ http.ResponseWriter, r *http.Request, _ []byte) bool {
			f.stall(r)
			return true
		}
	}
	firstLookup := DefaultLookupGrace / 8
	tests := []struct {
		name string
		fake func(f *fakeOnlinePajak)
		cfg  func(*Config)
		want relay.Result
		// fake counts at the end
		want2 fakeCounts
	}{
		{
			name:  "CreatedThenStalled",
			fake:  func(f *fakeOnlinePajak) { f.stallAfterCreate = true },
			want:  relay.Result{Outcome: relay.OutcomeUnknown, RetryAfter: firstLookup, Reason: `no answer after invoice "INV-2026-0042" was sent|deadline exceeded|looked up by invoiceNumber before it is sent again|api_key=REDACTED`},
			want2: fakeCounts{posts: 1, invoices: 1},
		},
		{
			name:  "StalledBeforeCreating",
			fake:  func(f *fakeOnlinePajak) { f.postHook = stall(f) },
			want:  relay.Result{Outcome: relay.OutcomeUnknown, RetryAfter: firstLookup, Reason: `no answer after invoice "INV-2026-0042" was sent|deadline exceeded`},
			want2: fakeCounts{posts: 1},
		},
		{
			name:  "LongerGrace",
			fake:  func(f *fakeOnlinePajak) { f.postHook = stall(f) },
			cfg:   func(c *Config) { c.LookupGrace = 16 * time.Minute },
			want:  relay.Result{Outcome: relay.OutcomeUnknown, RetryAfter: 2 * time.Minute, Reason: "deadline exceeded"},
			want2: fakeCounts{posts: 1},
		},
		{
			name: "ConnectionDroppedAfterCreate",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
					f.addInvoice("INV-2026-0042")
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
					return true
				}
			},
			want:  relay.Result{Outcome: relay.OutcomeUnknown, RetryAfter: firstLookup, Reason: `no answer after invoice "INV-2026-0042" was sent`},
			want2: fakeCounts{posts: 1, invoices: 1},
		},
		{
			name: "UnreadableSuccess",
			fake: func(f *fakeOnlinePajak) {
				f.postHook = func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
					f.addInvoice("INV-2026-0042")
					w.WriteHeader(http.StatusOK)
					_, _ = w.Write([]byte(`<html>Invoice saved</html>`))
					return true
				}
			},
			want:  relay.Result{Outcome: relay.OutcomeUnknown, StatusCode: 200, RetryAfter: firstLookup, Reason: `invoice "INV-2026-0042": HTTP 200 without code 200`},
			want2: fakeCounts{posts: 1, invoices: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case waits out a deadline; in parallel they cost one.
			t.Parallel()
			f := newFakeOnlinePajak(t)
			tt.fake(f)
			var mods []func(*Config)
			if tt.cfg != nil {
				mods = append(mods, tt.cfg)
			}
			s := MustNewSink(t, f, mods...)
			// The attempt's deadline: ample to connect and send even on a
			// loaded machine, then the fake stalls past it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			got := s.Deliver(ctx, outbound(t, "line_items"))
			checkResult(t, got, tt.want)
			if c := f.counts(); c != tt.want2 {
				t.Errorf("fake saw %+v, want %+v", c, tt.want2)
			}
		})
	}
}

// TestSink_Deliver_NotSent: a failure before the request was written is
// transient, with no look-up.
func TestSink_Deliver_NotSent(t *testing.T) {
	t.Run("ConnectionRefused", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		base := dead.URL
		dead.Close()
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		s, err := New("SINK_TAX_", Config{BaseURL: base, APIKey: fakeAPIKey, UserID: fakeUserID}, Deps{HTTP: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatal(err)
		}
		got := s.Deliver(context.Background(), outbound(t, "line_items"))
		checkResult(t, got, relay.Result{Outcome: relay.OutcomeTransient, Reason: `sending invoice "INV-2026-0042": Post "http://127.0.0.1|api_key=REDACTED|connect`})
	})
	t.Run("ContextAlreadyDone", func(t *testing.T) {
		f := newFakeOnlinePajak(t)
		s := MustNewSink(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got := s.Deliver(ctx, outbound(t, "line_items"))
		checkResult(t, got, relay.Result{Outcome: relay.OutcomeTransient, Reason: "context canceled"})
		if c := f.counts(); c != (fakeCounts{}) {
			t.Errorf("fake saw %+v, want nothing", c)
		}
	})
}

// foundByLookup is the result of a look-up that found the invoice.
func foundByLookup() relay.Result {
	r := relay.Delivered(200, map[string]string{"invoice_number": "INV-2026-0042", "invoice_id": "1389133", "found_by": "lookup"})
	r.Lookup = true
	return r
}

// TestSink_Deliver_PriorUnknown: an earlier attempt, begun at priorAt, may
// have created the invoice (it timed out, or the process died mid-request):
// the attempt is a look-up, never a POST. "Not found" is a Recheck until
// LOOKUP_GRACE after priorAt, then a Transient look-up (the dispatcher sends
// again); a failed look-up is Unknown.
func TestSink_Deliver_PriorUnknown(t *testing.T) {
	lookupAnswers := func(status int, header map[string]string, body string) func(f *fakeOnlinePajak) {
		return func(f *fakeOnlinePajak) {
			f.getHook = func(w http.ResponseWriter, _ *http.Request) bool {
				respond(status, header, body)(w, nil, nil)
				return true
			}
		}
	}
	const grace = DefaultLookupGrace
	tests := []struct {
		name    string
		prior   bool
		since   time.Duration // testNow - PriorUnknownAt; -1: zero PriorUnknownAt
		attempt int
		cfg     func(*Config)
		fake    func(f *fakeOnlinePajak)
		want    relay.Result
		counts  fakeCounts
	}{
		{
			name:  "ExistsNoPost",
			prior: true, since: 4 * time.Second, attempt: 2,
			fake:   func(f *fakeOnlinePajak) { f.addInvoice("INV-2026-0042") },
			want:   foundByLookup(),
			counts: fakeCounts{gets: 1, invoices: 1},
		},
		{
			name:  "NotFoundSoonAfter_LooksAgain",
			prior: true, since: 4 * time.Second, attempt: 2,
			want:   relay.Result{Outcome: relay.OutcomeRecheck, StatusCode: 404, RetryAfter: grace / 8, Lookup: true, Reason: `invoice "INV-2026-0042" not found 4s after|may still be creating it|not sent again before 2m0s`},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "NotFoundMidGrace_WaitsAsLongAgain",
			prior: true, since: 40 * time.Second, attempt: 4,
			want:   relay.Result{Outcome: relay.OutcomeRecheck, StatusCode: 404, RetryAfter: 40 * time.Second, Lookup: true},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "NotFoundLate_LastLookUpAtGraceEnd",
			prior: true, since: 100 * time.Second, attempt: 5,
			want:   relay.Result{Outcome: relay.OutcomeRecheck, StatusCode: 404, RetryAfter: 20 * time.Second, Lookup: true},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "NotFoundJustBeforeGrace_NoPost",
			prior: true, since: grace - time.Millisecond, attempt: 6,
			want:   relay.Result{Outcome: relay.OutcomeRecheck, StatusCode: 404, RetryAfter: time.Millisecond, Lookup: true},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "NotFoundAfterGrace_SendAgainNextAttempt",
			prior: true, since: grace, attempt: 7,
			want:   relay.Result{Outcome: relay.OutcomeTransient, StatusCode: 404, Lookup: true, Reason: `invoice "INV-2026-0042" not found 2m0s after|LOOKUP_GRACE 2m0s|created nothing; sending again`},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "ConfiguredGrace",
			prior: true, since: 5 * time.Minute, attempt: 3,
			cfg:    func(c *Config) { c.LookupGrace = 10 * time.Minute },
			want:   relay.Result{Outcome: relay.OutcomeRecheck, StatusCode: 404, RetryAfter: 5 * time.Minute, Lookup: true},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "UnknownStartCountsFromNow",
			prior: true, since: -1, attempt: 2,
			want:   relay.Result{Outcome: relay.OutcomeRecheck, StatusCode: 404, RetryAfter: grace / 8, Lookup: true},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "LookupFails5xx_NoPost",
			prior: true, since: 4 * time.Second, attempt: 2,
			fake:   lookupAnswers(http.StatusBadGateway, nil, ""),
			want:   relay.Result{Outcome: relay.OutcomeUnknown, StatusCode: 502, Lookup: true, Reason: `earlier attempt's outcome is unknown|look-up of invoice "INV-2026-0042" failed|HTTP 502`},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "LookupFailsAfterGrace_NoPost",
			prior: true, since: 10 * time.Minute, attempt: 9,
			fake:   lookupAnswers(http.StatusInternalServerError, nil, `{"code":500,"message":"The API encountered a fatal error"}`),
			want:   relay.Result{Outcome: relay.OutcomeUnknown, StatusCode: 500, Lookup: true, Reason: "HTTP 500: The API encountered a fatal error"},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "LookupUnreadable_NoPost",
			prior: true, since: 4 * time.Second, attempt: 2,
			fake:   lookupAnswers(http.StatusOK, nil, `<html>maintenance</html>`),
			want:   relay.Result{Outcome: relay.OutcomeUnknown, StatusCode: 200, Lookup: true, Reason: "HTTP 200: <html>maintenance</html>"},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "LookupRateLimited_LooksAgainAfterRetryAfter",
			prior: true, since: 4 * time.Second, attempt: 2,
			fake:   lookupAnswers(http.StatusTooManyRequests, map[string]string{"Retry-After": "60"}, `{"code":429,"message":"slow down"}`),
			want:   relay.Result{Outcome: relay.OutcomeRecheck, StatusCode: 429, RetryAfter: time.Minute, Lookup: true, Reason: "rate limited (HTTP 429)"},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "LookupRateLimitedAfterGrace_NeverPosts",
			prior: true, since: 3 * time.Minute, attempt: 8,
			fake:   lookupAnswers(http.StatusTooManyRequests, nil, `{"code":429,"message":"slow down"}`),
			want:   relay.Result{Outcome: relay.OutcomeRecheck, StatusCode: 429, RetryAfter: grace / 8, Lookup: true},
			counts: fakeCounts{gets: 1},
		},
		{
			name:  "FirstAttemptAfterCrash",
			prior: true, since: 0, attempt: 1,
			fake:   func(f *fakeOnlinePajak) { f.addInvoice("INV-2026-0042") },
			want:   foundByLookup(),
			counts: fakeCounts{gets: 1, invoices: 1},
		},
		{
			name:    "RetryLooksUpToo",
			attempt: 3,
			fake:    func(f *fakeOnlinePajak) { f.addInvoice("INV-2026-0042") },
			want:    foundByLookup(),
			counts:  fakeCounts{gets: 1, invoices: 1},
		},
		{
			name:    "RetryNotFoundPosts",
			attempt: 3,
			want:    relay.Delivered(200, map[string]string{"invoice_number": "INV-2026-0042", "invoice_id": "1389133"}),
			counts:  fakeCounts{posts: 1, gets: 1, invoices: 1},
		},
		{
			name:    "RetryLookupFailurePostsAnyway",
			attempt: 3,
			fake:    lookupAnswers(http.StatusBadGateway, nil, ""),
			want:    relay.Delivered(200, map[string]string{"invoice_number": "INV-2026-0042", "invoice_id": "1389133"}),
			counts:  fakeCounts{posts: 1, gets: 1, invoices: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOnlinePajak(t)
			if tt.fake != nil {
				tt.fake(f)
			}
			var mods []func(*Config)
			if tt.cfg != nil {
				mods = append(mods, tt.cfg)
			}
			s := MustNewSink(t, f, mods...)
			o := outbound(t, "line_items")
			o.PriorUnknown, o.Attempt = tt.prior, tt.attempt
			if tt.prior && tt.since >= 0 {
				o.PriorUnknownAt = testNow.Add(-tt.since)
			}
			got := s.Deliver(context.Background(), o)
			checkResult(t, got, tt.want)
			if c := f.counts(); c != tt.counts {
				t.Errorf("fake saw %+v, want %+v", c, tt.counts)
			}
		})
	}
}

func TestLookupDelay(t *testing.T) {
	// The look-ups after a 3s timeout with the default grace: spread over
	// the grace, the last exactly at its end, never past it.
	grace := DefaultLookupGrace
	since := 3 * time.Second
	var at []time.Duration
	for since < grace {
		since += lookupDelay(since, grace)
		at = append(at, since)
	}
	want := []time.Duration{18 * time.Second, 36 * time.Second, 72 * time.Second, 2 * time.Minute}
	if diff := cmp.Diff(want, at); diff != "" {
		t.Errorf("look-ups at (-want +got):\n%s", diff)
	}
	// A short grace still waits at least a second, and ends at the grace.
	if got := lookupDelay(0, 4*time.Second); got != time.Second {
		t.Errorf("lookupDelay(0, 4s) = %v, want 1s", got)
	}
	if got := lookupDelay(3500*time.Millisecond, 4*time.Second); got != 500*time.Millisecond {
		t.Errorf("lookupDelay(3.5s, 4s) = %v, want 500ms", got)
	}
	if got := lookupDelay(5*time.Minute, grace); got != grace/8 {
		t.Errorf("lookupDelay past the grace = %v, want %v", got, grace/8)
	}
}

func TestSink_Lookup(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(w http.ResponseWriter)
		wantFound bool
		wantErr   string
	}{
		{"Found", func(w http.ResponseWriter) {
			writeJSON(w, 200, map[string]any{"code": 200, "response": map[string]any{"invoice": map[string]any{"invoiceId": "abc-1"}}})
		}, true, ""},
		{"NotFound404", func(w http.ResponseWriter) { apiError(w, 404, "Invoice not found") }, false, ""},
		{"NotFoundCodeIn200", func(w http.ResponseWriter) { writeJSON(w, 200, map[string]any{"code": 404, "message": "not found"}) }, false, ""},
		{"NotFound400Message", func(w http.ResponseWriter) { apiError(w, 400, "Invoice with number INV-2026-0042 not found") }, false, ""},
		{"NullInvoice", func(w http.ResponseWriter) {
			writeJSON(w, 200, map[string]any{"code": 200, "response": map[string]any{"invoice": nil}})
		}, false, ""},
		{"OtherInvoice", func(w http.ResponseWriter) {
			writeJSON(w, 200, map[string]any{"code": 200, "response": map[string]any{"invoice": map[string]any{"invoiceId": 7, "invoiceNumber": "INV-9"}}})
		}, false, `answered invoice "INV-9"`},
		{"NoResponse", func(w http.ResponseWriter) { writeJSON(w, 200, map[string]any{"code": 200}) }, false, "HTTP 200"},
		{"Other400", func(w http.ResponseWriter) { apiError(w, 400, "invalid token given") }, false, "HTTP 400: invalid token given"},
		{"NotJSON", func(w http.ResponseWriter) { w.WriteHeader(200); _, _ = w.Write([]byte("ok")) }, false, "HTTP 200: ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOnlinePajak(t)
			f.getHook = func(w http.ResponseWriter, _ *http.Request) bool { tt.answer(w); return true }
			s := MustNewSink(t, f)
			found, err := s.lookup(context.Background(), "INV-2026-0042")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("lookup: %v, %v; want error with %q", found, err, tt.wantErr)
				}
				return
			}
			if err != nil || (found != nil) != tt.wantFound {
				t.Fatalf("lookup = %v, %v; want found %v", found, err, tt.wantFound)
			}
		})
	}
}

func TestSink_RedactErr(t *testing.T) {
	const key = "k+y/ä=&x"
	s, err := New("SINK_TAX_", Config{APIKey: key, UserID: "1"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{s.url(nil), "raw " + key, "query " + strings.ReplaceAll(s.url(nil), "&", " ")} {
		got := s.redact(in)
		if strings.Contains(got, key) || strings.Contains(got, "k%2By%2F") || strings.Contains(got, "k+y%2F") {
			t.Errorf("redact(%q) = %q, still has the key", in, got)
		}
	}
}
