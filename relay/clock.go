package relay

import "time"

// Clock is where the dispatcher reads the time and waits for it. Tests
// inject a clock they move (internal/testkit.Clock), so that retry
// schedules and Retry-After run without real waits.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// WallClock is the real clock.
type WallClock struct{}

// Now is time.Now.
func (WallClock) Now() time.Time { return time.Now() }

// After is time.After.
func (WallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
