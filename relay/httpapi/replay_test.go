package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
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
