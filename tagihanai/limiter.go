package tagihanai

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// Limiter paces requests to the TagihanAI API: one Limiter shared by every
// Client (every source, every API key) of a relay keeps them all under
// RELAY_TAGIHANAI_MAX_RPS together. It is safe for concurrent use. A nil
// *Limiter lets every request through.
type Limiter struct {
	lim *rate.Limiter

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// NewLimiter returns a Limiter that lets through at most rps requests per
// second on average, one at a time (burst 1): at 0.25, one request every 4
// seconds. rps <= 0 means unlimited.
func NewLimiter(rps float64) *Limiter {
	r := rate.Inf
	if rps > 0 {
		r = rate.Limit(rps)
	}
	return &Limiter{lim: rate.NewLimiter(r, 1), now: time.Now, sleep: sleep}
}

// Wait blocks until the next request may be sent. It returns at once with
// an error when ctx is done, or when the wait would end after ctx's
// deadline (the error then matches context.DeadlineExceeded); the slot it
// had reserved is given back either way.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := l.now()
	r := l.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		r.CancelAt(now)
		return fmt.Errorf("the next request may go in %v, after the deadline: %w", d.Round(time.Millisecond), context.DeadlineExceeded)
	}
	if err := l.sleep(ctx, d); err != nil {
		r.CancelAt(l.now())
		return err
	}
	return nil
}

// WithLimiter makes every request of c, retries included, wait for l first
// (nil: no limit) and returns c, for chaining. Call it before c is used.
func (c *Client) WithLimiter(l *Limiter) *Client {
	c.limiter = l
	return c
}
