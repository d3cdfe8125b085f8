package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sources"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// TestMain fails the package when a test leaves a goroutine behind (store
// writers, servers, client connections).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Secrets as configured (raw encoding: the whsec_ prefix is part of the key).
const (
	primarySecret = "whsec_primary-test-secret-0001"
	rotatedSecret = "whsec_rotated-test-secret-0002"
	adminToken    = "admin-token-for-tests"
	tolerance     = 5 * time.Minute
)

// t0 is where every test clock starts.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// defaultRoutes are the sinks of a test relay: erp wants everything (but
// test events), ap only transaction.sent.
var defaultRoutes = []relay.Route{
	{Sink: "erp", Events: []string{"*"}, OrderBySubject: true},
	{Sink: "ap", Events: []string{"transaction.sent"}, OrderBySubject: true},
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envOptions tune a test relay; the zero value is the default relay.
type envOptions struct {
	Routes  []relay.Route // nil: defaultRoutes
	Token   string        // admin token; "" leaves /v1 open
	MaxBody int64         // 0: 1 MiB, the production default
	// MaxInflight is RELAY_MAX_INFLIGHT_BYTES; 0: the default, 64 MiB.
	MaxInflight int64
	// IngestStore, when set, wraps the store the receiver ingests into (to
	// inject failures); the admin API keeps the real store.
	IngestStore func(relay.Store) relay.Store
	// AllowedHosts and Proxies are RELAY_ADMIN_ALLOWED_HOSTS and
	// RELAY_TRUSTED_PROXIES, parsed.
	AllowedHosts []string
	Proxies      adminhttp.TrustedProxies
	// Sources runs a source manager (SPEC 6) with a running dispatcher, as
	// serve does.
	Sources bool
}

// relayEnv is one relay as cmd/tagihan-relay/serve.go wires it, over a real
// bbolt file and real HTTP listeners (with httpapi.NewServer's limits).
type relayEnv struct {
	Sources *sources.Manager // with envOptions.Sources
	Clock   *testkit.Clock
	Store   *store.Store
	Ops     *relay.Operations
	Public  *httptest.Server
	Admin   *httptest.Server
	Client  *http.Client
	Ready   *atomic.Bool
	Token   string
	Logs    *syncBuffer
	Keys    [][]byte
	notices atomic.Int64
}

func newEnv(t testing.TB, o envOptions) *relayEnv {
	t.Helper()
	if o.Routes == nil {
		o.Routes = defaultRoutes
	}
	if o.MaxBody == 0 {
		o.MaxBody = 1 << 20
	}
	e := &relayEnv{Clock: testkit.NewClock(t0), Ready: new(atomic.Bool), Token: o.Token, Logs: &syncBuffer{},
		Keys: [][]byte{[]byte(primarySecret), []byte(rotatedSecret)}}
	e.Ready.Store(true)
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	e.Store = testkit.OpenStore(t)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, func(ctx context.Context) (relay.Stats, error) { return e.Store.Stats(ctx, e.Clock.Now()) })
	var ingestStore relay.Store = e.Store
	if o.IngestStore != nil {
		ingestStore = o.IngestStore(e.Store)
	}
	notify := func([]string) { e.notices.Add(1) }
	receiver := &relay.Receiver{Store: ingestStore, Routes: o.Routes, Source: "tagihanai", Notify: notify}
	e.Ops = &relay.Operations{Store: e.Store, Receiver: receiver, Notify: notify, Now: e.Clock.Now}
	var intake func(string) *relay.Intake
	if o.Sources {
		e.Sources = startSources(t, e.Store, e.Ops)
		intake = e.Sources.Intake
	}

	public := httpapi.PublicHandler(httpapi.Ingest{
		Verifier: signature.NewVerifier(e.Keys, tolerance).WithClock(e.Clock.Now),
		Receiver: receiver, Sources: intake, Metrics: m, Log: log, MaxBody: o.MaxBody, MaxInflight: o.MaxInflight, Now: e.Clock.Now,
	}, e.Ready.Load)
	admin := httpapi.AdminHandler(httpapi.Admin{Ops: e.Ops, Token: o.Token, Gatherer: reg, Log: log, Ready: e.Ready.Load,
		AllowedHosts: o.AllowedHosts, TrustedProxies: o.Proxies, AuthFailures: adminhttp.NewAuthFailures(m.AuthFailures, log, e.Clock.Now)})
	e.Public = startServer(t, public, log)
	e.Admin = startServer(t, admin, log)

	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	e.Client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return e
}

// startServer serves h on a loopback port with the production http.Server
// (timeouts, 64 KiB header bound) and closes it when the test ends, before
// the store it uses (cleanups run last-in first-out).
func startServer(t testing.TB, h http.Handler, log *slog.Logger) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	ts.Config = httpapi.NewServer("127.0.0.1:0", h, log)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

// response is a read HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) String() string { return strconv.Itoa(r.Status) + " " + string(r.Body) }

func (e *relayEnv) do(t testing.TB, req *http.Request) response {
	t.Helper()
	res, err := e.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// sigTimestamp is the decimal Unix seconds of the clock.
func (e *relayEnv) sigTimestamp() string { return strconv.FormatInt(e.Clock.Now().Unix(), 10) }

// signed returns the headers of a delivery of body signed now with the
// primary secret, in the primary t=,v1= form.
func (e *relayEnv) signed(body []byte) http.Header {
	h := http.Header{}
	h.Set(relay.HeaderSignature, signature.SignatureHeader([]byte(primarySecret), e.sigTimestamp(), body))
	h.Set("Content-Type", "application/json")
	return h
}

// post sends a delivery to the public listener.
func (e *relayEnv) post(t testing.TB, body []byte, h http.Header) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Public.URL+"/webhooks/tagihanai", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return e.do(t, req)
}

// ack is the ingest endpoint's answer.
type ack struct {
	Status string `json:"status"`
	ID     string `json:"id"`
}

// deliver posts a correctly signed body and requires an ack with status.
func (e *relayEnv) deliver(t testing.TB, body []byte, wantStatus string) ack {
	t.Helper()
	res := e.post(t, body, e.signed(body))
	want := http.StatusOK
	if wantStatus == "unparsed" {
		want = http.StatusAccepted
	}
	if res.Status != want {
		t.Fatalf("deliver: got %s, want %d", res, want)
	}
	a := decode[ack](t, res)
	if a.Status != wantStatus || a.ID == "" {
		t.Fatalf("deliver: got %s, want status %q", res, wantStatus)
	}
	return a
}

// adminReq builds an admin request with the right token (when there is one).
func (e *relayEnv) adminReq(t testing.TB, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, e.Admin.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if e.Token != "" {
		req.Header.Set("Authorization", "Bearer "+e.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (e *relayEnv) get(t testing.TB, path string) response {
	t.Helper()
	return e.do(t, e.adminReq(t, http.MethodGet, path, nil))
}

func (e *relayEnv) postAdmin(t testing.TB, path, body string) response {
	t.Helper()
	return e.do(t, e.adminReq(t, http.MethodPost, path, strings.NewReader(body)))
}

// decode decodes a JSON response body strictly enough to catch a non-JSON
// answer.
func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("Content-Type %q, want application/json (%s)", r.Header.Get("Content-Type"), r)
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
	return v
}

// wantError requires status and exactly {"error":code,"message":...} with a
// non-empty message that contains each of mentions.
func wantError(t testing.TB, r response, status int, code string, mentions ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %s, want %d %s", r, status, code)
	}
	body := decode[map[string]any](t, r)
	if len(body) != 2 || body["error"] != code {
		t.Fatalf("got body %s, want exactly {\"error\":%q,\"message\":...}", r.Body, code)
	}
	msg, _ := body["message"].(string)
	if msg == "" {
		t.Fatalf("got body %s: message is empty", r.Body)
	}
	for _, m := range mentions {
		if !strings.Contains(msg, m) {
			t.Errorf("message %q does not mention %q", msg, m)
		}
	}
}

// metric scrapes the admin /metrics and returns the sample of name with
// exactly the given label set ("" for none), 0 when absent.
func (e *relayEnv) metric(t testing.TB, name, labels string) float64 {
	t.Helper()
	r := e.get(t, "/metrics")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %s", r)
	}
	prefix := name
	if labels != "" {
		prefix += "{" + labels + "}"
	}
	prefix += " "
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", prefix, err)
			}
			return f
		}
	}
	return 0
}

// fixture returns a realistic delivery body.
func fixture(t testing.TB, typ string, o fixtures.Options) []byte {
	t.Helper()
	b, err := fixtures.Body(typ, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testdataBody reads testdata/tagihanai/<name>/body.* (one file a case).
func testdataBody(t testing.TB, name string) []byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "tagihanai", name, "body.*"))
	if err != nil || len(paths) != 1 {
		t.Fatalf("testdata %s: want one body file, got %v (%v)", name, paths, err)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storedEvent reads an event straight from the store.
func (e *relayEnv) storedEvent(t testing.TB, id string) *relay.EventDetail {
	t.Helper()
	d, err := e.Store.GetEvent(context.Background(), id)
	if err != nil {
		t.Fatalf("store.GetEvent(%q): %v", id, err)
	}
	return d
}

// storedIDs lists every stored event id, newest first.
func (e *relayEnv) storedIDs(t testing.TB) []string {
	t.Helper()
	page, err := e.Store.ListEvents(context.Background(), relay.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page.Events))
	for i, ev := range page.Events {
		ids[i] = ev.ID
	}
	return ids
}

// wantNothingStored requires an empty store.
func (e *relayEnv) wantNothingStored(t testing.TB) {
	t.Helper()
	if ids := e.storedIDs(t); len(ids) != 0 {
		t.Fatalf("stored events %v, want none", ids)
	}
}

// sinkStates maps sink → delivery state of a stored event.
func sinkStates(d *relay.EventDetail) map[string]string {
	m := map[string]string{}
	for _, s := range d.Deliveries {
		m[s.Sink] = s.State
	}
	return m
}

// settle claims every due delivery of sink and finishes each with the
// transition its event id maps to in want (others fail the test).
func (e *relayEnv) settle(t testing.TB, sink string, want map[string]relay.Transition) {
	t.Helper()
	ctx := context.Background()
	claims, _, err := e.Store.ClaimDue(ctx, sink, e.Clock.Now(), 1000)
	if err != nil {
		t.Fatalf("ClaimDue(%s): %v", sink, err)
	}
	seen := map[string]bool{}
	for _, c := range claims {
		tr, ok := want[c.EventID]
		if !ok {
			t.Fatalf("ClaimDue(%s) claimed %s, not in %v", sink, c.EventID, want)
		}
		seen[c.EventID] = true
		a := relay.Attempt{At: e.Clock.Now(), Outcome: tr.State, StatusCode: 500, Error: tr.Reason}
		if err := e.Store.Finish(ctx, sink, c.EventID, a, tr); err != nil {
			t.Fatalf("Finish(%s, %s): %v", sink, c.EventID, err)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("ClaimDue(%s) did not claim %s", sink, id)
		}
	}
}

// rawHTTP writes payload on a fresh TCP connection to srv and returns the
// response (nil when the server closed without one).
func rawHTTP(t testing.TB, srv *httptest.Server, payload []byte) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// Write concurrently: the server may answer (and stop reading) before
	// the whole payload is sent.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = conn.Write(payload)
	}()
	defer func() { <-done }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		_ = conn.Close()
		return nil
	}
	b, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(bytes.NewReader(b))
	_ = conn.Close()
	return res
}

// readAll reads and closes a response body.
func readAll(r *http.Response) ([]byte, error) {
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}
