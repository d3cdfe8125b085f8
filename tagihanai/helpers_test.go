package tagihanai

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

// fakeClock is a clock that only moves when told (or when a client
// "sleeps" on it).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// waits records the waits of a client instead of sleeping them.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// MustFakeAPI starts the fake TagihanAI API on a fake clock and returns a
// client of it whose waits (429, retries) move that clock instead of
// sleeping, and are recorded.
func MustFakeAPI(tb testing.TB) (*tagihanaitest.Server, *Client, *fakeClock, *waits) {
	tb.Helper()
	clock := newFakeClock()
	api := tagihanaitest.New(tb, testKey)
	api.SetClock(clock.Now)
	api.SetLatency(0)
	c := NewClient(api.URL(), testKey, api.Client())
	w := &waits{}
	c.now = clock.Now
	c.sleep = func(ctx context.Context, d time.Duration) error {
		w.mu.Lock()
		w.d = append(w.d, d)
		w.mu.Unlock()
		clock.Advance(d)
		return ctx.Err()
	}
	return api, c, clock, w
}

// paths returns the requests the fake got as "METHOD path?query", without
// the base path.
func paths(api *tagihanaitest.Server) []string {
	var out []string
	for _, r := range api.Requests() {
		s := r.String()
		out = append(out, s[:len(r.Method)+1]+s[len(r.Method)+1+len(tagihanaitest.BasePath):])
	}
	return out
}
