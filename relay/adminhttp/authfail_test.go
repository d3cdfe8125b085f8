package adminhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
)

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// TestAuthFailures_LogLimit checks the count and the once-per-10-s log
// limit per address, with the clock injected.
func TestAuthFailures_LogLimit(t *testing.T) {
	var buf bytes.Buffer
	clock := testkit.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "f", Help: "h"}, []string{"kind"})
	a := NewAuthFailures(counter, slog.New(slog.NewJSONHandler(&buf, nil)), clock.Now)
	if got := testutil.ToFloat64(counter.WithLabelValues(AuthLogin)); got != 0 {
		t.Fatalf("login = %v", got)
	}
	for range 4 {
		a.Record(AuthBearer, "192.0.2.1", "/v1/events")
	}
	a.Record(AuthLogin, "192.0.2.2", "/ui/login")
	a.Record("anything else", "192.0.2.1", "/v1/events") // never a new label value
	if got := len(logLines(t, &buf)); got != 2 {
		t.Fatalf("%d lines, want one per address:\n%s", got, &buf)
	}
	clock.Advance(AuthLogInterval)
	a.Record(AuthBearer, "192.0.2.1", "/v1/events")
	lines := logLines(t, &buf)
	if len(lines) != 3 || lines[2]["remote"] != "192.0.2.1" || lines[2]["unlogged_failures_before"] != float64(4) {
		t.Fatalf("lines %v, want a third for 192.0.2.1 with 4 unlogged before", lines)
	}
	if b, l := testutil.ToFloat64(counter.WithLabelValues(AuthBearer)), testutil.ToFloat64(counter.WithLabelValues(AuthLogin)); b != 6 || l != 1 {
		t.Fatalf("bearer %v login %v, want 6 and 1", b, l)
	}
	if n := testutil.CollectAndCount(counter); n != 2 {
		t.Fatalf("%d label sets, want 2 (bearer, login)", n)
	}
}

// TestAuthFailures_ManyAddresses checks that a guesser with many addresses
// can grow neither the table nor the log without bound.
func TestAuthFailures_ManyAddresses(t *testing.T) {
	var buf bytes.Buffer
	clock := testkit.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	a := NewAuthFailures(nil, slog.New(slog.NewJSONHandler(&buf, nil)), clock.Now)
	n := maxTracked + 1000
	for i := range n {
		a.Record(AuthBearer, fmt.Sprintf("2001:db8::%x", i), "/v1/events")
	}
	if got := len(a.seen); got > maxTracked+1 {
		t.Fatalf("tracking %d addresses, want at most %d", got, maxTracked+1)
	}
	if got := len(logLines(t, &buf)); got != maxTracked+1 {
		t.Fatalf("%d lines, want %d (one per tracked address, one for the rest)", got, maxTracked+1)
	}
	// Once their 10 s are over, old entries make room again.
	clock.Advance(AuthLogInterval)
	buf.Reset()
	a.Record(AuthBearer, "192.0.2.99", "/v1/events")
	if lines := logLines(t, &buf); len(lines) != 1 || lines[0]["remote"] != "192.0.2.99" || lines[0]["note"] != nil {
		t.Fatalf("lines %v, want one for 192.0.2.99 of its own", lines)
	}
	if got := len(a.seen); got != 1 {
		t.Fatalf("tracking %d after the sweep, want 1", got)
	}
}
