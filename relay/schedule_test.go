package relay

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []time.Duration
		// wantErr is a part of the error text: ParseSchedule has no
		// sentinel; its caller wraps the error in a ConfigError.
		wantErr string
	}{
		{name: "Default", in: DefaultRetrySchedule, want: []time.Duration{
			5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
			time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour,
		}},
		{name: "Spaces", in: " 20ms , 1s,1m30s ", want: []time.Duration{20 * time.Millisecond, time.Second, 90 * time.Second}},
		{name: "EmptyMeansOneAttempt", in: "", want: nil},
		{name: "EmptyParts", in: "1s,,2s,", want: []time.Duration{time.Second, 2 * time.Second}},
		{name: "Zero", in: "0s", want: []time.Duration{0}},
		{name: "Negative", in: "1s,-1s", wantErr: "negative delay -1s"},
		{name: "NoUnit", in: "5", wantErr: "missing unit"},
		{name: "Garbage", in: "5s,soon", wantErr: "invalid duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSchedule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSchedule(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSchedule(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestNextDelay_Attempts: N delays mean N+1 attempts.
func TestNextDelay_Attempts(t *testing.T) {
	for _, s := range []string{"", "1s", "20ms,20ms,20ms", DefaultRetrySchedule} {
		schedule, err := ParseSchedule(s)
		if err != nil {
			t.Fatal(err)
		}
		attempts := 1 // the first attempt needs no delay
		for n := 1; ; n++ {
			_, ok := NextDelay(schedule, n, 0, func(int64) int64 { return 0 })
			if !ok {
				break
			}
			attempts++
			if attempts > 100 {
				t.Fatal("schedule never ends")
			}
		}
		if attempts != len(schedule)+1 {
			t.Errorf("schedule %q: %d attempts, want %d", s, attempts, len(schedule)+1)
		}
	}
	schedule := []time.Duration{time.Second}
	for _, n := range []int{0, -1, 2, 3} {
		if d, ok := NextDelay(schedule, n, time.Hour, nil); ok || d != 0 {
			t.Errorf("NextDelay(n=%d) = %v, %v; want 0, false", n, d, ok)
		}
	}
}

func TestNextDelay(t *testing.T) {
	schedule := []time.Duration{5 * time.Second, 30 * time.Second, 0, 48 * time.Hour}
	const noCall = -1
	tests := []struct {
		name       string
		n          int
		retryAfter time.Duration
		rnd        int64 // what the injected rnd returns; noCall: it must not be called
		wantArg    int64 // the n rnd must be called with
		want       time.Duration
	}{
		{name: "JitterLow", n: 1, rnd: 0, wantArg: int64(5*time.Second) + 1, want: 0},
		{name: "JitterHigh", n: 1, rnd: int64(5 * time.Second), wantArg: int64(5*time.Second) + 1, want: 5 * time.Second},
		{name: "JitterMiddle", n: 2, rnd: int64(12 * time.Second), wantArg: int64(30*time.Second) + 1, want: 12 * time.Second},
		{name: "RetryAfterLongerReplaces", n: 1, retryAfter: 7 * time.Second, rnd: noCall, want: 7 * time.Second},
		{name: "RetryAfterLongerReplacesUnjittered", n: 2, retryAfter: 31 * time.Second, rnd: noCall, want: 31 * time.Second},
		{name: "RetryAfterEqualIgnored", n: 1, retryAfter: 5 * time.Second, rnd: 3, wantArg: int64(5*time.Second) + 1, want: 3},
		{name: "RetryAfterShorterIgnored", n: 2, retryAfter: 10 * time.Second, rnd: 7, wantArg: int64(30*time.Second) + 1, want: 7},
		{name: "RetryAfterCapped", n: 1, retryAfter: 72 * time.Hour, rnd: noCall, want: MaxRetryAfter},
		{name: "RetryAfterAtCap", n: 2, retryAfter: 24 * time.Hour, rnd: noCall, want: 24 * time.Hour},
		{name: "ZeroDelay", n: 3, rnd: noCall, want: 0},
		{name: "RetryAfterAfterZeroDelay", n: 3, retryAfter: time.Second, rnd: noCall, want: time.Second},
		{name: "NominalBeyondCapJittered", n: 4, retryAfter: time.Hour, rnd: int64(40 * time.Hour), wantArg: int64(48*time.Hour) + 1, want: 40 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			rnd := func(n int64) int64 {
				called = true
				if tt.rnd == noCall {
					t.Errorf("rnd called for an unjittered delay")
				}
				if n != tt.wantArg {
					t.Errorf("rnd(%d), want rnd(%d)", n, tt.wantArg)
				}
				return tt.rnd
			}
			got, ok := NextDelay(schedule, tt.n, tt.retryAfter, rnd)
			if !ok {
				t.Fatal("schedule spent")
			}
			if got != tt.want {
				t.Errorf("NextDelay = %v, want %v", got, tt.want)
			}
			if tt.rnd != noCall && !called {
				t.Error("the nominal delay was not jittered")
			}
		})
	}
}

// TestNextDelay_DefaultRand: without an injected rnd the jitter stays in
// [0, nominal].
func TestNextDelay_DefaultRand(t *testing.T) {
	schedule := []time.Duration{10 * time.Millisecond}
	seen := map[bool]bool{}
	for i := 0; i < 1000; i++ {
		d, ok := NextDelay(schedule, 1, 0, nil)
		if !ok || d < 0 || d > 10*time.Millisecond {
			t.Fatalf("NextDelay = %v, %v", d, ok)
		}
		seen[d < 5*time.Millisecond] = true
	}
	if len(seen) != 2 {
		t.Error("1000 draws all fell in one half: not full jitter")
	}
}
