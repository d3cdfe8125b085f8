package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestOperations_Validation(t *testing.T) {
	st := testkit.OpenStore(t)
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
		{"ReplayNoSink", func() error { _, err := ops.Replay(ctx, "e", "", "op"); return err }},
		{"ReplayUnknownSink", func() error { _, err := ops.Replay(ctx, "e", "nope", "op"); return err }},
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

	if res, err := h.ops.Replay(context.Background(), id, "erp", "tester"); err != nil || res != (relay.ReplayResult{Queued: 1}) {
		t.Fatalf("Replay = %+v, %v; want one delivery queued", res, err)
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
	st := testkit.OpenStore(t)
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

// TestOperations_ExportImport: an exported delivery imported into another
// store is the same event (id, raw body and headers, CloudEvent byte for
// byte), routed only when asked, and a second import is a no-op.
func TestOperations_ExportImport(t *testing.T) {
	ctx := context.Background()
	routes := []relay.Route{{Sink: "erp", Events: []string{"*"}}}
	src := testkit.OpenStore(t)
	srcRecv := &relay.Receiver{Store: src, Routes: routes, Source: "tagihanai"}
	bodies := map[string]string{
		"evt_x1": "{\"id\":\"evt_x1\",\"type\":\"transaction.paid\",\"data\": { \"id\" : \"trx_1\" } }\n",
		"hdr_x2": `{"type":"ping"}`, // id from a header
		"":       "not json",        // unparsed, id from the body hash
	}
	received := time.Date(2026, 11, 23, 10, 0, 0, 123, time.UTC)
	for id, body := range bodies {
		h := map[string]string{"Content-Type": "application/json"}
		if id == "hdr_x2" {
			h[relay.HeaderEventID] = id
		}
		if _, err := srcRecv.Receive(ctx, relay.Delivery{ReceivedAt: received, Headers: h, Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	var recs []*relay.ExportRecord
	if err := src.Export(ctx, relay.ExportFilter{}, func(r *relay.ExportRecord) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("exported %d records", len(recs))
	}

	dst := testkit.OpenStore(t)
	var n notified
	ops := &relay.Operations{Store: dst, Receiver: &relay.Receiver{Store: dst, Routes: routes, Source: "tagihanai"}, Notify: n.notify}
	for _, rec := range recs {
		ok, err := ops.Import(ctx, rec, true)
		if err != nil || !ok {
			t.Fatalf("Import %s = %v, %v", rec.ID, ok, err)
		}
		if ok, err := ops.Import(ctx, rec, true); err != nil || ok {
			t.Errorf("second Import %s = %v, %v; want a no-op", rec.ID, ok, err)
		}
		want, err := src.GetEvent(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dst.GetEvent(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Event) != string(want.Event) {
			t.Errorf("%s: CloudEvent\n got %s\nwant %s", rec.ID, got.Event, want.Event)
		}
		if string(got.Raw.BodyBase64) != string(want.Raw.BodyBase64) || got.Raw.Headers[relay.HeaderEventID] != want.Raw.Headers[relay.HeaderEventID] {
			t.Errorf("%s: raw delivery changed", rec.ID)
		}
		if got.Status != want.Status || got.Subject != want.Subject || !got.ReceivedAt.Equal(want.ReceivedAt) {
			t.Errorf("%s: imported %+v, want %+v", rec.ID, got.EventSummary, want.EventSummary)
		}
	}
	// The transaction was routed (and its sink woken); the test event
	// (ping, the route excludes tests) and the unparsed one were not.
	if diff := cmp.Diff([][]string{{"erp"}}, n.get()); diff != "" {
		t.Errorf("Notify calls (-want +got):\n%s", diff)
	}
	if d, err := dst.GetEvent(ctx, "evt_x1"); err != nil || len(d.Deliveries) != 1 || d.Deliveries[0].State != relay.StatePending {
		t.Errorf("imported transaction not queued for erp: %+v, %v", d, err)
	}
}
