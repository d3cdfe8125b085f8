package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// seedDeadLetters makes five dead letters: at t0+2m erp gives up on
// evt_dl_1, evt_dl_2 and evt_dl_4; at t0+3m ap gives up on evt_dl_1 and
// evt_dl_3 needs review.
func seedDeadLetters(t *testing.T, e *relayEnv) {
	t.Helper()
	e.deliver(t, fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_dl_1", Now: t0, TransactionID: txA, DocumentNumber: "INV-2026-0001"}), "accepted")
	e.deliver(t, fixture(t, "payment.failed", fixtures.Options{EventID: "evt_dl_2", Now: t0, TransactionID: txA, DocumentNumber: "INV-2026-0001"}), "accepted")
	e.deliver(t, fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_dl_3", Now: t0, TransactionID: txB, DocumentNumber: "INV-2026-0002"}), "accepted")
	e.deliver(t, fixture(t, "party.created", fixtures.Options{EventID: "evt_dl_4", Now: t0, TransactionID: txC, DocumentNumber: "INV-2026-0003"}), "accepted")
	e.Clock.Advance(2 * time.Minute)
	dead := relay.Transition{State: relay.StateDead, Reason: "HTTP 400: rejected"}
	e.settle(t, "erp", map[string]relay.Transition{
		"evt_dl_1": dead, "evt_dl_2": dead, "evt_dl_4": dead, "evt_dl_3": {State: relay.StateDelivered},
	})
	e.Clock.Advance(time.Minute)
	e.settle(t, "ap", map[string]relay.Transition{
		"evt_dl_1": {State: relay.StateDead, Reason: "status 01: customer not found"},
		"evt_dl_3": {State: relay.StateNeedsReview, Reason: "timeout after the request was sent"},
	})
}

type deadLetterList struct {
	DeadLetters []struct {
		EventID    string    `json:"event_id"`
		Sink       string    `json:"sink"`
		State      string    `json:"state"`
		Type       string    `json:"type"`
		Subject    string    `json:"subject"`
		Attempts   int       `json:"attempts"`
		Reason     string    `json:"reason"`
		LastStatus int       `json:"last_status"`
		DeadAt     time.Time `json:"dead_at"`
	} `json:"dead_letters"`
	NextCursor *string `json:"next_cursor"`
}

// deadLetters lists every dead letter matching query as "sink/event_id/state".
func (e *relayEnv) deadLetters(t *testing.T, query url.Values) []string {
	t.Helper()
	var out []string
	for pages := 0; pages < 100; pages++ {
		r := e.get(t, "/v1/dead-letters?"+query.Encode())
		if r.Status != http.StatusOK {
			t.Fatalf("GET /v1/dead-letters?%s: %s", query.Encode(), r)
		}
		page := decode[deadLetterList](t, r)
		if page.NextCursor == nil {
			t.Fatalf("next_cursor missing: %s", r.Body)
		}
		for _, d := range page.DeadLetters {
			out = append(out, d.Sink+"/"+d.EventID+"/"+d.State)
		}
		if *page.NextCursor == "" {
			return out
		}
		query.Set("cursor", *page.NextCursor)
	}
	t.Fatal("pagination does not end")
	return nil
}

func TestAdmin_DeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seedDeadLetters(t, e)
	all := []string{
		"ap/evt_dl_3/needs_review", "ap/evt_dl_1/dead",
		"erp/evt_dl_4/dead", "erp/evt_dl_2/dead", "erp/evt_dl_1/dead",
	}

	t.Run("Shape", func(t *testing.T) {
		r := e.get(t, "/v1/dead-letters")
		m := decode[struct {
			DeadLetters []map[string]any `json:"dead_letters"`
		}](t, r)
		if len(m.DeadLetters) != len(all) {
			t.Fatalf("got %s", r)
		}
		for _, key := range []string{"event_id", "sink", "source", "state", "type", "subject", "attempts", "reason", "last_status", "dead_at"} {
			if _, ok := m.DeadLetters[0][key]; !ok {
				t.Errorf("dead letter lacks %q", key)
			}
		}
		d := decode[deadLetterList](t, r).DeadLetters[1] // ap/evt_dl_1
		if d.EventID != "evt_dl_1" || d.Sink != "ap" || d.State != "dead" || d.Type != "transaction.sent" || d.Subject != txA ||
			d.Attempts != 1 || d.Reason != "status 01: customer not found" || d.LastStatus != 500 || !d.DeadAt.Equal(t0.Add(3*time.Minute)) {
			t.Errorf("dead letter %+v", d)
		}
	})
	for _, tt := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"all", url.Values{}, all},
		{"paged by 2", url.Values{"limit": {"2"}}, all},
		{"paged by 1", url.Values{"limit": {"1"}}, all},
		{"sink", url.Values{"sink": {"ap"}}, all[:2]},
		{"state needs_review", url.Values{"state": {"needs_review"}}, all[:1]},
		{"state dead", url.Values{"state": {"dead"}}, all[1:]},
		{"type glob", url.Values{"type": {"payment.*"}}, []string{"erp/evt_dl_2/dead"}},
		{"sink and state, paged", url.Values{"sink": {"erp"}, "state": {"dead"}, "limit": {"1"}}, all[2:]},
	} {
		t.Run("Filter/"+tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, e.deadLetters(t, tt.query)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, tt := range []struct{ query, field string }{
		{"state=lost", "state"}, {"sink=nosuch", "sink"}, {"limit=0", "limit"}, {"type=%5B", "type"}, {"cursor=AA", "cursor"}, {"since=today", "since"},
	} {
		t.Run("Invalid/"+tt.query, func(t *testing.T) {
			wantError(t, e.get(t, "/v1/dead-letters?"+tt.query), http.StatusBadRequest, relay.EINVALID, tt.field)
		})
	}
}

func TestAdmin_Redrive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seedDeadLetters(t, e)
	redrive := func(body string, want int) {
		t.Helper()
		r := e.postAdmin(t, "/v1/dead-letters/redrive", body)
		if r.Status != http.StatusOK {
			t.Fatalf("redrive %s: %s", body, r)
		}
		if diff := cmp.Diff(map[string]any{"redriven": float64(want)}, decode[map[string]any](t, r)); diff != "" {
			t.Fatalf("redrive %s (-want +got):\n%s", body, diff)
		}
	}
	t.Run("Invalid", func(t *testing.T) {
		for _, tt := range []struct{ body, field string }{
			{``, "body"},
			{`{}`, "redrive"},
			{`{"all":false}`, "redrive"},
			{`{"ids":[]}`, "redrive"},
			{`{"sink":"nope"}`, "sink"},
			{`{"type":"["}`, "type"},
			{`{"ids":"evt_dl_1"}`, "body"},
			{`{"everything":true}`, "body"},
			{`not json`, "body"},
		} {
			wantError(t, e.postAdmin(t, "/v1/dead-letters/redrive", tt.body), http.StatusBadRequest, relay.EINVALID, tt.field)
		}
		if n := len(e.deadLetters(t, url.Values{})); n != 5 {
			t.Fatalf("an invalid redrive moved something: %d dead letters left", n)
		}
	})
	t.Run("NeedsReviewNeverByID", func(t *testing.T) {
		redrive(`{"ids":["evt_dl_3"]}`, 0)
		redrive(`{"ids":["evt_dl_3"],"sink":"ap"}`, 0)
	})
	t.Run("IDsAndSink", func(t *testing.T) {
		redrive(`{"ids":["evt_dl_1"],"sink":"ap"}`, 1)
		if got := sinkStates(e.storedEvent(t, "evt_dl_1")); got["ap"] != relay.StatePending || got["erp"] != relay.StateDead {
			t.Errorf("evt_dl_1 deliveries %v, want ap pending, erp dead", got)
		}
	})
	t.Run("SinkAndType", func(t *testing.T) {
		redrive(`{"sink":"erp","type":"payment.*"}`, 1)
		if got := sinkStates(e.storedEvent(t, "evt_dl_2"))["erp"]; got != relay.StatePending {
			t.Errorf("evt_dl_2 erp %s, want pending", got)
		}
	})
	t.Run("IDs", func(t *testing.T) {
		// An unknown id is a 404 naming it, and nothing moves.
		wantError(t, e.postAdmin(t, "/v1/dead-letters/redrive", `{"ids":["evt_dl_1","evt_missing"]}`), http.StatusNotFound, relay.ENOTFOUND, "evt_missing")
		if got := sinkStates(e.storedEvent(t, "evt_dl_1"))["erp"]; got != relay.StateDead {
			t.Errorf("evt_dl_1 erp %s after a refused redrive, want dead", got)
		}
		redrive(`{"ids":["evt_dl_1"]}`, 1)
	})
	t.Run("All", func(t *testing.T) {
		redrive(`{"all":true}`, 1) // evt_dl_4; evt_dl_3 needs review
		redrive(`{"all":true}`, 0)
		if diff := cmp.Diff([]string{"ap/evt_dl_3/needs_review"}, e.deadLetters(t, url.Values{})); diff != "" {
			t.Errorf("left in the list (-want +got):\n%s", diff)
		}
		d := e.detail(t, "evt_dl_4")
		if state, _, next, _, _, _ := d.delivery(t, "erp"); state != relay.StatePending || next == nil || d.ID != "evt_dl_4" {
			t.Errorf("redriven delivery %s next %v, want pending with a schedule, same id", state, next)
		}
		if got := sinkStates(e.storedEvent(t, "evt_dl_3"))["ap"]; got != relay.StateNeedsReview {
			t.Errorf("needs_review delivery became %s", got)
		}
	})
}

func TestAdmin_Resolve(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seedDeadLetters(t, e) // evt_dl_3 needs review at ap
	e.deliver(t, fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_rv_2", Now: t0, TransactionID: txC, DocumentNumber: "INV-2026-0004"}), "accepted")
	e.settle(t, "ap", map[string]relay.Transition{"evt_rv_2": {State: relay.StateNeedsReview, Reason: "timeout"}})
	resolve := func(id, body string) response {
		t.Helper()
		return e.postAdmin(t, "/v1/events/"+id+"/resolve", body)
	}

	t.Run("Delivered", func(t *testing.T) {
		r := resolve("evt_dl_3", `{"sink":"ap","outcome":"delivered","result":{"document_number":"AP-INV-0042"}}`)
		if r.Status != http.StatusOK {
			t.Fatalf("got %s", r)
		}
		d := e.detail(t, "evt_dl_3")
		state, _, next, lastErr, _, result := d.delivery(t, "ap")
		if state != relay.StateDelivered || next != nil || lastErr != "" || result["document_number"] != "AP-INV-0042" {
			t.Errorf("resolved delivery: state=%s next=%v last_error=%q result=%v", state, next, lastErr, result)
		}
		if d.Status != relay.StatusDelivered {
			t.Errorf("event status %s, want delivered", d.Status)
		}
		wantError(t, resolve("evt_dl_3", `{"sink":"ap","outcome":"delivered"}`), http.StatusConflict, relay.ECONFLICT)
	})
	t.Run("Retry", func(t *testing.T) {
		r := resolve("evt_rv_2", `{"sink":"ap","outcome":"retry"}`)
		if r.Status != http.StatusOK {
			t.Fatalf("got %s", r)
		}
		state, _, next, _, _, _ := e.detail(t, "evt_rv_2").delivery(t, "ap")
		if state != relay.StatePending || next == nil || next.After(e.Clock.Now()) {
			t.Errorf("retried delivery: state=%s next=%v, want pending and due now", state, next)
		}
		wantError(t, resolve("evt_rv_2", `{"sink":"ap","outcome":"retry"}`), http.StatusConflict, relay.ECONFLICT)
	})
	t.Run("WrongState", func(t *testing.T) {
		wantError(t, resolve("evt_dl_1", `{"sink":"erp","outcome":"delivered"}`), http.StatusConflict, relay.ECONFLICT) // dead
		wantError(t, resolve("evt_dl_3", `{"sink":"erp","outcome":"retry"}`), http.StatusConflict, relay.ECONFLICT)     // delivered
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, tt := range []struct{ body, field string }{
			{`{"sink":"ap","outcome":"maybe"}`, "outcome"},
			{`{"sink":"ap"}`, "outcome"},
			{`{"outcome":"retry"}`, "sink"},
			{``, "body"},
			{`{"sink":"ap","outcome":"retry","note":"x"}`, "body"},
		} {
			wantError(t, resolve("evt_dl_1", tt.body), http.StatusBadRequest, relay.EINVALID, tt.field)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		wantError(t, resolve("evt_missing", `{"sink":"ap","outcome":"retry"}`), http.StatusNotFound, relay.ENOTFOUND)
	})
}

func TestAdmin_Operator(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seedDeadLetters(t, e)
	req := e.adminReq(t, http.MethodPost, "/v1/dead-letters/redrive", strings.NewReader(`{"ids":["evt_dl_2"]}`))
	req.Header.Set("X-Relay-Operator", "siti@finance")
	if r := e.do(t, req); r.Status != http.StatusOK {
		t.Fatalf("redrive: %s", r)
	}
	if r := e.postAdmin(t, "/v1/events/evt_dl_4/replay", `{"sink":"ap"}`); r.Status != http.StatusAccepted {
		t.Fatalf("replay: %s", r)
	}
	var got []string
	for _, id := range []string{"evt_dl_2", "evt_dl_4"} {
		for _, op := range e.storedEvent(t, id).Operations {
			got = append(got, id+" "+op.Operator+" "+op.Action+" "+op.Sink)
		}
	}
	want := []string{"evt_dl_2 api:siti@finance redrive erp", "evt_dl_4 api replay ap"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}
