package file_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/file"
)

// MustOpenSink opens a file sink on path and closes it at cleanup.
func MustOpenSink(tb testing.TB, path string) *file.Sink {
	tb.Helper()
	s, err := file.New("SINK_AUDIT_", file.Config{Path: path})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// NewOutbound returns an outbound event whose CloudEvent has the given id.
func NewOutbound(id string) *relay.Outbound {
	return &relay.Outbound{
		EventID: id,
		Event:   json.RawMessage(fmt.Sprintf(`{"specversion":"1.0","id":%q,"type":"com.tagihanai.transaction.sent","data":{"total":"9007199254740993.00"}}`, id)),
	}
}

// ReadLines returns the lines of an NDJSON file, failing on a missing final
// newline.
func ReadLines(tb testing.TB, path string) []string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		tb.Fatalf("%s does not end with a newline", path)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		path      string
		wantVar   string // "" for success
		wantValue string
	}{
		{name: "OK", path: filepath.Join(dir, "events.ndjson")},
		{name: "Required", path: "", wantVar: "SINK_AUDIT_PATH"},
		{name: "NoDirectory", path: filepath.Join(dir, "missing", "events.ndjson"),
			wantVar: "SINK_AUDIT_PATH", wantValue: filepath.Join(dir, "missing", "events.ndjson")},
		{name: "IsDirectory", path: dir, wantVar: "SINK_AUDIT_PATH", wantValue: dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := file.New("SINK_AUDIT_", file.Config{Path: tt.path})
			if tt.wantVar == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				defer s.Close()
				fi, err := os.Stat(tt.path)
				if err != nil {
					t.Fatal(err)
				}
				if perm := fi.Mode().Perm(); perm != 0o600 {
					t.Errorf("mode = %v, want 0600", perm)
				}
				return
			}
			var ce *relay.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("New error = %v, want *relay.ConfigError", err)
			}
			if ce.Var != tt.wantVar || ce.Value != tt.wantValue {
				t.Errorf("ConfigError{Var: %q, Value: %q}, want {%q, %q}", ce.Var, ce.Value, tt.wantVar, tt.wantValue)
			}
		})
	}
}

func TestSink_Deliver(t *testing.T) {
	t.Run("Concurrent", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.ndjson")
		s := MustOpenSink(t, path)

		const n = 200
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if r := s.Deliver(t.Context(), NewOutbound(fmt.Sprintf("evt_%03d", i))); r.Outcome != relay.OutcomeDelivered {
					t.Errorf("Deliver = %+v, want delivered", r)
				}
			})
		}
		wg.Wait()

		lines := ReadLines(t, path)
		if len(lines) != n {
			t.Fatalf("%d lines, want %d", len(lines), n)
		}
		seen := make(map[string]bool, n)
		for i, line := range lines {
			var ev struct {
				ID   string          `json:"id"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("line %d is not JSON: %v: %q", i+1, err, line)
			}
			if seen[ev.ID] {
				t.Errorf("%s written twice", ev.ID)
			}
			seen[ev.ID] = true
			if want := `{"total":"9007199254740993.00"}`; string(ev.Data) != want {
				t.Errorf("%s data = %s, want %s", ev.ID, ev.Data, want)
			}
		}
	})

	t.Run("PrettyEventIsOneLine", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.ndjson")
		s := MustOpenSink(t, path)
		o := NewOutbound("evt_pretty")
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, o.Event, "", "  "); err != nil {
			t.Fatal(err)
		}
		want := string(o.Event)
		o.Event = pretty.Bytes()

		if r := s.Deliver(t.Context(), o); r.Outcome != relay.OutcomeDelivered {
			t.Fatalf("Deliver = %+v, want delivered", r)
		}
		if diff := cmp.Diff([]string{want}, ReadLines(t, path)); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})

	t.Run("BadEvent", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.ndjson")
		s := MustOpenSink(t, path)
		for _, ev := range []string{"", `{"id":`, "not json"} {
			o := NewOutbound("evt_bad")
			o.Event = json.RawMessage(ev)
			if r := s.Deliver(t.Context(), o); r.Outcome != relay.OutcomePermanent || !strings.Contains(r.Reason, "evt_bad") {
				t.Errorf("Deliver(%q) = %+v, want permanent naming the event", ev, r)
			}
		}
		if lines := ReadLines(t, path); len(lines) != 0 {
			t.Errorf("bad events wrote %q", lines)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.ndjson")
		s := MustOpenSink(t, path)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if r := s.Deliver(ctx, NewOutbound("evt_late")); r.Outcome != relay.OutcomeTransient {
			t.Errorf("Deliver = %+v, want transient", r)
		}
		if lines := ReadLines(t, path); len(lines) != 0 {
			t.Errorf("canceled delivery wrote %q", lines)
		}
	})
}

func TestSink_Close(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.ndjson")

	s, err := file.New("SINK_AUDIT_", file.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt_1", "evt_2"} {
		if r := s.Deliver(t.Context(), NewOutbound(id)); r.Outcome != relay.OutcomeDelivered {
			t.Fatalf("Deliver(%s) = %+v", id, r)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if r := s.Deliver(t.Context(), NewOutbound("evt_closed")); r.Outcome != relay.OutcomeTransient {
		t.Errorf("Deliver after Close = %+v, want transient", r)
	}

	// Reopened, the file is appended to, not truncated.
	s = MustOpenSink(t, path)
	if r := s.Deliver(t.Context(), NewOutbound("evt_3")); r.Outcome != relay.OutcomeDelivered {
		t.Fatalf("Deliver after reopen = %+v", r)
	}
	var ids []string
	for _, line := range ReadLines(t, path) {
		var ev struct{ ID string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		ids = append(ids, ev.ID)
	}
	if diff := cmp.Diff([]string{"evt_1", "evt_2", "evt_3"}, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}
