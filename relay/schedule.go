package relay

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// DefaultRetrySchedule is SINK_<NAME>_RETRY_SCHEDULE's default: about 24 h
// over 11 attempts.
const DefaultRetrySchedule = "5s,30s,2m,10m,30m,1h,2h,4h,8h,8h"

// MaxRetryAfter caps a sink's Retry-After.
const MaxRetryAfter = 24 * time.Hour

// ParseSchedule reads a comma-separated list of delays. N delays mean N+1
// attempts when all fail transiently; an empty string means one attempt.
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, err
		}
		if d < 0 {
			return nil, fmt.Errorf("negative delay %s", part)
		}
		out = append(out, d)
	}
	return out, nil
}

// NextDelay returns how long to wait after the n-th attempt of a schedule
// (from 1) failed transiently, and false when the schedule is spent. The
// nominal delay gets full jitter (uniform in [0, d]); a Retry-After longer
// than the nominal delay replaces it, as given, capped at MaxRetryAfter.
func NextDelay(schedule []time.Duration, n int, retryAfter time.Duration, rnd func(int64) int64) (time.Duration, bool) {
	if n < 1 || n > len(schedule) {
		return 0, false
	}
	nominal := schedule[n-1]
	if retryAfter > nominal {
		// Used as given, capped — but never shorter than the schedule's own delay.
		return max(nominal, min(retryAfter, MaxRetryAfter)), true
	}
	if nominal <= 0 {
		return 0, true
	}
	if rnd == nil {
		rnd = rand.Int64N
	}
	return time.Duration(rnd(int64(nominal) + 1)), true
}
