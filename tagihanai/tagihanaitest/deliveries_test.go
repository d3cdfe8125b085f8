package tagihanaitest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

// receiver is a webhook endpoint that keeps what it got and answers status.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []relay.Delivery
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, relay.Delivery{ReceivedAt: time.Now(), Headers: relay.DeliveryHeaders(r.Header), Body: body})
	status := rc.status
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) deliveries() []relay.Delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]relay.Delivery(nil), rc.got...)
}

// mustReceiver starts a receiver answering status.
func mustReceiver(t *testing.T, status int) (*receiver, string) {
	t.Helper()
	rc := &receiver{status: status}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/webhooks/tagihanai/shop"
}

// verify checks d the way the relay does: the signature over the raw body
// with the subscription's secret (raw bytes), then the envelope.
func verify(t *testing.T, d relay.Delivery, secret string) relay.Envelope {
	t.Helper()
	key, err := signature.DecodeSecret(secret, "raw")
	if err != nil {
		t.Fatal(err)
	}
	v := signature.NewVerifier([][]byte{key}, 5*time.Minute)
	if err := v.Verify(d.Header(relay.HeaderSignature), d.Header(relay.HeaderTimestamp), d.Body); err != nil {
		t.Fatalf("signature %q does not verify: %v", d.Header(relay.HeaderSignature), err)
	}
	env, err := relay.ReadEnvelope(d.Body, d.Header)
	if err != nil {
		t.Fatalf("ReadEnvelope: %v", err)
	}
	return env
}

func TestServer_TestWebhook(t *testing.T) {
	t.Run("SignedTestEvent", func(t *testing.T) {
		rc, url := mustReceiver(t, http.StatusOK)
		s := tagihanaitest.New(t, testKey)
		sub := s.AddWebhook(url, []string{"transaction.sent"}, "")
		code, _, body := call(t, s, testKey, "POST", "/webhooks/"+sub.ID+"/test", "")
		if code != 201 {
			t.Fatalf("POST /test = %d %v, want 201", code, body)
		}
		data := body["data"].(map[string]any)
		if data["success"] != true || data["status_code"] != jsonNumber(200) {
			t.Errorf("test result = %v, want success with 200", data)
		}
		if _, ok := data["response_time_ms"]; !ok {
			t.Errorf("test result has no response_time_ms: %v", data)
		}
		got := rc.deliveries()
		if len(got) != 1 {
			t.Fatalf("receiver got %d deliveries, want 1", len(got))
		}
		env := verify(t, got[0], sub.SigningSecret)
		if !env.Test || env.Type != tagihanaitest.TestEventType {
			t.Errorf("envelope = %+v, want a test event", env)
		}
		log := s.Deliveries(sub.ID)
		if len(log) != 1 || log[0].EventType != tagihanaitest.TestEventType || log[0].Status != tagihanaitest.StatusSuccess || log[0].ResponseStatus != 200 {
			t.Errorf("delivery log = %+v", log)
		}
	})
	t.Run("WrongSecretFails", func(t *testing.T) {
		rc, url := mustReceiver(t, http.StatusOK)
		s := tagihanaitest.New(t, testKey)
		sub := s.AddWebhook(url, []string{"*"}, "")
		call(t, s, testKey, "POST", "/webhooks/"+sub.ID+"/test", "")
		d := rc.deliveries()[0]
		v := signature.NewVerifier([][]byte{[]byte("whsec_not_the_secret")}, 5*time.Minute)
		if err := v.Verify(d.Header(relay.HeaderSignature), "", d.Body); !errors.Is(err, signature.ErrNoValidSignature) {
			t.Errorf("Verify with another secret = %v, want ErrNoValidSignature", err)
		}
	})
	t.Run("EndpointFails", func(t *testing.T) {
		_, url := mustReceiver(t, http.StatusServiceUnavailable)
		s := tagihanaitest.New(t, testKey)
		sub := s.AddWebhook(url, []string{"*"}, "")
		_, _, body := call(t, s, testKey, "POST", "/webhooks/"+sub.ID+"/test", "")
		data := body["data"].(map[string]any)
		if data["success"] != false || data["status_code"] != jsonNumber(503) {
			t.Errorf("test result = %v, want failure with 503", data)
		}
		if log := s.Deliveries(sub.ID); len(log) != 1 || log[0].Status != tagihanaitest.StatusFailed {
			t.Errorf("delivery log = %+v, want one failed", log)
		}
		if got, _ := s.Webhook(sub.ID); got.ConsecutiveFailures != 1 {
			t.Errorf("consecutive_failures = %d, want 1", got.ConsecutiveFailures)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL + "/webhooks/tagihanai/shop"
		srv.Close()
		s := tagihanaitest.New(t, testKey)
		sub := s.AddWebhook(url, []string{"*"}, "")
		_, _, body := call(t, s, testKey, "POST", "/webhooks/"+sub.ID+"/test", "")
		data := body["data"].(map[string]any)
		if data["success"] != false || data["status_code"] != jsonNumber(0) {
			t.Errorf("test result = %v, want failure without status", data)
		}
	})
}

// jsonNumber is n as call decodes it.
func jsonNumber(n int) any { return json.Number(strconv.Itoa(n)) }

func TestServer_Deliver(t *testing.T) {
	rc, url := mustReceiver(t, http.StatusAccepted)
	clock := &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	s := tagihanaitest.New(t, testKey)
	s.SetClock(clock.Now)
	sub := s.AddWebhook(url, []string{"transaction.sent", "payment.completed"}, "")
	body, err := fixtures.Body("transaction.sent", fixtures.Options{EventID: "evt_1", TransactionID: "tx-1", Now: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}

	d := s.Deliver(sub.ID, "transaction.sent", body)
	if d.Status != tagihanaitest.StatusSuccess || d.ResponseStatus != 202 || d.AttemptNumber != 1 || d.EventID != "evt_1" || d.TransactionID != "tx-1" {
		t.Errorf("Deliver = %+v", d)
	}
	rc.mu.Lock()
	rc.status = 500
	rc.mu.Unlock()
	d = s.Deliver(sub.ID, "transaction.sent", body)
	if d.Status != tagihanaitest.StatusFailed || d.ResponseStatus != 500 || d.AttemptNumber != 2 {
		t.Errorf("second Deliver = %+v, want failed attempt 2", d)
	}

	got := rc.deliveries()
	if len(got) != 2 {
		t.Fatalf("receiver got %d, want 2", len(got))
	}
	// The relay's verifier, on the fake's clock: the signed timestamp is it.
	key, _ := signature.DecodeSecret(sub.SigningSecret, "")
	v := signature.NewVerifier([][]byte{key}, time.Minute).WithClock(clock.Now)
	for _, g := range got {
		if err := v.Verify(g.Header(relay.HeaderSignature), "", g.Body); err != nil {
			t.Errorf("delivery does not verify: %v", err)
		}
		if string(g.Body) != string(body) {
			t.Errorf("posted body differs from the given one")
		}
	}

	pay, _ := fixtures.Body("payment.completed", fixtures.Options{EventID: "evt_2", TransactionID: "tx-1", Now: clock.Now()})
	if d := s.Deliver(sub.ID, "payment.completed", pay); d.TransactionID != "tx-1" {
		t.Errorf("payment delivery's transaction id = %q, want tx-1", d.TransactionID)
	}
	other := s.AddWebhook(url, []string{"transaction.paid"}, "")
	paid, _ := fixtures.Body("transaction.paid", fixtures.Options{EventID: "evt_3", TransactionID: "tx-1"})
	if n := len(s.Publish("transaction.paid", paid)); n != 1 {
		t.Errorf("Publish reached %d subscriptions, want 1 (%s)", n, other.ID)
	}
}

// TestServer_DeliverMisuse checks that the fake refuses what TagihanAI
// would never do.
func TestServer_DeliverMisuse(t *testing.T) {
	_, url := mustReceiver(t, 200)
	tests := []struct {
		name string
		do   func(s *tagihanaitest.Server, id string)
	}{
		{"NotSubscribed", func(s *tagihanaitest.Server, id string) {
			s.Deliver(id, "party.created", []byte(`{"id":"e","type":"party.created","data":{}}`))
		}},
		{"TypeMismatch", func(s *tagihanaitest.Server, id string) {
			s.Deliver(id, "transaction.sent", []byte(`{"id":"e","type":"transaction.paid","data":{}}`))
		}},
		{"UnknownSubscription", func(s *tagihanaitest.Server, id string) {
			s.Deliver("nope", "transaction.sent", []byte(`{}`))
		}},
		{"BadStatus", func(s *tagihanaitest.Server, id string) {
			s.AddDelivery(id, tagihanaitest.Delivery{Status: "pending"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			s := tagihanaitest.New(rec, testKey)
			sub := s.AddWebhook(url, []string{"transaction.sent"}, "")
			tt.do(s, sub.ID)
			if !rec.failed {
				t.Error("the fake accepted it")
			}
		})
	}
}

// recordingTB records Errorf instead of failing.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	failed bool
}

func (r *recordingTB) Errorf(string, ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recordingTB) Helper() {}
