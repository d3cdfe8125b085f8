package httpforward_test

import (
	"math"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Duration
	}{
		{name: "Empty", in: "", want: 0},
		{name: "Seconds", in: "7", want: 7 * time.Second},
		{name: "Zero", in: "0", want: 0},
		{name: "Spaces", in: " 120 ", want: 2 * time.Minute},
		{name: "LeadingZeros", in: "007", want: 7 * time.Second},
		{name: "Huge", in: "99999999999999999999999", want: time.Duration(math.MaxInt64 / int64(time.Second) * int64(time.Second))},
		{name: "Negative", in: "-5", want: 0},
		{name: "Plus", in: "+5", want: 0},
		{name: "Fraction", in: "1.5", want: 0},
		{name: "Garbage", in: "soon", want: 0},
		{name: "IMFFixdate", in: "Thu, 01 Jan 2026 12:00:30 GMT", want: 30 * time.Second},
		{name: "RFC850", in: "Thursday, 01-Jan-26 12:01:00 GMT", want: time.Minute},
		{name: "ANSIC", in: "Thu Jan  1 12:00:10 2026", want: 10 * time.Second},
		{name: "DateNow", in: "Thu, 01 Jan 2026 12:00:00 GMT", want: 0},
		{name: "DatePast", in: "Thu, 01 Jan 2026 11:00:00 GMT", want: 0},
		{name: "DateNotGMT", in: "Thu, 01 Jan 2026 12:00:30 +0700", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpforward.ParseRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "7", "99999999999999999999", "Thu, 01 Jan 2026 12:00:30 GMT", "-1", "soon"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := httpforward.ParseRetryAfter(v, now); d < 0 {
			t.Errorf("ParseRetryAfter(%q) = %v, want >= 0", v, d)
		}
	})
}
