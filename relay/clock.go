package relay

import "time"

// Clock is where the dispatcher reads the time and waits for it. Tests
// inject a clock they move (internal/testkit.Clock), so that retry
// schedules and Retry-After run without real waits.
type Clock interface {
	Now() time.Time
	// Until returns a channel that receives once the clock has reached t,
	// at once when it already has.
	Until(t time.Time) <-chan time.Time
}

// WallClock is the real clock.
type WallClock struct{}

// Now is time.Now.
func (WallClock) Now() time.Time { return time.Now() }

// Until is time.After of the time left until t.
func (WallClock) Until(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }
