package relay

import "testing"

// TestPrefetch: how far a sink claims ahead of its workers (prefetchDepth)
// and when the bytes of the claims waiting for a worker stop the claimer
// (claimLimit).
func TestPrefetch(t *testing.T) {
	depths := []struct {
		name string
		spec SinkSpec
		want int
	}{
		{"retried", SinkSpec{Concurrency: 3}, 3 * prefetchPerWorker},
		{"checks unknown", SinkSpec{Concurrency: 3, ChecksUnknown: true}, 3},
		{"checks unknown, review", SinkSpec{Concurrency: 3, ChecksUnknown: true, ReviewUnknown: true}, 3},
		{"review", SinkSpec{Concurrency: 3, ReviewUnknown: true}, 0},
	}
	for _, c := range depths {
		if got := prefetchDepth(&c.spec); got != c.want {
			t.Errorf("prefetchDepth(%s) = %d, want %d", c.name, got, c.want)
		}
	}
	limits := []struct {
		idle   int
		queued int64
		want   int
	}{
		{0, 0, 0},
		{9, 0, 9},
		{9, prefetchBytes - 1, 9},
		{9, prefetchBytes, 0},
		{9, 4 * prefetchBytes, 0},
	}
	for _, c := range limits {
		if got := claimLimit(c.idle, c.queued); got != c.want {
			t.Errorf("claimLimit(%d, %d) = %d, want %d", c.idle, c.queued, got, c.want)
		}
	}
	claim := Claim{Outbound: Outbound{Event: make([]byte, 300), Delivery: Delivery{Body: make([]byte, 200)}}}
	if got := claimBytes(&claim); got != 500 {
		t.Errorf("claimBytes = %d, want 500", got)
	}
}
