package httpforward

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds keeps the conversion to a time.Duration from
// overflowing; the dispatcher caps the delay far lower (24 h).
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// ParseRetryAfter returns the delay a Retry-After header value asks for,
// relative to now: either delay-seconds ("120") or an HTTP date ("Wed, 21
// Oct 2015 07:28:00 GMT", or the obsolete forms http.ParseTime accepts). It
// returns 0 for an empty or malformed value and for a date not after now, so
// 0 always means "no usable Retry-After". Huge values saturate instead of
// overflowing. It does no I/O and reads no clock.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > maxRetryAfterSeconds { // only a range error is possible
			n = maxRetryAfterSeconds
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d := t.Sub(now); d > 0 {
		return d
	}
	return 0
}

// isDigits reports whether s is 1*DIGIT, the delay-seconds grammar (no sign,
// no fraction), which strconv alone would accept more loosely.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
