package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// TestMain fails the package when a test leaves a goroutine behind (the
// store's writer, HTTP connections).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testToken = "tok_console_test_4f1c"

// fixture is a console over a real bbolt store with two sinks: erp (http)
// and ap (accountingplus, create-once, ordered by subject).
type fixture struct {
	tb       testing.TB
	store    *store.Store
	ops      *relay.Operations
	con      *Console
	e        *echo.Echo
	clock    *testkit.Clock
	received *prometheus.CounterVec
}

// MustOpenFixture builds a fixture; token "" is no-token mode.
func MustOpenFixture(tb testing.TB, token string) *fixture {
	tb.Helper()
	st, err := store.Open(filepath.Join(tb.TempDir(), "relay.db"), store.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	f := &fixture{tb: tb, store: st, clock: testkit.NewClock(time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC))}
	routes := []relay.Route{
		{Sink: "erp", Events: []string{"*"}},
		{Sink: "ap", Events: []string{"transaction.sent"}, OrderBySubject: true, CreateOnce: true},
	}
	f.ops = &relay.Operations{Store: st, Receiver: &relay.Receiver{Store: st, Routes: routes, Source: "tagihanai"}, Now: f.clock.Now}
	reg := prometheus.NewRegistry()
	f.received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: receivedMetric, Help: "test"}, []string{"result"})
	reg.MustRegister(f.received)
	f.con = f.newConsole(token, reg)
	f.e = newEcho(f.con)
	return f
}

// newEcho returns an Echo with only the console mounted.
func newEcho(con *Console) *echo.Echo {
	e := echo.New()
	con.Mount(e)
	return e
}

// fixturesOpts are fixture options for an invoice numbered doc.
func fixturesOpts(doc string) fixtures.Options {
	return fixtures.Options{DocumentNumber: doc}
}

func (f *fixture) newConsole(token string, g prometheus.Gatherer) *Console {
	f.tb.Helper()
	con, err := New(Config{
		Ops: f.ops, Token: token, Gatherer: g, Now: f.clock.Now,
		Sinks: []Sink{{Name: "erp", Kind: "http"}, {Name: "ap", Kind: "accountingplus", Label: "AccountingPlus", CreateOnce: true}},
	})
	if err != nil {
		f.tb.Fatal(err)
	}
	return con
}

// ingest stores a transaction.sent (or typ) delivery with the document
// number doc and returns its event id.
func (f *fixture) ingest(typ string, o fixtures.Options) string {
	f.tb.Helper()
	if o.Now.IsZero() {
		o.Now = f.clock.Now()
	}
	body, err := fixtures.Body(typ, o)
	if err != nil {
		f.tb.Fatal(err)
	}
	return f.ingestBody(body)
}

// ingestBody stores body as a delivery received now.
func (f *fixture) ingestBody(body []byte) string {
	f.tb.Helper()
	rc, err := f.ops.Receiver.Receive(context.Background(), relay.Delivery{
		ReceivedAt: f.clock.Now(), Body: body,
		Headers: map[string]string{"Content-Type": "application/json", relay.HeaderSignature: "t=1,v1=00"},
	})
	if err != nil {
		f.tb.Fatal(err)
	}
	return rc.ID
}

// finish claims id's delivery to sink and records one attempt ending in t.
func (f *fixture) finish(sink, id string, a relay.Attempt, t relay.Transition) {
	f.tb.Helper()
	ctx := context.Background()
	claims, _, err := f.store.ClaimDue(ctx, sink, f.clock.Now().Add(time.Second), 100)
	if err != nil {
		f.tb.Fatal(err)
	}
	found := false
	for _, c := range claims {
		if c.EventID == id {
			found = true
			continue
		}
		// Put back what the test did not mean to claim.
		if err := f.store.Finish(ctx, sink, c.EventID, relay.Attempt{At: f.clock.Now(), Outcome: "transient"},
			relay.Transition{State: relay.StatePending, NextAt: f.clock.Now()}); err != nil {
			f.tb.Fatal(err)
		}
	}
	if !found {
		f.tb.Fatalf("no due delivery of %s to %s", id, sink)
	}
	a.At = f.clock.Now()
	if err := f.store.Finish(ctx, sink, id, a, t); err != nil {
		f.tb.Fatal(err)
	}
}

// kill makes id's delivery to sink a dead letter (a 400).
func (f *fixture) kill(sink, id string) {
	f.tb.Helper()
	f.finish(sink, id, relay.Attempt{Duration: 12 * time.Millisecond, Outcome: "permanent", StatusCode: 400, Error: "http 400: customer code unknown"},
		relay.Transition{State: relay.StateDead, Reason: "http 400: customer code unknown"})
}

// stall makes id's delivery to sink need review (an unknown outcome).
func (f *fixture) stall(sink, id string) {
	f.tb.Helper()
	f.finish(sink, id, relay.Attempt{Duration: 30 * time.Second, Outcome: "unknown", Error: "context deadline exceeded"},
		relay.Transition{State: relay.StateNeedsReview, Reason: "outcome unknown: context deadline exceeded"})
}

// deliver records a successful delivery of id to sink with result.
func (f *fixture) deliver(sink, id, subject string, result map[string]string) {
	f.tb.Helper()
	t := relay.Transition{State: relay.StateDelivered, Result: result}
	if doc := result["document_number"]; doc != "" {
		t.Created = &relay.CreatedDocument{Sink: sink, Subject: subject, EventID: id, DocumentNumber: doc, CreatedAt: f.clock.Now()}
	}
	f.finish(sink, id, relay.Attempt{Duration: 80 * time.Millisecond, Outcome: "delivered", StatusCode: 201}, t)
}

// event reads an event from the store.
func (f *fixture) event(id string) *relay.EventDetail {
	f.tb.Helper()
	d, err := f.ops.GetEvent(context.Background(), id)
	if err != nil {
		f.tb.Fatal(err)
	}
	return d
}

// state is the state of id's delivery to sink.
func (f *fixture) state(id, sink string) string {
	f.tb.Helper()
	for _, d := range f.event(id).Deliveries {
		if d.Sink == sink {
			return d.State
		}
	}
	f.tb.Fatalf("event %s has no delivery to %s", id, sink)
	return ""
}

// do serves r.
func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.e.ServeHTTP(w, r)
	return w
}

// operator is a logged-in browser: its session cookie and CSRF token.
type operator struct {
	cookie *http.Cookie
	csrf   string
}

// get requests path as op (nil: anonymous).
func (f *fixture) get(op *operator, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if op != nil && op.cookie != nil {
		r.AddCookie(op.cookie)
	}
	return f.do(r)
}

// post submits form to path as op the way a browser on the console page
// does (same-origin); form["csrf"] is set to op's token unless present.
func (f *fixture) post(op *operator, path string, form url.Values) *httptest.ResponseRecorder {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && op != nil {
		form.Set("csrf", op.csrf)
	}
	return f.postWith(op, path, form, func(r *http.Request) {
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Origin", "http://"+r.Host)
	})
}

// postWith submits form as is (no CSRF token added) after edit changes the
// request.
func (f *fixture) postWith(op *operator, path string, form url.Values, edit func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if op != nil && op.cookie != nil {
		r.AddCookie(op.cookie)
	}
	if edit != nil {
		edit(r)
	}
	return f.do(r)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token of a rendered form.
func csrfOf(tb testing.TB, body string) string {
	tb.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		tb.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

// cookieOf returns the response's cookie named name.
func cookieOf(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// login logs in as name through the login form and returns the operator.
func (f *fixture) login(name string) *operator {
	f.tb.Helper()
	w := f.get(nil, "/ui/login")
	if w.Code != http.StatusOK {
		f.tb.Fatalf("GET /ui/login = %d", w.Code)
	}
	pre := &operator{cookie: cookieOf(w, loginCookie), csrf: csrfOf(f.tb, w.Body.String())}
	w = f.post(pre, "/ui/login", url.Values{"token": {testToken}, "name": {name}})
	if w.Code != http.StatusSeeOther {
		f.tb.Fatalf("POST /ui/login = %d, want 303:\n%s", w.Code, w.Body)
	}
	ck := cookieOf(w, sessionCookie)
	if ck == nil {
		f.tb.Fatal("login set no session cookie")
	}
	op := &operator{cookie: ck}
	page := f.get(op, "/ui/")
	if page.Code != http.StatusOK {
		f.tb.Fatalf("GET /ui/ after login = %d", page.Code)
	}
	op.csrf = csrfOf(f.tb, page.Body.String())
	return op
}

// wantStatus fails unless w has status code.
func wantStatus(tb testing.TB, w *httptest.ResponseRecorder, code int) {
	tb.Helper()
	if w.Code != code {
		tb.Fatalf("status = %d, want %d; body:\n%s", w.Code, code, w.Body)
	}
}

// wantLocation fails unless w redirects (303) to loc.
func wantLocation(tb testing.TB, w *httptest.ResponseRecorder, loc string) {
	tb.Helper()
	wantStatus(tb, w, http.StatusSeeOther)
	if got := w.Header().Get("Location"); got != loc {
		tb.Fatalf("Location = %q, want %q", got, loc)
	}
}

// wantBody fails unless the body holds every string of want.
func wantBody(tb testing.TB, w *httptest.ResponseRecorder, want ...string) {
	tb.Helper()
	body := w.Body.String()
	for _, s := range want {
		if !strings.Contains(body, s) {
			tb.Fatalf("body lacks %q:\n%s", s, body)
		}
	}
}

// history returns id's operator history as "operator action sink" lines.
func (f *fixture) history(id string) []string {
	f.tb.Helper()
	var out []string
	for _, h := range f.event(id).Operations {
		out = append(out, h.Operator+" "+h.Action+" "+h.Sink)
	}
	return out
}
