package tagihanai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

// apiCall is one client method called against a fake holding a
// subscription sub and a transaction tx.
type apiCall struct {
	name  string
	scope string
	do    func(ctx context.Context, c *Client, sub, tx string) error
}

var apiCalls = []apiCall{
	{"ListWebhooks", "webhooks:read", func(ctx context.Context, c *Client, _, _ string) error {
		_, err := c.ListWebhooks(ctx)
		return err
	}},
	{"CreateWebhook", "webhooks:write", func(ctx context.Context, c *Client, _, _ string) error {
		_, err := c.CreateWebhook(ctx, relayURL, []string{"*"}, "")
		return err
	}},
	{"DeleteWebhook", "webhooks:write", func(ctx context.Context, c *Client, sub, _ string) error {
		return c.DeleteWebhook(ctx, sub)
	}},
	{"TestWebhook", "webhooks:write", func(ctx context.Context, c *Client, sub, _ string) error {
		_, err := c.TestWebhook(ctx, sub)
		return err
	}},
	{"WebhookDeliveries", "webhooks:read", func(ctx context.Context, c *Client, sub, _ string) error {
		return c.WebhookDeliveries(ctx, sub, "failed", func(WebhookDelivery) error { return nil })
	}},
	{"Transactions", "transactions:read", func(ctx context.Context, c *Client, _, _ string) error {
		return c.Transactions(ctx, TransactionQuery{Type: "INVOICE"}, func(TransactionSummary) error { return nil })
	}},
	{"Transaction", "transactions:read", func(ctx context.Context, c *Client, _, tx string) error {
		_, err := c.Transaction(ctx, tx)
		return err
	}},
}

// mustWorld starts the fake with a subscription (to a receiver that
// answers 200) and a transaction, and returns their ids.
func mustWorld(t *testing.T) (*tagihanaitest.Server, *Client, *waits, string, string) {
	t.Helper()
	api, c, _, w := MustFakeAPI(t)
	rcv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(rcv.Close)
	sub := api.AddWebhook(rcv.URL+"/webhooks/tagihanai/shop", []string{"*"}, "")
	tx := api.AddTransaction(tagihanaitest.Transaction{})
	return api, c, w, sub.ID, tx
}

func TestClient_Unauthorized(t *testing.T) {
	setups := []struct {
		name   string
		status int
		setup  func(api *tagihanaitest.Server, c *Client, scope string)
	}{
		{"UnknownKey", 401, func(_ *tagihanaitest.Server, c *Client, _ string) { c.apiKey = testKey + "x" }},
		{"Revoked", 401, func(api *tagihanaitest.Server, _ *Client, _ string) { api.RevokeKey() }},
		{"MissingScope", 403, func(api *tagihanaitest.Server, _ *Client, scope string) {
			var others []string
			for _, s := range tagihanaitest.Scopes {
				if s != scope {
					others = append(others, s)
				}
			}
			api.SetScopes(others...)
		}},
	}
	for _, call := range apiCalls {
		for _, s := range setups {
			t.Run(call.name+"/"+s.name, func(t *testing.T) {
				api, c, w, sub, tx := mustWorld(t)
				s.setup(api, c, call.scope)
				err := call.do(context.Background(), c, sub, tx)
				e := wantError(t, err, ErrUnauthorized, s.status, false)
				msg := err.Error()
				if !strings.Contains(msg, "unknown, revoked or lacks the scope "+call.scope) {
					t.Errorf("error %q does not name the scope %s", msg, call.scope)
				}
				if strings.Contains(msg, c.apiKey) || strings.Contains(fmt.Sprintf("%+v %#v", e, e), c.apiKey) {
					t.Errorf("error shows the API key: %q", msg)
				}
				if n := len(api.Requests()); n != 1 || len(w.get()) != 0 {
					t.Errorf("%d requests, waits %v; want one request and no wait", n, w.get())
				}
			})
		}
	}
}

func TestClient_ServerErrorsRetried(t *testing.T) {
	for _, call := range apiCalls {
		if call.name == "CreateWebhook" || call.name == "Transaction" {
			continue // not repeated after a 500: see below
		}
		t.Run(call.name+"/ThenOK", func(t *testing.T) {
			api, c, w, sub, tx := mustWorld(t)
			api.Fail5xx(2)
			if err := call.do(context.Background(), c, sub, tx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, w.get()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if n := len(api.Requests()); n != 3 {
				t.Errorf("%d requests, want 3", n)
			}
		})
		t.Run(call.name+"/RetriesSpent", func(t *testing.T) {
			api, c, w, sub, tx := mustWorld(t)
			api.Fail5xx(100)
			err := call.do(context.Background(), c, sub, tx)
			wantError(t, err, ErrUnexpectedResponse, 500, true)
			if !strings.Contains(err.Error(), "Unexpected server error") {
				t.Errorf("error %q lacks the API's message", err)
			}
			if diff := cmp.Diff([]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, w.get()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if n := len(api.Requests()); n != 4 {
				t.Errorf("%d requests, want 4", n)
			}
		})
	}
	for _, name := range []string{"CreateWebhook", "Transaction"} {
		t.Run(name+"/NotRepeated", func(t *testing.T) {
			api, c, w, sub, tx := mustWorld(t)
			api.Fail5xx(1)
			i := slicesIndex(apiCalls, name)
			err := apiCalls[i].do(context.Background(), c, sub, tx)
			wantError(t, err, ErrUnexpectedResponse, 500, true)
			if n := len(api.Requests()); n != 1 || len(w.get()) != 0 {
				t.Errorf("%d requests, waits %v; want 1 and none", n, w.get())
			}
		})
	}
}

func slicesIndex(calls []apiCall, name string) int {
	for i, c := range calls {
		if c.name == name {
			return i
		}
	}
	panic(name)
}

func TestClient_ServiceUnavailableRetriedForCreate(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"data":{"id":"wh1","url":"`+relayURL+`","signing_secret":"whsec_x","event_types":["*"]}}`)
	}))
	defer srv.Close()
	c, waits := MustClient(t, &fakeAPI{t: t}, testKey)
	c.baseURL, c.hc = srv.URL, srv.Client()
	sub, err := c.CreateWebhook(context.Background(), relayURL, []string{"*"}, "")
	if err != nil || sub.ID != "wh1" {
		t.Fatalf("CreateWebhook = %+v, %v", sub, err)
	}
	if diff := cmp.Diff([]time.Duration{7 * time.Second}, *waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestClient_NetworkErrorsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	for _, call := range apiCalls {
		t.Run(call.name, func(t *testing.T) {
			_, c, w, sub, tx := mustWorld(t)
			c.baseURL = srv.URL + "/api/v1"
			err := call.do(context.Background(), c, sub, tx)
			var e *Error
			if !errors.As(err, &e) || !e.Temporary || e.StatusCode != 0 {
				t.Fatalf("error = %v, want temporary without status", err)
			}
			want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
			if call.name == "Transaction" {
				want = nil // Transaction leaves all but 429 to its caller
			}
			if diff := cmp.Diff(want, w.get()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClient_RateLimited(t *testing.T) {
	for _, call := range apiCalls {
		t.Run(call.name, func(t *testing.T) {
			api, c, w, sub, tx := mustWorld(t)
			api.Limit(1, 30*time.Second)
			if _, err := c.ListWebhooks(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := call.do(context.Background(), c, sub, tx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]time.Duration{30 * time.Second}, w.get()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			reqs := api.Requests()
			if len(reqs) != 3 || reqs[1].Status != 429 || reqs[2].Time.Sub(reqs[1].Time) != 30*time.Second {
				t.Errorf("requests = %+v, want the 429 and, 30 s later, the call again", reqs)
			}
		})
	}
	t.Run("PastDeadline", func(t *testing.T) {
		api, c, w, _, _ := mustWorld(t)
		api.Limit(1, time.Hour)
		if _, err := c.ListWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := c.ListWebhooks(ctx)
		e := wantError(t, err, ErrRateLimited, 429, true)
		if e.RetryAfter != time.Hour || len(w.get()) != 0 {
			t.Errorf("RetryAfter %v, waits %v; want 1h and no wait", e.RetryAfter, w.get())
		}
	})
}

func TestClient_RedactsKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"type":"unauthorized","message":"API key `+key+` is revoked"}}`)
	}))
	defer srv.Close()
	c := NewClient(srv.URL, testKey, srv.Client())
	_, err := c.ListWebhooks(context.Background())
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("error = %q, want unauthorized with the key cut out", err)
	}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, testKey) {
			t.Errorf("%q shows the API key", s)
		}
	}
	if s := c.String(); !strings.Contains(s, srv.URL) {
		t.Errorf("String() = %q, want the base URL", s)
	}
}
