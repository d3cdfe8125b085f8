package tagihanaitest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BasePath is the path of the API under the server's address.
const BasePath = "/api/v1"

// DefaultLatency is how long the server takes over each request unless
// SetLatency says otherwise.
const DefaultLatency = 2 * time.Millisecond

// Scopes are the API key scopes the reference lists.
var Scopes = []string{
	"transactions:read", "transactions:write", "parties:read", "parties:write",
	"payments:read", "payments:write", "subscriptions:read", "subscriptions:write",
	"webhooks:read", "webhooks:write", "settings:read", "settings:write",
}

// Server is a fake TagihanAI API on an httptest.Server. It is safe for
// concurrent use; its knobs may be turned while requests run.
type Server struct {
	tb     testing.TB
	apiKey string
	srv    *httptest.Server
	poster *http.Client // posts deliveries to subscription URLs
	tr     *http.Transport

	mu                 sync.Mutex
	now                func() time.Time
	latency            time.Duration
	revoked            bool
	scopes             map[string]bool // nil: every scope
	limitN             int
	limitPer           time.Duration
	admitted           []time.Time // requests let through inside the window
	fail5xx            int
	requests           []Request
	subs               []*Subscription // in creation order
	logs               map[string][]Delivery
	txs                []*storedTx // in insertion order
	hideDeliveryIDs    bool
	deliveryPagination bool
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string // escaped, e.g. /api/v1/webhooks/3f…/deliveries
	Query  string // raw query, e.g. page=2&per_page=100
	Time   time.Time
	Status int // what the server answered
}

// String is "METHOD path?query".
func (r Request) String() string {
	if r.Query == "" {
		return r.Method + " " + r.Path
	}
	return r.Method + " " + r.Path + "?" + r.Query
}

// Param returns query parameter name of r, "" when absent.
func (r Request) Param(name string) string {
	q, _ := url.ParseQuery(r.Query)
	return q.Get(name)
}

// New starts a fake TagihanAI API that accepts apiKey (with every scope)
// and closes it when the test ends.
func New(tb testing.TB, apiKey string) *Server {
	tb.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // deliveries go straight to the subscription URL
	s := &Server{
		tb:      tb,
		apiKey:  apiKey,
		tr:      tr,
		now:     time.Now,
		latency: DefaultLatency,
		logs:    map[string][]Delivery{},
	}
	s.poster = &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.srv = httptest.NewServer(s.routes())
	tb.Cleanup(func() {
		s.srv.Close()
		tr.CloseIdleConnections()
	})
	return s
}

// URL is the API base, http://127.0.0.1:port/api/v1: what
// TAGIHANAI_API_BASE_URL would be.
func (s *Server) URL() string { return s.srv.URL + BasePath }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// RevokeKey makes every later call answer 401, as TagihanAI does for a
// revoked key.
func (s *Server) RevokeKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// SetScopes limits the key to scopes (see Scopes): a call to an endpoint
// that needs another answers 403 forbidden. With no argument the key has
// no scope at all.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = map[string]bool{}
	for _, sc := range scopes {
		s.scopes[sc] = true
	}
}

// Limit lets through at most n requests in any window of per (by the
// server's clock); the ones over answer 429 rate-limit-exceeded with
// Retry-After, in whole seconds, until the oldest leaves the window.
// Requests answered 429 do not count. n <= 0 removes the limit.
func (s *Server) Limit(n int, per time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitN, s.limitPer, s.admitted = n, per, nil
}

// Fail5xx makes the next n requests answer 500 internal-error, before
// anything else is checked.
func (s *Server) Fail5xx(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail5xx = n
}

// SetLatency sets how long the server takes over each request before
// answering (DefaultLatency by default; 0 for none).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetClock makes the server read the time from now: request times, the
// rate limit window, created_at of what it creates and the timestamps it
// signs deliveries with. nil means time.Now.
func (s *Server) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetHTTPClient sets the client that posts deliveries and test events to
// subscription URLs, e.g. an httptest TLS server's Client() for an https
// receiver. The default trusts no test certificate and follows no
// redirect.
func (s *Server) SetHTTPClient(hc *http.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.poster = hc
}

// Requests returns every request received so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// clock returns the current time by the server's clock.
func (s *Server) clock() time.Time {
	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	return now()
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serve is what every request goes through before its endpoint: logged,
// delayed, then failed on purpose (Fail5xx), authenticated (401), rate
// limited (429); the endpoint checks its scope (403).
func (s *Server) serve(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		now := s.now()
		i := len(s.requests)
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Time: now})
		latency := s.latency
		s.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			s.mu.Lock()
			s.requests[i].Status = sw.status
			s.mu.Unlock()
		}()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if s.admit(sw, r) {
			mux.ServeHTTP(sw, r)
		}
	})
}

// admit answers the request itself when it fails on purpose, is not
// authenticated or is over the rate limit, and reports whether it did not.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail5xx > 0 {
		s.fail5xx--
		writeError(w, http.StatusInternalServerError, "internal-error", "Unexpected server error")
		return false
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	switch {
	case !ok || token == "" || token != s.apiKey:
		writeError(w, http.StatusUnauthorized, "unauthorized", "Missing or invalid API key")
		return false
	case s.revoked:
		writeError(w, http.StatusUnauthorized, "unauthorized", "API key has been revoked")
		return false
	}
	if s.limitN > 0 {
		now := s.now()
		kept := s.admitted[:0]
		for _, t := range s.admitted {
			if now.Sub(t) < s.limitPer {
				kept = append(kept, t)
			}
		}
		s.admitted = kept
		if len(s.admitted) >= s.limitN {
			wait := s.admitted[0].Add(s.limitPer).Sub(now)
			secs := max(int64((wait+time.Second-1)/time.Second), 1)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			writeError(w, http.StatusTooManyRequests, "rate-limit-exceeded", "Rate limit exceeded, retry after delay")
			return false
		}
		s.admitted = append(s.admitted, now)
	}
	return true
}

// routes lists every endpoint the fake serves.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, scope string, h http.HandlerFunc) {
		mux.Handle(pattern, s.requireScope(scope, h))
	}
	handle("GET "+BasePath+"/transactions", "transactions:read", s.handleListTransactions)
	handle("GET "+BasePath+"/transactions/{id}", "transactions:read", s.handleGetTransaction)
	handle("GET "+BasePath+"/webhooks", "webhooks:read", s.handleListWebhooks)
	handle("POST "+BasePath+"/webhooks", "webhooks:write", s.handleCreateWebhook)
	handle("GET "+BasePath+"/webhooks/{id}", "webhooks:read", s.handleGetWebhook)
	handle("PATCH "+BasePath+"/webhooks/{id}", "webhooks:write", s.handleUpdateWebhook)
	handle("DELETE "+BasePath+"/webhooks/{id}", "webhooks:write", s.handleDeleteWebhook)
	handle("GET "+BasePath+"/webhooks/{id}/deliveries", "webhooks:read", s.handleListDeliveries)
	handle("POST "+BasePath+"/webhooks/{id}/test", "webhooks:write", s.handleTestWebhook)
	for _, p := range []string{"/transactions", "/transactions/{id}", "/webhooks", "/webhooks/{id}", "/webhooks/{id}/deliveries", "/webhooks/{id}/test"} {
		mux.HandleFunc(BasePath+p, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, "method-not-allowed", r.Method+" is not allowed here")
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not-found", "No such endpoint")
	})
	return s.serve(mux)
}

// requireScope answers 403 when the key lacks scope.
func (s *Server) requireScope(scope string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ok := s.scopes == nil || s.scopes[scope]
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusForbidden, "forbidden", "Valid key but insufficient scopes: this endpoint requires "+scope)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// writeError answers an error the way the reference's Error Types name
// them: {"error":{"type":"not-found","message":"..."}}.
func writeError(w http.ResponseWriter, status int, typ, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"type": typ, "message": message}})
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// maxRequestBody bounds what the fake reads of a request body.
const maxRequestBody = 1 << 20

// readJSON decodes r's body into v, answering 400 (and reporting false)
// when it is not JSON of the right shape.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		writeError(w, http.StatusBadRequest, "bad-request", "Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad-request", "Malformed JSON: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad-request", "Malformed JSON: data after the object")
		return false
	}
	return true
}

// paging reads page and per_page (defaults 1 and 20, per_page at most 100),
// answering 400 and reporting false when they are not.
func paging(w http.ResponseWriter, r *http.Request) (page, perPage int, ok bool) {
	q := r.URL.Query()
	page, perPage = 1, 20
	for _, p := range []struct {
		name string
		dst  *int
	}{{"page", &page}, {"per_page", &perPage}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad-request", p.name+" must be a positive integer")
			return 0, 0, false
		}
		*p.dst = n
	}
	if perPage > 100 {
		writeError(w, http.StatusBadRequest, "bad-request", "per_page must be at most 100")
		return 0, 0, false
	}
	return page, perPage, true
}

// window returns the slice bounds of page of n items.
func window(n, page, perPage int) (lo, hi int) {
	lo = min((page-1)*perPage, n)
	hi = min(lo+perPage, n)
	return lo, hi
}

// pageInfo is a list answer's pagination.
type pageInfo struct {
	Total   int  `json:"total"`
	Page    int  `json:"page"`
	PerPage int  `json:"per_page"`
	HasMore bool `json:"has_more"`
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// timestamp formats t as TagihanAI does: RFC 3339, UTC, whole seconds.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// errorf reports a misuse of the fake by the test.
func (s *Server) errorf(format string, args ...any) {
	s.tb.Helper()
	s.tb.Errorf("tagihanaitest: "+format, args...)
}

// withTimeout bounds a post to a subscription URL.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 10*time.Second)
}
