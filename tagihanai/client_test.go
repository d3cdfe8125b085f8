package tagihanai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testKey = "tgh_live_sk_0123456789abcdef"
	txID    = "550e8400-e29b-41d4-a716-446655440000"
	txJSON  = `{"id":"550e8400-e29b-41d4-a716-446655440000","type":"INVOICE","total":9007199254740993,"line_items":[{"product_name":"A","quantity":1,"unit_price":9007199254740993}]}`
)

// answer is one scripted reply of the fake API.
type answer struct {
	status int
	header map[string]string
	body   string
}

// fakeAPI is a TagihanAI API that checks the Bearer key and the path, and
// replies with its script in order (the last answer repeats).
type fakeAPI struct {
	t      *testing.T
	mu     sync.Mutex
	script []answer
	calls  int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	i := min(f.calls, len(f.script)-1)
	f.calls++
	a := f.script[i]
	f.mu.Unlock()
	if r.Method != http.MethodGet || r.URL.EscapedPath() != "/api/v1/transactions/"+txID {
		f.t.Errorf("request %s %s, want GET /api/v1/transactions/%s", r.Method, r.URL.EscapedPath(), txID)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"unauthorized","message":"Missing or invalid API key"}`))
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func (f *fakeAPI) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// MustClient starts f and returns a client of it whose waits are recorded,
// not slept.
func MustClient(tb testing.TB, f *fakeAPI, key string) (*Client, *[]time.Duration) {
	tb.Helper()
	srv := httptest.NewServer(f)
	tb.Cleanup(srv.Close)
	c := NewClient(srv.URL+"/api/v1/", key, srv.Client())
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	c.now = func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) }
	return c, &waits
}

func TestClient_Transaction(t *testing.T) {
	ok := answer{200, nil, `{"data":` + txJSON + `}`}
	limited := func(h string) answer {
		a := answer{429, nil, `{"error":"rate-limit-exceeded","message":"Rate limit exceeded, retry after delay"}`}
		if h != "" {
			a.header = map[string]string{"Retry-After": h}
		}
		return a
	}
	tests := []struct {
		name          string
		key           string
		script        []answer
		wantErr       error
		wantTemporary bool
		wantStatus    int
		wantRetry     time.Duration
		wantWaits     []time.Duration
		wantCalls     int
	}{
		{name: "OK", key: testKey, script: []answer{ok}, wantCalls: 1},
		{name: "RateLimitedThenOK", key: testKey, script: []answer{limited("2"), limited(""), ok},
			wantWaits: []time.Duration{2 * time.Second, time.Second}, wantCalls: 3},
		{name: "RateLimitedHTTPDate", key: testKey, script: []answer{limited("Mon, 23 Nov 2026 10:00:05 GMT"), ok},
			wantWaits: []time.Duration{5 * time.Second}, wantCalls: 2},
		{name: "RateLimitedRetriesSpent", key: testKey, script: []answer{limited("")},
			wantErr: ErrRateLimited, wantTemporary: true, wantStatus: 429,
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, wantCalls: 4},
		{name: "RateLimitedLongerThanBound", key: testKey, script: []answer{limited("3600")},
			wantErr: ErrRateLimited, wantTemporary: true, wantStatus: 429, wantRetry: time.Hour, wantCalls: 1},
		{name: "NotFound", key: testKey, script: []answer{{404, nil, `{"error":"not-found","message":"Resource does not exist in this workspace"}`}},
			wantErr: ErrNotFound, wantStatus: 404, wantCalls: 1},
		{name: "BadKey", key: "wrong", script: []answer{ok},
			wantErr: ErrUnauthorized, wantStatus: 401, wantCalls: 1},
		{name: "ServerError", key: testKey, script: []answer{{500, nil, `{"error":"internal-error"}`}},
			wantErr: ErrUnexpectedResponse, wantTemporary: true, wantStatus: 500, wantCalls: 1},
		{name: "Unprocessable", key: testKey, script: []answer{{422, nil, `{"error":"validation-failed"}`}},
			wantErr: ErrUnexpectedResponse, wantStatus: 422, wantCalls: 1},
		{name: "NotJSON", key: testKey, script: []answer{{200, nil, `<html>gateway</html>`}},
			wantErr: ErrUnexpectedResponse, wantTemporary: true, wantStatus: 200, wantCalls: 1},
		{name: "NoData", key: testKey, script: []answer{{200, nil, `{"data":null}`}},
			wantErr: ErrUnexpectedResponse, wantTemporary: true, wantStatus: 200, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{t: t, script: tt.script}
			c, waits := MustClient(t, f, tt.key)
			got, err := c.Transaction(context.Background(), txID)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Transaction: %v", err)
				}
				if string(got) != txJSON {
					t.Errorf("Transaction = %s, want %s", got, txJSON)
				}
			} else {
				var e *Error
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &e) {
					t.Fatalf("Transaction error = %v, want *Error wrapping %v", err, tt.wantErr)
				}
				if e.Temporary != tt.wantTemporary || e.StatusCode != tt.wantStatus || e.RetryAfter != tt.wantRetry {
					t.Errorf("error = {Temporary:%v Status:%d RetryAfter:%v}, want {%v %d %v}",
						e.Temporary, e.StatusCode, e.RetryAfter, tt.wantTemporary, tt.wantStatus, tt.wantRetry)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("error %q contains the API key", err)
				}
			}
			if diff := cmp.Diff(tt.wantWaits, *waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			if f.Calls() != tt.wantCalls {
				t.Errorf("calls = %d, want %d", f.Calls(), tt.wantCalls)
			}
		})
	}
}

func TestClient_Transaction_RateLimitPastDeadline(t *testing.T) {
	f := &fakeAPI{t: t, script: []answer{{429, map[string]string{"Retry-After": "10"}, `{}`}}}
	c, waits := MustClient(t, f, testKey)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Transaction(ctx, txID)
	var e *Error
	if !errors.As(err, &e) || !e.Temporary || e.RetryAfter != 10*time.Second {
		t.Fatalf("Transaction error = %#v, want temporary with RetryAfter 10s", err)
	}
	if len(*waits) != 0 || f.Calls() != 1 {
		t.Errorf("waited %v over %d calls, want no wait past the deadline", *waits, f.Calls())
	}
}

func TestClient_Transaction_RealWaitHonoursContext(t *testing.T) {
	f := &fakeAPI{t: t, script: []answer{{429, map[string]string{"Retry-After": "20"}, `{}`}}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := NewClient(srv.URL+"/api/v1", testKey, srv.Client())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Transaction(ctx, txID)
	var e *Error
	if !errors.As(err, &e) || !e.Temporary || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("Transaction error = %v, want temporary rate limit", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Transaction returned after %v, want soon after cancel", d)
	}
}

func TestClient_Transaction_NetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := NewClient(url, testKey, nil)
	_, err := c.Transaction(context.Background(), txID)
	var e *Error
	if !errors.As(err, &e) || !e.Temporary || e.StatusCode != 0 {
		t.Fatalf("Transaction error = %v, want temporary without status", err)
	}
}

func TestClient_Transaction_EscapesID(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]string{"id": "x"}})
	}))
	defer srv.Close()
	c := NewClient(srv.URL, testKey, srv.Client())
	if _, err := c.Transaction(context.Background(), "a/b c"); err != nil {
		t.Fatal(err)
	}
	if want := "/transactions/a%2Fb%20c"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
	if _, err := c.Transaction(context.Background(), ""); err == nil {
		t.Error("Transaction(\"\") succeeded, want an error")
	}
}
