package testkit

import (
	"sort"
	"sync"
	"time"
)

// Clock is a clock that moves only when a test moves it. Now reads it;
// Until returns a channel that receives once Advance or Set has moved the
// clock to or past the deadline, so code that sleeps on its clock (the
// dispatcher's next due time) wakes exactly when the test says. It
// satisfies relay.Clock. Safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Until returns a channel that receives the clock's time once it reaches
// t; at once when it already has (a deadline computed from an earlier
// reading of the clock may have passed while it was computed).
func (c *Clock) Until(t time.Time) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !t.After(c.t) {
		ch <- c.t
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: t, c: ch})
	return ch
}

// Advance moves the clock forward by d, fires the timers that are due and
// returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.fire()
	return c.t
}

// Set moves the clock to t when t is later (a clock never goes back) and
// fires the timers that are due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
	c.fire()
}

// Timers reports how many Until channels are waiting, and the earliest
// deadline among them (zero when none): a test can wait until the code
// under test is asleep on the clock before advancing it.
func (c *Clock) Timers() (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters) == 0 {
		return 0, time.Time{}
	}
	first := c.waiters[0].at
	for _, w := range c.waiters[1:] {
		if w.at.Before(first) {
			first = w.at
		}
	}
	return len(c.waiters), first
}

// fire sends to every waiter whose deadline has come, earliest first.
func (c *Clock) fire() {
	sort.SliceStable(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	n := 0
	for _, w := range c.waiters {
		if w.at.After(c.t) {
			c.waiters[n] = w
			n++
			continue
		}
		w.c <- c.t
	}
	clear(c.waiters[n:])
	c.waiters = c.waiters[:n]
}
