package testkit_test

import (
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
)

func TestClock_AfterFiresOnAdvance(t *testing.T) {
	start := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	c := testkit.NewClock(start)
	now := c.Until(start)
	passed := c.Until(start.Add(-time.Second))
	late := c.Until(start.Add(2 * time.Second))
	soon := c.Until(start.Add(time.Second))
	if got := <-now; !got.Equal(start) {
		t.Errorf("Until(now) = %v, want %v", got, start)
	}
	if got := <-passed; !got.Equal(start) {
		t.Errorf("Until(a passed time) = %v, want %v at once", got, start)
	}
	if n, first := c.Timers(); n != 2 || !first.Equal(start.Add(time.Second)) {
		t.Errorf("Timers() = %d, %v", n, first)
	}
	c.Advance(999 * time.Millisecond)
	select {
	case <-soon:
		t.Fatal("fired before its deadline")
	default:
	}
	c.Advance(time.Millisecond)
	select {
	case <-soon:
	default:
		t.Fatal("did not fire at its deadline")
	}
	c.Set(start) // never goes back
	if !c.Now().Equal(start.Add(time.Second)) {
		t.Errorf("Set to an earlier time moved the clock back to %v", c.Now())
	}
	c.Set(start.Add(time.Hour))
	if got := <-late; !got.Equal(start.Add(time.Hour)) {
		t.Errorf("late timer got %v", got)
	}
	if n, _ := c.Timers(); n != 0 {
		t.Errorf("%d timers left", n)
	}
}
