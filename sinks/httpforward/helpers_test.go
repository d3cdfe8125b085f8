package httpforward_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
)

// testKey is the raw HMAC key behind testSecret.
var testKey = []byte("tagihan-relay-forward-test-key!!")

// testSecret is testKey in Standard Webhooks form.
var testSecret = "whsec_" + base64.StdEncoding.EncodeToString(testKey)

// testNow is the fixed clock of every test sink.
var testNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// MustNewSink returns a sink over a client of its own (closed at cleanup) or
// fails the test.
func MustNewSink(tb testing.TB, cfg httpforward.Config) *httpforward.Sink {
	tb.Helper()
	tr := httpforward.NewTransport()
	tb.Cleanup(tr.CloseIdleConnections)
	s, err := httpforward.New("SINK_TEST_", cfg, httpforward.Deps{
		HTTP: &http.Client{Transport: tr},
		Now:  func() time.Time { return testNow },
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// NewOutbound returns an outbound event with a CloudEvent and an original
// TagihanAI delivery whose ids are id.
func NewOutbound(id string) *relay.Outbound {
	data := fmt.Sprintf(`{"id":"trx_%s","type":"INVOICE","total":"150000.00"}`, id)
	ce, err := json.Marshal(relay.Event{
		SpecVersion:     "1.0",
		ID:              id,
		Source:          "tagihanai",
		Type:            "com.tagihanai.transaction.sent",
		Time:            "2026-01-01T00:00:00Z",
		Subject:         "trx_" + id,
		DataContentType: "application/json",
		Data:            json.RawMessage(data),
		TagihanAIEvent:  "transaction.sent",
		RelayReceivedAt: "2026-01-01T00:00:00.5Z",
	})
	if err != nil {
		panic(err)
	}
	// Odd spacing and a non-ASCII rune: raw mode must not re-serialize.
	body := fmt.Sprintf("{ \"id\": %q,\n  \"type\" : \"transaction.sent\", \"note\":\"Rp 150.000 — lunas\", \"data\": %s }", id, data)
	return &relay.Outbound{
		EventID: id,
		Sink:    "test",
		Type:    "transaction.sent",
		Subject: "trx_" + id,
		Event:   ce,
		Data:    json.RawMessage(data),
		Delivery: relay.Delivery{
			ReceivedAt: testNow,
			Headers: map[string]string{
				"Content-Type":         "application/json; charset=utf-8",
				"User-Agent":           "TagihanAI-Webhooks/1.0",
				relay.HeaderSignature:  "t=1767225600,v1=abc123",
				relay.HeaderTimestamp:  "1767225600",
				relay.HeaderEventID:    id,
				relay.HeaderDeliveryID: "dlv_" + id,
			},
			Body: []byte(body),
		},
		Attempt: 1,
	}
}

// standardSignature computes the Standard Webhooks signature independently of
// the signature package.
func standardSignature(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.", id, ts)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verifyStandard checks a request's Standard Webhooks headers against key,
// as a receiver would: any space-separated "v1,<sig>" may match.
func verifyStandard(key []byte, h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	want := standardSignature(key, id, ts, body)
	for _, sig := range strings.Fields(sigs) {
		got, ok := strings.CutPrefix(sig, "v1,")
		if ok && hmac.Equal([]byte(got), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("no valid signature in %q", sigs)
}

// received is one request the receiver saw.
type received struct {
	Header http.Header
	Body   []byte
}

// receiver is a strict Standard Webhooks receiver: it checks the method,
// the signature (when key is set), the timestamp and the sink's headers and
// records what arrived.
type receiver struct {
	t      testing.TB
	key    []byte
	mu     sync.Mutex
	got    []received
	status int // answer, 204 when zero
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("read body: %v", err)
	}
	if r.Method != http.MethodPost {
		rc.t.Errorf("method = %s, want POST", r.Method)
	}
	if got := r.Header.Get("User-Agent"); got != "tagihan-relay" {
		rc.t.Errorf("User-Agent = %q, want tagihan-relay", got)
	}
	if r.Header.Get("webhook-id") == "" {
		rc.t.Errorf("no webhook-id")
	}
	if rc.key != nil {
		if err := verifyStandard(rc.key, r.Header, body); err != nil {
			rc.t.Errorf("signature: %v", err)
		}
		if got, want := r.Header.Get("webhook-timestamp"), fmt.Sprint(testNow.Unix()); got != want {
			rc.t.Errorf("webhook-timestamp = %q, want %q", got, want)
		}
	}
	rc.mu.Lock()
	rc.got = append(rc.got, received{Header: r.Header.Clone(), Body: body})
	rc.mu.Unlock()
	if rc.status == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(rc.status)
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// MustServe starts an httptest server for h, closed at cleanup.
func MustServe(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// MustServeUnstarted returns an unstarted httptest server for h, closed at
// cleanup, for tests that set its Config first.
func MustServeUnstarted(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	tb.Cleanup(srv.Close)
	return srv
}
