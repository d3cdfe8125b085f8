package relay_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// signingKey is the raw Standard Webhooks key behind signingSecret.
var signingKey = []byte("tagihan-relay-dispatcher-test-key")

// signingSecret is what the HTTP forward sink is configured with.
var signingSecret = "whsec_" + base64.StdEncoding.EncodeToString(signingKey)

// harness is a store, a receiver and a dispatcher wired as serve wires them.
type harness struct {
	store *store.Store
	recv  *relay.Receiver
	disp  *relay.Dispatcher
	ops   *relay.Operations
}

// newHarness builds the relay over specs without starting the dispatcher;
// the dispatcher is stopped at cleanup (before the store closes).
func newHarness(tb testing.TB, specs ...*relay.SinkSpec) *harness {
	tb.Helper()
	return newHarnessOn(tb, nil, specs...)
}

// newHarnessOn is newHarness with the dispatcher on clock (nil: the wall
// clock).
func newHarnessOn(tb testing.TB, clock relay.Clock, specs ...*relay.SinkSpec) *harness {
	tb.Helper()
	st := testkit.OpenStore(tb)
	routes := make([]relay.Route, len(specs))
	for i, s := range specs {
		routes[i] = s.Route
	}
	d := relay.NewDispatcher(st, specs, relay.DispatcherOptions{Clock: clock})
	tb.Cleanup(d.Stop)
	recv := &relay.Receiver{Store: st, Routes: routes, Source: "tagihanai", Notify: d.Notify}
	return &harness{store: st, recv: recv, disp: d, ops: &relay.Operations{Store: st, Receiver: recv, Notify: d.Notify}}
}

// startHarness is newHarness with the dispatcher started.
func startHarness(tb testing.TB, specs ...*relay.SinkSpec) *harness {
	tb.Helper()
	h := newHarness(tb, specs...)
	if err := h.disp.Start(context.Background()); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	return h
}

// eventOpts returns fixture options for event id about transaction trx.
func eventOpts(id, trx string) fixtures.Options {
	return fixtures.Options{EventID: id, TransactionID: trx, DocumentNumber: "INV-2026-0042"}
}

// ingestAt stores a fixture delivery received at receivedAt and returns its
// event id.
func (h *harness) ingestAt(tb testing.TB, typ string, o fixtures.Options, receivedAt time.Time) string {
	tb.Helper()
	body, err := fixtures.Body(typ, o)
	if err != nil {
		tb.Fatal(err)
	}
	d := relay.Delivery{
		ReceivedAt: receivedAt,
		Headers:    map[string]string{"Content-Type": "application/json", relay.HeaderSignature: "t=1,v1=00"},
		Body:       body,
	}
	rc, err := h.recv.Receive(context.Background(), d)
	if err != nil {
		tb.Fatalf("Receive %s: %v", typ, err)
	}
	if rc.Status != relay.IngestAccepted {
		tb.Fatalf("Receive %s: status %q", typ, rc.Status)
	}
	return rc.ID
}

// ingest stores a fixture delivery received now.
func (h *harness) ingest(tb testing.TB, typ string, o fixtures.Options) string {
	tb.Helper()
	return h.ingestAt(tb, typ, o, time.Now().UTC())
}

// delivery returns the delivery record of event id at sink.
func (h *harness) delivery(tb testing.TB, id, sink string) relay.DeliveryState {
	tb.Helper()
	ev, err := h.store.GetEvent(context.Background(), id)
	if err != nil {
		tb.Fatalf("GetEvent %s: %v", id, err)
	}
	for _, d := range ev.Deliveries {
		if d.Sink == sink {
			return d
		}
	}
	tb.Fatalf("event %s has no delivery to %s", id, sink)
	return relay.DeliveryState{}
}

// waitState waits until event id's delivery to sink is in state.
func (h *harness) waitState(tb testing.TB, timeout time.Duration, id, sink, state string) relay.DeliveryState {
	tb.Helper()
	var d relay.DeliveryState
	testkit.Eventually(tb, timeout, fmt.Sprintf("%s at %s to be %s", id, sink, state), func() bool {
		d = h.delivery(tb, id, sink)
		return d.State == state
	})
	return d
}

// spec returns a sink spec routing every event to sink.
func spec(tb testing.TB, name string, sink relay.Sink, schedule string) *relay.SinkSpec {
	tb.Helper()
	sch, err := relay.ParseSchedule(schedule)
	if err != nil {
		tb.Fatal(err)
	}
	return &relay.SinkSpec{
		Name: name, Kind: "http", Sink: sink,
		Route:       relay.Route{Sink: name, Events: []string{"*"}},
		Concurrency: 8, Timeout: 5 * time.Second, Schedule: sch,
	}
}

// fakeSink is a relay.Sink whose behaviour is a function.
type fakeSink struct {
	DeliverFn func(ctx context.Context, o *relay.Outbound) relay.Result
}

func (s *fakeSink) Deliver(ctx context.Context, o *relay.Outbound) relay.Result {
	return s.DeliverFn(ctx, o)
}

// request is one request a target received.
type request struct {
	ID        string // webhook-id
	Subject   string // the CloudEvent's subject
	Body      []byte
	At        time.Time
	Seq       int // arrival order over all requests, from 1
	N         int // arrival order among requests with this webhook-id, from 1
	SigFailed string
}

// target is an HTTP destination that checks every request the way a
// Standard Webhooks receiver does, independently of the relay's signer.
type target struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	perID   map[string]int
	badSigs []string
	// respond answers one request; nil answers 204.
	respond func(w http.ResponseWriter, r request)
}

// newTarget starts a target closed at cleanup.
func newTarget(tb testing.TB, respond func(w http.ResponseWriter, r request)) *target {
	tb.Helper()
	t := &target{perID: map[string]int{}, respond: respond}
	t.Server = httptest.NewServer(http.HandlerFunc(t.serve))
	tb.Cleanup(t.Close)
	return t
}

func (t *target) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	at := time.Now()
	r := request{ID: req.Header.Get("webhook-id"), Body: body, At: at}
	if err != nil {
		r.SigFailed = "read body: " + err.Error()
	} else {
		r.SigFailed = verifyStandard(req.Header, body, at)
	}
	var ce struct {
		ID      string `json:"id"`
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(body, &ce); err != nil {
		r.SigFailed += "; body is not JSON"
	} else if ce.ID != r.ID {
		r.SigFailed += fmt.Sprintf("; webhook-id %q but CloudEvent id %q", r.ID, ce.ID)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
		r.SigFailed += "; Content-Type " + ct
	}
	r.Subject = ce.Subject
	t.mu.Lock()
	t.perID[r.ID]++
	r.N = t.perID[r.ID]
	r.Seq = len(t.reqs) + 1
	t.reqs = append(t.reqs, r)
	if r.SigFailed != "" {
		t.badSigs = append(t.badSigs, r.ID+": "+r.SigFailed)
	}
	t.mu.Unlock()
	if t.respond == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	t.respond(w, r)
}

// verifyStandard checks webhook-id, webhook-timestamp and webhook-signature
// with crypto/hmac; it returns "" when they verify.
func verifyStandard(h http.Header, body []byte, now time.Time) string {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "missing webhook-* header"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "webhook-timestamp not an integer"
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > 5*time.Minute || skew < -5*time.Minute {
		return "webhook-timestamp outside 5m"
	}
	m := hmac.New(sha256.New, signingKey)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return ""
		}
	}
	return "no matching v1 signature"
}

// requests returns a copy of what the target received.
func (t *target) requests() []request {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]request(nil), t.reqs...)
}

// count returns how many requests the target received.
func (t *target) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.reqs)
}

// checkSignatures fails the test for every request that did not verify.
func (t *target) checkSignatures(tb testing.TB) {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.badSigs {
		tb.Errorf("request did not verify: %s", s)
	}
}

// newHTTPSink returns the real HTTP forward sink, signing with
// signingSecret, over a transport whose idle connections close at cleanup.
func newHTTPSink(tb testing.TB, url string) *httpforward.Sink {
	tb.Helper()
	tr := httpforward.NewTransport()
	tb.Cleanup(tr.CloseIdleConnections)
	s, err := httpforward.New("SINK_X_", httpforward.Config{URL: url, SigningSecret: signingSecret},
		httpforward.Deps{HTTP: &http.Client{Transport: tr}})
	if err != nil {
		tb.Fatalf("httpforward.New: %v", err)
	}
	return s
}

// counter is a concurrency-safe count of calls.
type counter struct{ n atomic.Int64 }

func (c *counter) inc() int64 { return c.n.Add(1) }
func (c *counter) get() int64 { return c.n.Load() }

// TestVerifyStandard keeps the targets' verifier honest: it must reject
// what a Standard Webhooks receiver rejects.
func TestVerifyStandard(t *testing.T) {
	now := time.Unix(1767225600, 0)
	body := []byte(`{"id":"evt_1"}`)
	sign := func(key []byte, id, ts string, body []byte) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	good := sign(signingKey, "evt_1", "1767225600", body)
	tests := []struct {
		name    string
		id, ts  string
		sig     string
		body    []byte
		wantBad bool
	}{
		{"OK", "evt_1", "1767225600", good, body, false},
		{"OKAmongOthers", "evt_1", "1767225600", "v1,AAAA " + good, body, false},
		{"TamperedBody", "evt_1", "1767225600", good, []byte(`{"id":"evt_2"}`), true},
		{"OtherID", "evt_2", "1767225600", good, body, true},
		{"WrongKey", "evt_1", "1767225600", sign([]byte("other"), "evt_1", "1767225600", body), body, true},
		{"Stale", "evt_1", "1767225000", sign(signingKey, "evt_1", "1767225000", body), body, true},
		{"NoSignature", "evt_1", "1767225600", "", body, true},
		{"WrongVersion", "evt_1", "1767225600", "v2" + good[2:], body, true},
	}
	for _, tt := range tests {
		h := http.Header{}
		h.Set("webhook-id", tt.id)
		h.Set("webhook-timestamp", tt.ts)
		h.Set("webhook-signature", tt.sig)
		if got := verifyStandard(h, tt.body, now); (got != "") != tt.wantBad {
			t.Errorf("%s: verifyStandard = %q", tt.name, got)
		}
	}
}
