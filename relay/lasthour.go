package relay

import "time"

// LastHourMinutes is the window of SinkStats' delivered_last_hour and
// failed_last_hour.
const LastHourMinutes = 60

// AttemptCounts classifies a finished attempt for the last-hour counts by
// its outcome: delivered, or failed (transient, permanent, unknown); a skip
// or a look-up that found nothing to decide counts as neither.
func AttemptCounts(outcome string) (delivered, failed int64) {
	switch outcome {
	case OutcomeDelivered.String():
		return 1, 0
	case OutcomeTransient.String(), OutcomePermanent.String(), OutcomeUnknown.String():
		return 0, 1
	}
	return 0, 0
}

// Minute is t's minute number (Unix minutes): the key of the counts.
func Minute(t time.Time) int64 { return t.Unix() / 60 }

// InLastHour reports whether minute m is one of the LastHourMinutes
// minutes up to and including now's.
func InLastHour(m int64, now time.Time) bool {
	n := Minute(now)
	return m > n-LastHourMinutes && m <= n
}

// MinuteRing counts attempts per minute over the last hour, in memory (the
// NATS backend's view; bbolt keeps the same counts in a bucket). The zero
// value is ready. Not safe for concurrent use.
type MinuteRing struct {
	slots [LastHourMinutes + 1]struct{ minute, delivered, failed int64 }
}

// Add counts an attempt at time at.
func (r *MinuteRing) Add(at time.Time, delivered, failed int64) {
	m := Minute(at)
	s := &r.slots[m%int64(len(r.slots))]
	if m < s.minute {
		return // older than the minute the slot counts now
	}
	if s.minute != m {
		s.minute, s.delivered, s.failed = m, 0, 0
	}
	s.delivered += delivered
	s.failed += failed
}

// Sum returns the counts of the last hour before now.
func (r *MinuteRing) Sum(now time.Time) (delivered, failed int64) {
	for _, s := range r.slots {
		if InLastHour(s.minute, now) {
			delivered += s.delivered
			failed += s.failed
		}
	}
	return delivered, failed
}
