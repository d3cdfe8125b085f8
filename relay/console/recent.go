package console

import (
	"sync"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// recentMinutes is the window Recent counts over.
const recentMinutes = 60

// Recent counts, per sink, the delivery attempts of the last hour that
// delivered and that failed (transient, permanent or unknown), in one-minute
// buckets. It lives in memory: a restart starts it from zero. Observe has
// the relay.DispatchObserver signature, so the dispatcher feeds it. It is
// safe for concurrent use; the zero value is not (use NewRecent).
type Recent struct {
	mu    sync.Mutex
	sinks map[string]*[recentMinutes]minuteCount
	now   func() time.Time
}

// minuteCount is one minute's counts; minute is Unix minutes, so a bucket
// left from an hour ago is recognized as stale.
type minuteCount struct {
	minute    int64
	delivered int64
	failed    int64
}

// RecentCounts are one sink's counts over the last hour.
type RecentCounts struct {
	Delivered int64
	Failed    int64
}

// NewRecent returns an empty counter on the system clock.
func NewRecent() *Recent {
	return &Recent{sinks: map[string]*[recentMinutes]minuteCount{}, now: time.Now}
}

var _ relay.DispatchObserver = (*Recent)(nil).Observe

// Observe records one finished attempt (relay.DispatchObserver).
func (r *Recent) Observe(sink string, res relay.Result, _ time.Duration) {
	var delivered, failed int64
	switch res.Outcome {
	case relay.OutcomeDelivered:
		delivered = 1
	case relay.OutcomeTransient, relay.OutcomePermanent, relay.OutcomeUnknown:
		failed = 1
	default:
		return
	}
	m := r.now().Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	ring := r.sinks[sink]
	if ring == nil {
		ring = new([recentMinutes]minuteCount)
		r.sinks[sink] = ring
	}
	b := &ring[m%recentMinutes]
	if b.minute != m {
		*b = minuteCount{minute: m}
	}
	b.delivered += delivered
	b.failed += failed
}

// Counts returns every observed sink's counts over the last 60 minutes
// (the current minute included).
func (r *Recent) Counts() map[string]RecentCounts {
	m := r.now().Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]RecentCounts, len(r.sinks))
	for sink, ring := range r.sinks {
		var c RecentCounts
		for _, b := range ring {
			if b.minute > m-recentMinutes && b.minute <= m {
				c.Delivered += b.delivered
				c.Failed += b.failed
			}
		}
		out[sink] = c
	}
	return out
}
