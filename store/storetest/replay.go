package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// testReplayCreateOnce checks SPEC 3: a replay never erases what a
// delivery achieved. A replay to a create-once sink whose subject already
// has a document there queues nothing, leaves the delivery as it was
// (delivered with its document number, or skipped) and records the replay
// in its history as skipped.
func testReplayCreateOnce(t *testing.T, open Opener) {
	replayAt := later.Add(2 * time.Hour)
	const doc = "00001/FPJ/03/26"
	createOnce := func(sink, operator string) relay.ReplayRequest {
		return relay.ReplayRequest{Target: relay.OutboxTarget{Sink: sink, OrderKey: "trx_1"}, CreateOnce: true, Operator: operator}
	}
	// evt_1 created doc at ap for trx_1; evt_2 of the same subject was
	// skipped for it; evt_3 of the same subject never went to ap.
	setup := func(t *testing.T) (*harness, relay.CreatedDocument) {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_1", subject: "trx_1", at: at(0), targets: ordered("trx_1", ap)}.event(),
			spec{id: "evt_2", subject: "trx_1", at: at(1), targets: ordered("trx_1", ap)}.event(),
			spec{id: "evt_3", subject: "trx_1", at: at(2), targets: ordered("trx_1", erp)}.event(),
		)
		cd := relay.CreatedDocument{Sink: ap, Subject: "trx_1", EventID: "evt_1", DocumentNumber: doc, CreatedAt: later}
		h.wantClaimed(ap, later, "evt_1")
		h.finish(ap, "evt_1", attempt(relay.StateDelivered, later), relay.Transition{
			State: relay.StateDelivered, Result: map[string]string{"document_number": doc}, Created: &cd,
		})
		h.wantClaimed(ap, later, "evt_2")
		h.finish(ap, "evt_2", relay.Attempt{At: later, Outcome: relay.StateSkipped, Error: "document " + doc + " already created for trx_1 by event evt_1"},
			relay.Transition{State: relay.StateSkipped, Reason: "document " + doc + " already created for trx_1 by event evt_1"})
		h.settle(erp, later, map[string]string{"evt_3": relay.StateDelivered})
		return h, cd
	}
	// wantSkipped requires res to be one skip naming the document and the
	// event that created it, the delivery's last history entry to be that
	// skip, and the operator action recorded.
	wantSkipped := func(t *testing.T, h *harness, id string, res relay.ReplayResult, err error) relay.DeliveryState {
		t.Helper()
		if err != nil {
			t.Fatalf("Replay(%s): %v", id, err)
		}
		if res.Queued != 0 || res.Skipped != 1 || !strings.Contains(res.Reason, doc) || !strings.Contains(res.Reason, "evt_1") {
			t.Fatalf("Replay(%s) = %+v, want queued 0, skipped 1, a reason naming %s and evt_1", id, res, doc)
		}
		ds := h.delivery(id, ap)
		last := ds.History[len(ds.History)-1]
		wantLast := relay.Attempt{At: replayAt, Outcome: relay.StateSkipped, Error: res.Reason}
		if diff := cmp.Diff(wantLast, last); diff != "" {
			t.Errorf("history's last entry (-want +got):\n%s", diff)
		}
		d := h.get(id)
		if !hasOperation(d, "replay:skipped", ap, "ops") {
			t.Errorf("operations = %+v, want the skipped replay recorded", d.Operations)
		}
		h.wantClaimed(ap, replayAt.Add(time.Hour)) // nothing queued
		return ds
	}

	t.Run("TheEventThatCreated", func(t *testing.T) {
		h, cd := setup(t)
		before := h.delivery("evt_1", ap)
		res, err := h.s.Replay(h.ctx, "evt_1", createOnce(ap, "ops"), replayAt)
		ds := wantSkipped(t, h, "evt_1", res, err)
		if ds.State != relay.StateDelivered || ds.Result["document_number"] != doc {
			t.Errorf("delivery = %s %v, want delivered with %s kept", ds.State, ds.Result, doc)
		}
		if ds.Attempts != before.Attempts || ds.LastStatus != before.LastStatus || ds.LastError != "" {
			t.Errorf("delivery attempts %d, last status %d, last error %q; want %d, %d, none (nothing was sent)",
				ds.Attempts, ds.LastStatus, ds.LastError, before.Attempts, before.LastStatus)
		}
		if diff := cmp.Diff(before.History, ds.History[:len(ds.History)-1]); diff != "" {
			t.Errorf("earlier history changed (-before +after):\n%s", diff)
		}
		h.wantStatus("evt_1", relay.StatusDelivered)
		if diff := cmp.Diff([]relay.CreatedDocument{cd}, h.get("evt_1").Created); diff != "" {
			t.Errorf("created (-want +got):\n%s", diff)
		}
		h.wantSinks(replayAt, map[string]relay.SinkStats{ap: {Delivered: 1, Skipped: 1}, erp: {Delivered: 1}})

		// Again: each replay is recorded, the delivery stays delivered.
		res, err = h.s.Replay(h.ctx, "evt_1", createOnce(ap, "ops"), replayAt)
		if ds := wantSkipped(t, h, "evt_1", res, err); ds.State != relay.StateDelivered || len(ds.History) != len(before.History)+2 {
			t.Errorf("second replay: %s with %d history entries, want delivered with %d", ds.State, len(ds.History), len(before.History)+2)
		}
	})

	t.Run("AnotherEventOfTheSubject", func(t *testing.T) {
		h, _ := setup(t)
		before := h.delivery("evt_2", ap)
		res, err := h.s.Replay(h.ctx, "evt_2", createOnce(ap, "ops"), replayAt)
		ds := wantSkipped(t, h, "evt_2", res, err)
		if ds.State != relay.StateSkipped || ds.Attempts != before.Attempts || len(ds.History) != len(before.History)+1 {
			t.Errorf("delivery = %s, %d attempts, %d history; want skipped, %d, %d", ds.State, ds.Attempts, len(ds.History), before.Attempts, len(before.History)+1)
		}
		h.wantState("evt_1", ap, relay.StateDelivered)
	})

	t.Run("NeverRoutedThere", func(t *testing.T) {
		h, _ := setup(t)
		res, err := h.s.Replay(h.ctx, "evt_3", createOnce(ap, "ops"), replayAt)
		ds := wantSkipped(t, h, "evt_3", res, err)
		if ds.State != relay.StateSkipped || ds.Attempts != 0 || len(ds.History) != 1 {
			t.Errorf("delivery = %s, %d attempts, %d history; want skipped, 0, 1", ds.State, ds.Attempts, len(ds.History))
		}
		d := h.get("evt_3")
		if diff := cmp.Diff(map[string]string{ap: relay.StateSkipped, erp: relay.StateDelivered}, states(d)); diff != "" {
			t.Errorf("states (-want +got):\n%s", diff)
		}
		h.wantStatus("evt_3", relay.StatusDelivered)
		h.wantSinks(replayAt, map[string]relay.SinkStats{ap: {Delivered: 1, Skipped: 2}, erp: {Delivered: 1}})
	})

	t.Run("OtherSinksStillQueue", func(t *testing.T) {
		h, _ := setup(t)
		// erp is not create-once: the delivered evt_3 is sent again.
		res, err := h.s.Replay(h.ctx, "evt_3", relay.ReplayRequest{Target: relay.OutboxTarget{Sink: erp, OrderKey: "trx_1"}, Operator: "ops"}, replayAt)
		if err != nil || res != (relay.ReplayResult{Queued: 1}) {
			t.Fatalf("Replay(evt_3, erp) = %+v, %v; want queued 1", res, err)
		}
		h.wantClaimed(erp, replayAt, "evt_3")
		// A create-once sink without a document for the subject queues too.
		res, err = h.s.Replay(h.ctx, "evt_1", createOnce("op", "ops"), replayAt)
		if err != nil || res != (relay.ReplayResult{Queued: 1}) {
			t.Fatalf("Replay(evt_1, op) = %+v, %v; want queued 1", res, err)
		}
		h.wantClaimed("op", replayAt, "evt_1")
		d := h.get("evt_1")
		if !hasOperation(d, "replay", "op", "ops") || hasOperation(d, "replay:skipped", "op", "ops") {
			t.Errorf("operations = %+v, want a plain replay to op", d.Operations)
		}
	})

	t.Run("NoDocumentYet", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", subject: "trx_1", targets: ordered("trx_1", ap)}.event())
		h.settle(ap, later, map[string]string{"evt_1": relay.StateDead})
		res, err := h.s.Replay(h.ctx, "evt_1", createOnce(ap, "ops"), replayAt)
		if err != nil || res != (relay.ReplayResult{Queued: 1}) {
			t.Fatalf("Replay = %+v, %v; want queued 1", res, err)
		}
		h.wantState("evt_1", ap, relay.StatePending)
		h.wantClaimed(ap, replayAt, "evt_1")
	})

	t.Run("OwnDocumentWithoutRecord", func(t *testing.T) {
		// Delivered with a document number but no create-once record (an
		// event without a subject has none): still never sent twice.
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_1", subject: "trx_1", targets: to(ap)}.event())
		h.wantClaimed(ap, later, "evt_1")
		h.finish(ap, "evt_1", attempt(relay.StateDelivered, later), relay.Transition{State: relay.StateDelivered, Result: map[string]string{"invoice_number": "INV/7"}})
		res, err := h.s.Replay(h.ctx, "evt_1", relay.ReplayRequest{Target: relay.OutboxTarget{Sink: ap}, CreateOnce: true, Operator: "ops"}, replayAt)
		if err != nil || res.Queued != 0 || res.Skipped != 1 || !strings.Contains(res.Reason, "INV/7") {
			t.Fatalf("Replay = %+v, %v; want skipped naming INV/7", res, err)
		}
		if ds := h.delivery("evt_1", ap); ds.State != relay.StateDelivered || ds.Result["invoice_number"] != "INV/7" {
			t.Errorf("delivery = %s %v, want delivered with INV/7", ds.State, ds.Result)
		}
		h.wantClaimed(ap, replayAt)
	})

	t.Run("OpenDeliveryRefused", func(t *testing.T) {
		h, _ := setup(t)
		h.ingest(spec{id: "evt_4", subject: "trx_1", at: at(3), targets: ordered("trx_1", ap)}.event())
		before := h.get("evt_4")
		_, err := h.s.Replay(h.ctx, "evt_4", createOnce(ap, "ops"), replayAt)
		wantCode(t, err, relay.ECONFLICT)
		if diff := cmp.Diff(before, h.get("evt_4")); diff != "" {
			t.Errorf("a refused replay changed the event (-before +after):\n%s", diff)
		}
	})
}
