package stdout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/stdout"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestSink_Deliver(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name        string
		ctx         context.Context
		event       string
		wantOutcome relay.Outcome
		wantOut     string
	}{
		{name: "OK", event: `{"id":"evt_1","data":{"total":"150000.00"}}`,
			wantOutcome: relay.OutcomeDelivered, wantOut: `{"id":"evt_1","data":{"total":"150000.00"}}` + "\n"},
		{name: "Pretty", event: "{\n  \"id\": \"evt_2\",\n  \"note\": \"a  b\"\n}",
			wantOutcome: relay.OutcomeDelivered, wantOut: `{"id":"evt_2","note":"a  b"}` + "\n"},
		{name: "Empty", event: "", wantOutcome: relay.OutcomePermanent},
		{name: "NotJSON", event: `{"id":`, wantOutcome: relay.OutcomePermanent},
		{name: "Canceled", ctx: canceled, event: `{"id":"evt_3"}`, wantOutcome: relay.OutcomeTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			var buf bytes.Buffer
			r := stdout.New(&buf).Deliver(ctx, &relay.Outbound{EventID: "evt", Event: json.RawMessage(tt.event)})
			if r.Outcome != tt.wantOutcome {
				t.Errorf("Outcome = %v (%s), want %v", r.Outcome, r.Reason, tt.wantOutcome)
			}
			if diff := cmp.Diff(tt.wantOut, buf.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("WriteError", func(t *testing.T) {
		r := stdout.New(failWriter{}).Deliver(t.Context(), &relay.Outbound{EventID: "evt", Event: json.RawMessage(`{}`)})
		if r.Outcome != relay.OutcomeTransient || !strings.Contains(r.Reason, "broken pipe") {
			t.Errorf("Deliver = %+v, want transient with the write error", r)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		var buf bytes.Buffer // not safe for concurrent use: the sink's mutex must serialize
		s := stdout.New(&buf)
		const n = 100
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				s.Deliver(t.Context(), &relay.Outbound{Event: json.RawMessage(fmt.Sprintf(`{"id":"evt_%d"}`, i))})
			})
		}
		wg.Wait()
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != n {
			t.Fatalf("%d lines, want %d", len(lines), n)
		}
		for _, line := range lines {
			if !json.Valid([]byte(line)) {
				t.Errorf("invalid line %q", line)
			}
		}
	})
}
