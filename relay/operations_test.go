package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestOperations_Validation(t *testing.T) {
	st := MustOpenStore(t)
	ops := &relay.Operations{Store: st, Receiver: &relay.Receiver{Store: st, Routes: []relay.Route{{Sink: "erp", Events: []string{"*"}}}}}
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"RedriveEmpty", func() error { _, err := ops.Redrive(ctx, relay.Redrive{}, "op"); return err }},
		{"RedriveUnknownSink", func() error { _, err := ops.Redrive(ctx, relay.Redrive{Sink: "nope"}, "op"); return err }},
		{"RedriveBadGlob", func() error { _, err := ops.Redrive(ctx, relay.Redrive{Type: "transaction.["}, "op"); return err }},
		{"ResolveNoSink", func() error { return ops.Resolve(ctx, "e", relay.Resolution{Outcome: "retry"}, "op") }},
		{"ResolveBadOutcome", func() error { return ops.Resolve(ctx, "e", relay.Resolution{Sink: "erp", Outcome: "done"}, "op") }},
		{"ReplayNoSink", func() error { return ops.Replay(ctx, "e", "", "op") }},
		{"ReplayUnknownSink", func() error { return ops.Replay(ctx, "e", "nope", "op") }},
		{"DeadLettersBadState", func() error {
			_, err := ops.ListDeadLetters(ctx, relay.DeadLetterFilter{State: "pending"})
			return err
		}},
		{"ImportNoID", func() error {
			_, err := ops.Import(ctx, &relay.ExportRecord{ReceivedAt: time.Now()}, false)
			return err
		}},
		{"ImportNoTime", func() error { _, err := ops.Import(ctx, &relay.ExportRecord{ID: "e"}, false); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); relay.ErrorCode(err) != relay.EINVALID {
				t.Errorf("error %v, want code %s", err, relay.EINVALID)
			}
		})
	}
	if _, err := ops.GetEvent(ctx, "missing"); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Errorf("GetEvent(missing) = %v", err)
	}
	if _, err := relay.ParseExportRecord([]byte("{")); relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("ParseExportRecord: %v", err)
	}
}

// TestOperations_Replay: a delivered event is sent again under its id.
func TestOperations_Replay(t *testing.T) {
	var ids []string
	done := make(chan string, 4)
	sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
		done <- o.EventID
		return relay.Delivered(200, nil)
	}}
	h := startHarness(t, spec(t, "erp", sink, "10ms"))
	id := h.ingest(t, "transaction.paid", eventOpts("evt_replay", ""))
	h.waitState(t, 5*time.Second, id, "erp", relay.StateDelivered)
	ids = append(ids, <-done)

	if err := h.ops.Replay(context.Background(), id, "erp", "tester"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		ids = append(ids, got)
	case <-time.After(5 * time.Second):
		t.Fatal("replay not delivered")
	}
	if ids[0] != id || ids[1] != id {
		t.Errorf("delivered ids %v, want %s twice", ids, id)
	}
	d := h.waitState(t, 5*time.Second, id, "erp", relay.StateDelivered)
	if d.Attempts != 2 {
		t.Errorf("%d attempts, want 2", d.Attempts)
	}
}

// TestOperations_ResolveRetry: a needs-review delivery resolved "retry" is
// attempted again at once.
func TestOperations_ResolveRetry(t *testing.T) {
	var calls counter
	sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
		if calls.inc() == 1 {
			return relay.Unknown("no answer")
		}
		return relay.Delivered(200, map[string]string{"document_number": "DOC-9"})
	}}
	sp := spec(t, "acc", sink, "10ms")
	sp.ReviewUnknown = true
	h := startHarness(t, sp)
	id := h.ingest(t, "transaction.sent", eventOpts("evt_resolve", ""))
	h.waitState(t, 5*time.Second, id, "acc", relay.StateNeedsReview)

	if err := h.ops.Resolve(context.Background(), id, relay.Resolution{Sink: "acc", Outcome: "retry"}, "tester"); err != nil {
		t.Fatal(err)
	}
	d := h.waitState(t, 5*time.Second, id, "acc", relay.StateDelivered)
	if d.Result["document_number"] != "DOC-9" || calls.get() != 2 {
		t.Errorf("after resolve: %+v, %d calls", d, calls.get())
	}
	ev, _ := h.store.GetEvent(context.Background(), id)
	if len(ev.Operations) != 1 || !strings.HasPrefix(ev.Operations[0].Action, "resolve") {
		t.Errorf("operations %+v", ev.Operations)
	}
}

func TestOperations_Stats(t *testing.T) {
	st := MustOpenStore(t)
	ops := &relay.Operations{Store: st, Receiver: &relay.Receiver{Store: st, Routes: []relay.Route{{Sink: "erp"}, {Sink: "debug"}}}}
	s, err := ops.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"erp", "debug"} {
		if _, ok := s.Sinks[name]; !ok {
			t.Errorf("configured sink %s missing from stats", name)
		}
	}
}
