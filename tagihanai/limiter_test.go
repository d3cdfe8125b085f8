package tagihanai

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

// fakeLimiter returns a Limiter of rps on clock whose waits are recorded
// and, when advance, move the clock.
func fakeLimiter(rps float64, clock *fakeClock, advance bool) (*Limiter, *waits) {
	l := NewLimiter(rps)
	w := &waits{}
	l.now = clock.Now
	l.sleep = func(ctx context.Context, d time.Duration) error {
		w.mu.Lock()
		w.d = append(w.d, d)
		w.mu.Unlock()
		if advance {
			clock.Advance(d)
		}
		return ctx.Err()
	}
	return l, w
}

func TestLimiter_PacesRequests(t *testing.T) {
	api, c, clock, _ := MustFakeAPI(t)
	l, _ := fakeLimiter(0.25, clock, true)
	c.WithLimiter(l)
	start := clock.Now()
	for range 5 {
		if _, err := c.ListWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var got []time.Duration
	for _, r := range api.Requests() {
		got = append(got, r.Time.Sub(start))
	}
	want := []time.Duration{0, 4 * time.Second, 8 * time.Second, 12 * time.Second, 16 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request times (-want +got):\n%s", diff)
	}
}

func TestLimiter_PacesRetriesAndPages(t *testing.T) {
	api, c, clock, _ := MustFakeAPI(t)
	l, _ := fakeLimiter(0.5, clock, true)
	c.WithLimiter(l)
	addInvoices(api, 150, "SENT")
	api.Fail5xx(1)
	start := clock.Now()
	if err := c.Transactions(context.Background(), TransactionQuery{}, func(TransactionSummary) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// The 500, its retry after the 1 s backoff (which also counts towards the
	// 2 s slot), then page 2.
	var got []string
	for _, r := range api.Requests() {
		got = append(got, r.Time.Sub(start).String()+" "+r.Param("page"))
	}
	if diff := cmp.Diff([]string{"0s 1", "2s 1", "4s 2"}, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestLimiter_SharedAcrossClients(t *testing.T) {
	clock := newFakeClock()
	l, w := fakeLimiter(0.25, clock, false) // the clock stands still: each wait is the slot's distance
	var clients []*Client
	for _, key := range []string{"tgh_key_shop", "tgh_key_store"} {
		api := tagihanaitest.New(t, key)
		api.SetLatency(0)
		clients = append(clients, NewClient(api.URL(), key, api.Client()).WithLimiter(l))
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if _, err := clients[i%2].ListWebhooks(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := w.get()
	slices.Sort(got)
	var want []time.Duration
	for i := 1; i < 10; i++ {
		want = append(want, time.Duration(i)*4*time.Second)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waits of 10 requests through 2 clients (-want +got):\n%s", diff)
	}
}

func TestLimiter_Unlimited(t *testing.T) {
	for _, rps := range []float64{0, -1} {
		l, w := fakeLimiter(rps, newFakeClock(), false)
		for range 100 {
			if err := l.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if len(w.get()) != 0 {
			t.Errorf("NewLimiter(%v) waited %v", rps, w.get())
		}
	}
	var nilLimiter *Limiter
	if err := nilLimiter.Wait(context.Background()); err != nil {
		t.Errorf("nil Limiter: %v", err)
	}
	_, c, _, _ := MustFakeAPI(t)
	if _, err := c.WithLimiter(nil).ListWebhooks(context.Background()); err != nil {
		t.Errorf("WithLimiter(nil): %v", err)
	}
}

func TestLimiter_Deadline(t *testing.T) {
	l, w := fakeLimiter(0.25, newFakeClock(), false)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past the deadline = %v, want DeadlineExceeded", err)
	}
	if len(w.get()) != 0 {
		t.Errorf("waited %v past the deadline", w.get())
	}
	// The refused slot was given back: the next wait is one interval, not two.
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{4 * time.Second}, w.get()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}

func TestLimiter_Canceled(t *testing.T) {
	l, _ := fakeLimiter(0.25, newFakeClock(), false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want Canceled", err)
	}
}

func TestClient_LimiterPastDeadline(t *testing.T) {
	api, c, clock, _ := MustFakeAPI(t)
	l, _ := fakeLimiter(0.25, clock, false)
	c.WithLimiter(l)
	if _, err := c.ListWebhooks(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.ListWebhooks(ctx)
	var e *Error
	if !errors.As(err, &e) || !e.Temporary || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want temporary *Error matching DeadlineExceeded", err)
	}
	if n := len(api.Requests()); n != 1 {
		t.Errorf("%d requests, want only the first", n)
	}
}
