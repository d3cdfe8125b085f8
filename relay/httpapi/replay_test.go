package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

func TestAdmin_Replay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seed := seedEvents(t, e)

	replay := func(id, sink string) {
		t.Helper()
		r := e.postAdmin(t, "/v1/events/"+id+"/replay", `{"sink":"`+sink+`"}`)
		if r.Status != http.StatusAccepted {
			t.Fatalf("replay %s to %s: got %s, want 202", id, sink, r)
		}
		if diff := cmp.Diff(map[string]any{"queued": float64(1)}, decode[map[string]any](t, r)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	}
	t.Run("Dead", func(t *testing.T) {
		before := e.notices.Load()
		replay("evt_list_03", "erp")
		if state, _, next, _, _, _ := e.detail(t, "evt_list_03").delivery(t, "erp"); state != relay.StatePending || next == nil {
			t.Errorf("replayed delivery: %s, next %v; want pending and due", state, next)
		}
		if e.notices.Load() == before {
			t.Errorf("the sink was not woken")
		}
		claims, _, err := e.Store.ClaimDue(context.Background(), "erp", e.Clock.Now(), 100)
		var claimed []string
		for _, c := range claims {
			claimed = append(claimed, c.EventID)
		}
		// evt_list_02 was due already (its subject's earlier event is delivered).
		if diff := cmp.Diff([]string{"evt_list_02", "evt_list_03"}, claimed); err != nil || diff != "" {
			t.Errorf("due after replay (-want +got):\n%s%v", diff, err)
		}
	})
	t.Run("Delivered", func(t *testing.T) {
		// Subject ordering: the replay of evt_list_01 queues behind
		// evt_list_02 (same subject, in flight since the claim above).
		replay("evt_list_01", "erp")
		if state, _, next, _, _, _ := e.detail(t, "evt_list_01").delivery(t, "erp"); state != relay.StatePending || next != nil {
			t.Errorf("replayed delivery: %s, next %v; want pending, waiting behind evt_list_02", state, next)
		}
	})
	t.Run("ToASinkItNeverWent", func(t *testing.T) {
		replay("evt_list_04", "ap")
		if state, _, _, _, _, _ := e.detail(t, "evt_list_04").delivery(t, "ap"); state != relay.StatePending {
			t.Errorf("ap delivery %s, want pending", state)
		}
	})
	t.Run("Conflict", func(t *testing.T) {
		// evt_list_07 waits to retry, evt_list_01 was just replayed, evt_list_03
		// is in flight, evt_list_02 needs review at ap.
		wantError(t, e.postAdmin(t, "/v1/events/evt_list_07/replay", `{"sink":"erp"}`), http.StatusConflict, relay.ECONFLICT)
		wantError(t, e.postAdmin(t, "/v1/events/evt_list_01/replay", `{"sink":"erp"}`), http.StatusConflict, relay.ECONFLICT)
		wantError(t, e.postAdmin(t, "/v1/events/evt_list_03/replay", `{"sink":"erp"}`), http.StatusConflict, relay.ECONFLICT)
		wantError(t, e.postAdmin(t, "/v1/events/evt_list_02/replay", `{"sink":"ap"}`), http.StatusConflict, relay.ECONFLICT)
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, tt := range []struct{ path, body, field string }{
			{"/v1/events/evt_list_03/replay", `{"sink":"nope"}`, "sink"},
			{"/v1/events/evt_list_03/replay", `{}`, "sink"},
			{"/v1/events/evt_list_03/replay", ``, "body"},
			{"/v1/events/evt_list_03/replay", `{"sink":`, "body"},
			{"/v1/events/evt_list_03/replay", `{"sink":"erp","force":true}`, "body"},
			{"/v1/events/" + url.PathEscape(seed[3].ID) + "/replay", `{"sink":"erp"}`, "unparsed"},
		} {
			wantError(t, e.postAdmin(t, tt.path, tt.body), http.StatusBadRequest, relay.EINVALID, tt.field)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		wantError(t, e.postAdmin(t, "/v1/events/evt_missing/replay", `{"sink":"erp"}`), http.StatusNotFound, relay.ENOTFOUND)
	})
}

// TestAdmin_ReplayCreateOnce: a replay to a create-once sink whose subject
// already has a document sends nothing and says so (SPEC 3, 4.1): 202
// {"queued":0,"skipped":1,"reason":"..."}, the delivery stays delivered
// with its document number and the replay is in its history as skipped.
// A replay to a sink that is not create-once still queues.
func TestAdmin_ReplayCreateOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{Routes: []relay.Route{
		{Sink: "erp", Events: []string{"*"}, OrderBySubject: true},
		{Sink: "ap", Events: []string{"transaction.sent"}, OrderBySubject: true, CreateOnce: true},
	}})
	const doc = "00042/FPJ/03/26"
	e.Clock.Advance(time.Minute)
	e.deliver(t, fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_co_1", Now: t0, TransactionID: txA, DocumentNumber: "INV-2026-0101"}), "accepted")
	e.Clock.Advance(time.Minute)
	e.deliver(t, fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_co_2", Now: t0, TransactionID: txA, DocumentNumber: "INV-2026-0101"}), "accepted")
	subject := e.storedEvent(t, "evt_co_1").Subject
	cd := relay.CreatedDocument{Sink: "ap", Subject: subject, EventID: "evt_co_1", DocumentNumber: doc, CreatedAt: e.Clock.Now()}
	e.settle(t, "ap", map[string]relay.Transition{
		"evt_co_1": {State: relay.StateDelivered, Result: map[string]string{"document_number": doc}, Created: &cd},
	})
	e.settle(t, "ap", map[string]relay.Transition{
		"evt_co_2": {State: relay.StateSkipped, Reason: "document " + doc + " already created for " + subject + " by event evt_co_1"},
	})
	e.settle(t, "erp", map[string]relay.Transition{"evt_co_1": {State: relay.StateDelivered}})

	skipped := func(id string) string {
		t.Helper()
		before := e.notices.Load()
		r := e.postAdmin(t, "/v1/events/"+id+"/replay", `{"sink":"ap"}`)
		if r.Status != http.StatusAccepted {
			t.Fatalf("replay %s to ap: got %s, want 202", id, r)
		}
		body := decode[map[string]any](t, r)
		reason, _ := body["reason"].(string)
		if diff := cmp.Diff(map[string]any{"queued": float64(0), "skipped": float64(1), "reason": reason}, body); diff != "" {
			t.Fatalf("body (-want +got):\n%s", diff)
		}
		if !strings.Contains(reason, doc) || !strings.Contains(reason, "evt_co_1") {
			t.Errorf("reason %q does not name the document and the event that created it", reason)
		}
		if e.notices.Load() != before {
			t.Errorf("a skipped replay woke the sink")
		}
		if claims, _, err := e.Store.ClaimDue(context.Background(), "ap", e.Clock.Now().Add(time.Hour), 10); err != nil || len(claims) != 0 {
			t.Errorf("due at ap after a skipped replay: %d, %v; want nothing", len(claims), err)
		}
		return reason
	}
	history := func(id, sink string) (relay.DeliveryState, relay.Attempt) {
		t.Helper()
		d := decode[relay.EventDetail](t, e.get(t, "/v1/events/"+id))
		for _, ds := range d.Deliveries {
			if ds.Sink == sink {
				return ds, ds.History[len(ds.History)-1]
			}
		}
		t.Fatalf("%s has no delivery to %s", id, sink)
		return relay.DeliveryState{}, relay.Attempt{}
	}

	t.Run("TheEventThatCreated", func(t *testing.T) {
		reason := skipped("evt_co_1")
		ds, last := history("evt_co_1", "ap")
		if ds.State != relay.StateDelivered || ds.Result["document_number"] != doc || ds.Attempts != 1 {
			t.Errorf("delivery %s, result %v, %d attempts; want delivered with %s, 1 attempt", ds.State, ds.Result, ds.Attempts, doc)
		}
		if last.Outcome != relay.StateSkipped || last.Error != reason {
			t.Errorf("last history entry %+v, want skipped with the reason", last)
		}
		if st := e.detail(t, "evt_co_1").Status; st != relay.StatusDelivered {
			t.Errorf("event status %s, want delivered", st)
		}
	})
	t.Run("AnotherEventOfTheSubject", func(t *testing.T) {
		skipped("evt_co_2")
		if ds, last := history("evt_co_2", "ap"); ds.State != relay.StateSkipped || len(ds.History) != 2 || last.Outcome != relay.StateSkipped {
			t.Errorf("delivery %s with %d history entries; want skipped with the replay as the second", ds.State, len(ds.History))
		}
	})
	t.Run("NotCreateOnceQueues", func(t *testing.T) {
		r := e.postAdmin(t, "/v1/events/evt_co_1/replay", `{"sink":"erp"}`)
		if r.Status != http.StatusAccepted {
			t.Fatalf("replay to erp: got %s, want 202", r)
		}
		if diff := cmp.Diff(map[string]any{"queued": float64(1)}, decode[map[string]any](t, r)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if state, _, _, _, _, _ := e.detail(t, "evt_co_1").delivery(t, "erp"); state != relay.StatePending {
			t.Errorf("erp delivery %s, want pending", state)
		}
	})
}

// TestAdmin_GetEventWaitingFor: a delivery waiting behind an earlier event
// of its subject names it in deliveries[].waiting_for.
func TestAdmin_GetEventWaitingFor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{Routes: []relay.Route{{Sink: "ap", Events: []string{"transaction.sent"}, OrderBySubject: true, CreateOnce: true}}})
	for _, id := range []string{"evt_w_1", "evt_w_2"} {
		e.Clock.Advance(time.Minute)
		e.deliver(t, fixture(t, "transaction.sent", fixtures.Options{EventID: id, Now: t0, TransactionID: txB}), "accepted")
	}
	e.settle(t, "ap", map[string]relay.Transition{"evt_w_1": {State: relay.StateNeedsReview, Reason: "outcome unknown: timeout"}})
	deliveries := func(id string) []map[string]any {
		t.Helper()
		var d struct {
			Deliveries []map[string]any `json:"deliveries"`
		}
		if err := json.Unmarshal(e.get(t, "/v1/events/"+id).Body, &d); err != nil || len(d.Deliveries) != 1 {
			t.Fatalf("GET %s: %v %+v", id, err, d)
		}
		return d.Deliveries
	}
	got := deliveries("evt_w_2")[0]
	if got["state"] != relay.StatePending || got["waiting_for"] != "evt_w_1" || got["waiting_for_state"] != relay.StateNeedsReview || got["next_attempt_at"] != nil {
		t.Errorf("evt_w_2 delivery %v, want pending, waiting_for evt_w_1 (needs_review), no next attempt", got)
	}
	if _, ok := deliveries("evt_w_1")[0]["waiting_for"]; ok {
		t.Errorf("evt_w_1 (not waiting) has waiting_for: %v", deliveries("evt_w_1")[0])
	}
}
