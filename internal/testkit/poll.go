package testkit

import (
	"testing"
	"time"
)

// DefaultTimeout is how long Eventually waits when given 0: long enough
// for a loaded CI machine, since it only bounds a test that is failing.
const DefaultTimeout = 30 * time.Second

// Eventually polls cond every few milliseconds until it holds, and fails
// the test naming what it waited for once timeout (DefaultTimeout when 0)
// has passed. It is how tests wait for something asynchronous: never a
// sleep of a guessed length.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
