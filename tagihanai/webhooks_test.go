package tagihanai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

const relayURL = "https://relay.example.com/webhooks/tagihanai/shop"

// wantError checks that err is an *Error matching want with the given
// status and Temporary, and that it does not show the API key.
func wantError(t *testing.T, err error, want error, status int, temporary bool) *Error {
	t.Helper()
	var e *Error
	if !errors.Is(err, want) || !errors.As(err, &e) {
		t.Fatalf("error = %v, want *Error matching %v", err, want)
	}
	if e.StatusCode != status || e.Temporary != temporary {
		t.Errorf("error = {Status:%d Temporary:%v}, want {%d %v}: %v", e.StatusCode, e.Temporary, status, temporary, err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error %q shows the API key", err)
	}
	return e
}

func TestClient_ListWebhooks(t *testing.T) {
	t.Run("None", func(t *testing.T) {
		_, c, _, _ := MustFakeAPI(t)
		subs, err := c.ListWebhooks(context.Background())
		if err != nil || len(subs) != 0 {
			t.Fatalf("ListWebhooks = %v, %v; want none", subs, err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		a := api.AddWebhook(relayURL, []string{"*"}, "tagihan-relay source shop")
		b := api.AddWebhook("https://erp.example.com/hook", []string{"transaction.paid", "payment.completed"}, "")
		subs, err := c.ListWebhooks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := []Webhook{
			{ID: a.ID, URL: relayURL, EventTypes: []string{"*"}, IsActive: true, Description: "tagihan-relay source shop"},
			{ID: b.ID, URL: "https://erp.example.com/hook", EventTypes: []string{"transaction.paid", "payment.completed"}, IsActive: true},
		}
		if diff := cmp.Diff(want, subs); diff != "" {
			t.Errorf("ListWebhooks (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"GET /webhooks"}, paths(api)); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
}

func TestClient_CreateWebhook(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		sub, err := c.CreateWebhook(context.Background(), relayURL, []string{"transaction.sent", "payment.completed"}, "tagihan-relay source shop")
		if err != nil {
			t.Fatal(err)
		}
		held := api.Webhooks()
		if len(held) != 1 {
			t.Fatalf("fake holds %d subscriptions, want 1", len(held))
		}
		want := Webhook{ID: held[0].ID, URL: relayURL, EventTypes: []string{"transaction.sent", "payment.completed"}, IsActive: true,
			Description: "tagihan-relay source shop", SigningSecret: held[0].SigningSecret}
		if diff := cmp.Diff(want, sub); diff != "" {
			t.Errorf("CreateWebhook (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(sub.SigningSecret, "whsec_") {
			t.Errorf("signing secret %q, want whsec_…", sub.SigningSecret)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		for name, tc := range map[string]struct {
			url    string
			events []string
		}{
			"Glob":         {relayURL, []string{"transaction.*"}},
			"NoEventTypes": {relayURL, nil},
			"PlainHTTP":    {"http://relay.example.com/webhooks/tagihanai/shop", []string{"*"}},
		} {
			t.Run(name, func(t *testing.T) {
				api, c, _, w := MustFakeAPI(t)
				_, err := c.CreateWebhook(context.Background(), tc.url, tc.events, "")
				wantError(t, err, ErrUnexpectedResponse, 422, false)
				if len(api.Requests()) != 1 || len(w.get()) != 0 || len(api.Webhooks()) != 0 {
					t.Errorf("%d requests, waits %v, %d subscriptions; want 1, none, none", len(api.Requests()), w.get(), len(api.Webhooks()))
				}
			})
		}
	})
	t.Run("ServerErrorNotRepeated", func(t *testing.T) {
		// After a 500 the subscription may exist: a repeat could make a
		// second one whose secret nobody holds.
		api, c, _, w := MustFakeAPI(t)
		api.Fail5xx(1)
		_, err := c.CreateWebhook(context.Background(), relayURL, []string{"*"}, "")
		wantError(t, err, ErrUnexpectedResponse, 500, true)
		if len(api.Requests()) != 1 || len(w.get()) != 0 {
			t.Errorf("%d requests, waits %v; want 1 and none", len(api.Requests()), w.get())
		}
	})
	t.Run("RateLimitedThenOK", func(t *testing.T) {
		api, c, _, w := MustFakeAPI(t)
		api.Limit(1, 20*time.Second)
		if _, err := c.ListWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateWebhook(context.Background(), relayURL, []string{"*"}, ""); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]time.Duration{20 * time.Second}, w.get()); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
		if n := len(api.Webhooks()); n != 1 {
			t.Errorf("%d subscriptions, want 1", n)
		}
	})
	t.Run("ConnectionRefusedRetried", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		_, c, _, w := MustFakeAPI(t)
		c.baseURL = srv.URL + "/api/v1"
		_, err := c.CreateWebhook(context.Background(), relayURL, []string{"*"}, "")
		wantError(t, err, err, 0, true)
		if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, w.get()); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
	})
	t.Run("NoSecretInAnswer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"data":{"id":"uuid","url":"`+relayURL+`","event_types":["*"]}}`)
		}))
		defer srv.Close()
		c := NewClient(srv.URL, testKey, srv.Client())
		_, err := c.CreateWebhook(context.Background(), relayURL, []string{"*"}, "")
		wantError(t, err, ErrUnexpectedResponse, 201, false)
	})
}

func TestClient_DeleteWebhook(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		sub := api.AddWebhook(relayURL, []string{"*"}, "")
		if err := c.DeleteWebhook(context.Background(), sub.ID); err != nil {
			t.Fatal(err)
		}
		if n := len(api.Webhooks()); n != 0 {
			t.Errorf("%d subscriptions left, want 0", n)
		}
		if diff := cmp.Diff([]string{"DELETE /webhooks/" + sub.ID}, paths(api)); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		err := c.DeleteWebhook(context.Background(), "0d4f9a52-0000-4000-8000-000000000000")
		wantError(t, err, ErrNotFound, 404, false)
		if n := len(api.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("EmptyID", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		if err := c.DeleteWebhook(context.Background(), ""); err == nil {
			t.Error("DeleteWebhook(\"\") succeeded")
		}
		if n := len(api.Requests()); n != 0 {
			t.Errorf("%d requests, want 0", n)
		}
	})
}

// signedReceiver is a webhook endpoint that verifies each delivery with the
// relay's verifier and answers status (401 when the signature is wrong).
type signedReceiver struct {
	t      *testing.T
	secret string
	status int

	mu  sync.Mutex
	got []relay.Envelope
}

func (rc *signedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	key, err := signature.DecodeSecret(rc.secret, "raw")
	if err != nil {
		rc.t.Errorf("DecodeSecret: %v", err)
	}
	v := signature.NewVerifier([][]byte{key}, 5*time.Minute)
	if err := v.Verify(r.Header.Get(relay.HeaderSignature), r.Header.Get(relay.HeaderTimestamp), body); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	env, err := relay.ReadEnvelope(body, r.Header.Get)
	if err != nil {
		rc.t.Errorf("ReadEnvelope: %v", err)
	}
	rc.got = append(rc.got, env)
	w.WriteHeader(rc.status)
}

func TestClient_TestWebhook(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		badSecret bool
		want      TestResult
	}{
		{name: "Received", status: 200, want: TestResult{Success: true, StatusCode: 200}},
		{name: "EndpointFails", status: 503, want: TestResult{StatusCode: 503}},
		{name: "SignatureRejected", status: 200, badSecret: true, want: TestResult{StatusCode: 401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, c, _, _ := MustFakeAPI(t)
			api.SetClock(nil) // the receiver checks the signature's age on the real clock
			rc := &signedReceiver{t: t, status: tc.status}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			sub := api.AddWebhook(srv.URL+"/webhooks/tagihanai/shop", []string{"transaction.sent"}, "")
			rc.mu.Lock()
			rc.secret = sub.SigningSecret
			if tc.badSecret {
				rc.secret = "whsec_some_other_secret"
			}
			rc.mu.Unlock()

			got, err := c.TestWebhook(context.Background(), sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			got.ResponseTimeMS = 0
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("TestWebhook (-want +got):\n%s", diff)
			}
			rc.mu.Lock()
			envs := rc.got
			rc.mu.Unlock()
			if !tc.badSecret && (len(envs) != 1 || !envs[0].Test) {
				t.Errorf("receiver verified %+v, want one test event", envs)
			}
			log := api.Deliveries(sub.ID)
			if len(log) != 1 || log[0].EventType != tagihanaitest.TestEventType || log[0].ResponseStatus != tc.want.StatusCode {
				t.Errorf("delivery log = %+v", log)
			}
		})
	}
	t.Run("NotFound", func(t *testing.T) {
		_, c, _, _ := MustFakeAPI(t)
		_, err := c.TestWebhook(context.Background(), "nope")
		wantError(t, err, ErrNotFound, 404, false)
	})
}

func TestClient_WebhookDeliveries(t *testing.T) {
	// addLog gives subscription sub n entries, every third one failed.
	addLog := func(api *tagihanaitest.Server, clock *fakeClock, sub string, n int) {
		for i := range n {
			st := tagihanaitest.StatusSuccess
			if i%3 == 0 {
				st = tagihanaitest.StatusFailed
			}
			api.AddDelivery(sub, tagihanaitest.Delivery{EventType: "transaction.sent", Status: st, ResponseStatus: 503,
				EventID: fmt.Sprintf("evt_%03d", i), TransactionID: "tx"})
			clock.Advance(time.Second)
		}
	}
	walk := func(t *testing.T, c *Client, sub, status string) []WebhookDelivery {
		t.Helper()
		var got []WebhookDelivery
		if err := c.WebhookDeliveries(context.Background(), sub, status, func(d WebhookDelivery) error {
			got = append(got, d)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	t.Run("ThreePages", func(t *testing.T) {
		api, c, clock, _ := MustFakeAPI(t)
		sub := api.AddWebhook(relayURL, []string{"*"}, "")
		addLog(api, clock, sub.ID, 250)
		got := walk(t, c, sub.ID, "")
		if len(got) != 250 {
			t.Fatalf("walked %d entries, want 250", len(got))
		}
		p := "GET /webhooks/" + sub.ID + "/deliveries"
		want := []string{p + "?page=1&per_page=100", p + "?page=2&per_page=100", p + "?page=3&per_page=100"}
		if diff := cmp.Diff(want, paths(api)); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
		log := api.Deliveries(sub.ID)
		newest := log[len(log)-1]
		wantFirst := WebhookDelivery{ID: newest.ID, EventType: "transaction.sent", Status: newest.Status, ResponseStatus: 503,
			AttemptNumber: 1, CreatedAt: newest.CreatedAt, EventID: newest.EventID, TransactionID: "tx"}
		if diff := cmp.Diff(wantFirst, got[0]); diff != "" {
			t.Errorf("first entry (-want +got):\n%s", diff)
		}
	})
	t.Run("StatusFilter", func(t *testing.T) {
		api, c, clock, _ := MustFakeAPI(t)
		sub := api.AddWebhook(relayURL, []string{"*"}, "")
		addLog(api, clock, sub.ID, 300) // 100 failed, and GiveUp's: two pages
		api.GiveUp(sub.ID, "transaction.sent", []byte(`{"id":"evt_lost","type":"transaction.sent","data":{"id":"tx-lost"}}`))
		got := walk(t, c, sub.ID, "failed")
		if len(got) != 100+tagihanaitest.GiveUpAttempts-1 {
			t.Errorf("walked %d failed entries, want %d", len(got), 100+tagihanaitest.GiveUpAttempts-1)
		}
		for _, d := range got {
			if d.Status != "failed" {
				t.Fatalf("entry %+v is not failed", d)
			}
		}
		dead := walk(t, c, sub.ID, "dead_letter")
		if len(dead) != 1 || dead[0].EventID != "evt_lost" || dead[0].TransactionID != "tx-lost" || dead[0].AttemptNumber != tagihanaitest.GiveUpAttempts {
			t.Errorf("dead letters = %+v", dead)
		}
		for _, r := range api.Requests() {
			if st := r.Param("status"); st != "failed" && st != "dead_letter" {
				t.Errorf("request %s has status %q", r, st)
			}
		}
	})
	t.Run("ExactlyTwoPagesWithoutPagination", func(t *testing.T) {
		// Nothing says the second full page is the last: a third is asked for.
		api, c, clock, _ := MustFakeAPI(t)
		sub := api.AddWebhook(relayURL, []string{"*"}, "")
		addLog(api, clock, sub.ID, 200)
		if got := walk(t, c, sub.ID, ""); len(got) != 200 {
			t.Errorf("walked %d, want 200", len(got))
		}
		if n := len(api.Requests()); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("ExactlyTwoPagesWithPagination", func(t *testing.T) {
		api, c, clock, _ := MustFakeAPI(t)
		api.PaginateDeliveries()
		sub := api.AddWebhook(relayURL, []string{"*"}, "")
		addLog(api, clock, sub.ID, 200)
		if got := walk(t, c, sub.ID, ""); len(got) != 200 {
			t.Errorf("walked %d, want 200", len(got))
		}
		if n := len(api.Requests()); n != 2 {
			t.Errorf("%d requests, want 2 (has_more false on the second)", n)
		}
	})
	t.Run("WithoutIDs", func(t *testing.T) {
		api, c, clock, _ := MustFakeAPI(t)
		api.HideDeliveryIDs()
		sub := api.AddWebhook(relayURL, []string{"*"}, "")
		addLog(api, clock, sub.ID, 3)
		for _, d := range walk(t, c, sub.ID, "") {
			if d.EventID != "" || d.TransactionID != "" || d.ID == "" {
				t.Errorf("entry = %+v, want an id and no event or transaction id", d)
			}
		}
	})
	t.Run("FnErrorStops", func(t *testing.T) {
		api, c, clock, _ := MustFakeAPI(t)
		sub := api.AddWebhook(relayURL, []string{"*"}, "")
		addLog(api, clock, sub.ID, 250)
		stop := errors.New("stop")
		n := 0
		err := c.WebhookDeliveries(context.Background(), sub.ID, "", func(WebhookDelivery) error {
			n++
			if n == 150 {
				return stop
			}
			return nil
		})
		if err != stop || n != 150 || len(api.Requests()) != 2 {
			t.Errorf("error %v after %d entries and %d requests, want stop after 150 and 2", err, n, len(api.Requests()))
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, c, _, _ := MustFakeAPI(t)
		err := c.WebhookDeliveries(context.Background(), "nope", "", func(WebhookDelivery) error { return nil })
		wantError(t, err, ErrNotFound, 404, false)
	})
	t.Run("BadStatus", func(t *testing.T) {
		api, c, _, _ := MustFakeAPI(t)
		sub := api.AddWebhook(relayURL, []string{"*"}, "")
		err := c.WebhookDeliveries(context.Background(), sub.ID, "pending", func(WebhookDelivery) error { return nil })
		wantError(t, err, ErrUnexpectedResponse, 400, false)
	})
}
