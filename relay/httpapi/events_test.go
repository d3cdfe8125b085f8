package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// Transaction ids of the seeded world.
const (
	txA = "1a1a1a1a-0000-4000-8000-00000000000a"
	txB = "2b2b2b2b-0000-4000-8000-00000000000b"
	txC = "3c3c3c3c-0000-4000-8000-00000000000c"
)

// seeded is one event the list tests put in the store.
type seeded struct {
	ID         string
	Type       string
	Subject    string
	Status     string
	Test       bool
	ReceivedAt time.Time
	Body       []byte
}

// seedEvents ingests eight events a minute apart (t0+1m … t0+8m) over HTTP
// and settles their deliveries, so every event status occurs:
//
//	evt_list_01 transaction.created txA  delivered (erp delivered)
//	evt_list_02 transaction.sent    txA  needs_review (ap), erp pending
//	evt_list_03 payment.completed        dead (erp)
//	evt_list_04 party.updated            pending (erp retry scheduled)
//	sha256:…    not JSON                 unparsed
//	evt_list_06 webhook.test             unrouted (test)
//	evt_list_07 transaction.paid    txB  pending (erp retry scheduled)
//	evt_list_08 subscription.activated   pending (erp retry scheduled)
//
// It returns them newest first.
func seedEvents(t *testing.T, e *relayEnv) []seeded {
	t.Helper()
	bodies := []struct {
		body   []byte
		status string
	}{
		{fixture(t, "transaction.created", fixtures.Options{EventID: "evt_list_01", Now: t0, TransactionID: txA, DocumentNumber: "INV-2026-0101"}), relay.StatusDelivered},
		{fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_list_02", Now: t0, TransactionID: txA, DocumentNumber: "INV-2026-0101"}), relay.StatusNeedsReview},
		{fixture(t, "payment.completed", fixtures.Options{EventID: "evt_list_03", Now: t0, TransactionID: txC, DocumentNumber: "INV-2026-0303"}), relay.StatusDead},
		{fixture(t, "party.updated", fixtures.Options{EventID: "evt_list_04", Now: t0, TransactionID: txC, DocumentNumber: "INV-2026-0303"}), relay.StatusPending},
		{[]byte("this is not JSON, but it was signed\n"), relay.StatusUnparsed},
		{[]byte(`{"id":"evt_list_06","type":"webhook.test","data":{"id":"wh_1"}}`), relay.StatusUnrouted},
		{fixture(t, "transaction.paid", fixtures.Options{EventID: "evt_list_07", Now: t0, TransactionID: txB, DocumentNumber: "INV-2026-0202"}), relay.StatusPending},
		{fixture(t, "subscription.activated", fixtures.Options{EventID: "evt_list_08", Now: t0, TransactionID: txB, DocumentNumber: "INV-2026-0202"}), relay.StatusPending},
	}
	var out []seeded
	for _, b := range bodies {
		at := e.Clock.Advance(time.Minute)
		want := "accepted"
		if b.status == relay.StatusUnparsed {
			want = "unparsed"
		}
		a := e.deliver(t, b.body, want)
		d := e.storedEvent(t, a.ID)
		out = append(out, seeded{ID: a.ID, Type: d.Type, Subject: d.Subject, Status: b.status, Test: d.Test, ReceivedAt: at, Body: b.body})
	}
	e.Clock.Advance(time.Minute)
	retry := relay.Transition{State: relay.StatePending, NextAt: e.Clock.Now().Add(time.Hour), Reason: "HTTP 503"}
	e.settle(t, "erp", map[string]relay.Transition{
		"evt_list_01": {State: relay.StateDelivered},
		"evt_list_03": {State: relay.StateDead, Reason: "HTTP 422: unknown customer"},
		"evt_list_04": retry, "evt_list_07": retry, "evt_list_08": retry,
	})
	e.settle(t, "ap", map[string]relay.Transition{
		"evt_list_02": {State: relay.StateNeedsReview, Reason: "timeout after the request was sent"},
	})
	for i := range out {
		if got := e.storedEvent(t, out[i].ID).Status; got != out[i].Status {
			t.Fatalf("seed: %s status %s, want %s", out[i].ID, got, out[i].Status)
		}
	}
	// Newest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// eventList is GET /v1/events.
type eventList struct {
	Events []struct {
		ID         string    `json:"id"`
		Type       string    `json:"type"`
		Subject    string    `json:"subject"`
		Status     string    `json:"status"`
		Test       bool      `json:"test"`
		ReceivedAt time.Time `json:"received_at"`
	} `json:"events"`
	NextCursor *string `json:"next_cursor"`
}

// listAll follows next_cursor from query and returns every id with the
// size of each page.
func (e *relayEnv) listAll(t *testing.T, query url.Values) (ids []string, sizes []int) {
	t.Helper()
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("pagination does not end")
		}
		r := e.get(t, "/v1/events?"+query.Encode())
		if r.Status != http.StatusOK {
			t.Fatalf("GET /v1/events?%s: %s", query.Encode(), r)
		}
		page := decode[eventList](t, r)
		if page.NextCursor == nil {
			t.Fatalf("next_cursor missing: %s", r.Body)
		}
		for _, ev := range page.Events {
			ids = append(ids, ev.ID)
		}
		sizes = append(sizes, len(page.Events))
		if *page.NextCursor == "" {
			return ids, sizes
		}
		query.Set("cursor", *page.NextCursor)
	}
}

func idsOf(s []seeded, keep func(seeded) bool) []string {
	var out []string
	for _, ev := range s {
		if keep(ev) {
			out = append(out, ev.ID)
		}
	}
	return out
}

func TestAdmin_ListEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seed := seedEvents(t, e)
	all := idsOf(seed, func(seeded) bool { return true })

	t.Run("Shape", func(t *testing.T) {
		r := e.get(t, "/v1/events")
		if r.Status != http.StatusOK {
			t.Fatalf("got %s", r)
		}
		raw := decode[struct {
			Events     []map[string]any `json:"events"`
			NextCursor string           `json:"next_cursor"`
		}](t, r)
		if len(raw.Events) != len(seed) || raw.NextCursor != "" {
			t.Fatalf("got %d events, next_cursor %q; want %d, \"\"", len(raw.Events), raw.NextCursor, len(seed))
		}
		for _, key := range []string{"id", "source", "type", "subject", "status", "test", "received_at"} {
			if _, ok := raw.Events[0][key]; !ok {
				t.Errorf("event summary lacks %q: %v", key, raw.Events[0])
			}
		}
		page := decode[eventList](t, r)
		for i, ev := range page.Events {
			s := seed[i]
			if ev.ID != s.ID || ev.Type != s.Type || ev.Subject != s.Subject || ev.Status != s.Status || ev.Test != s.Test || !ev.ReceivedAt.Equal(s.ReceivedAt) {
				t.Errorf("events[%d] = %+v, want %+v", i, ev, s)
			}
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		for _, limit := range []string{"1", "3", "7", "8", "1000"} {
			ids, sizes := e.listAll(t, url.Values{"limit": {limit}})
			if diff := cmp.Diff(all, ids); diff != "" {
				t.Errorf("limit=%s: ids across pages (-want +got):\n%s", limit, diff)
			}
			for _, n := range sizes {
				if max, _ := strconv.Atoi(limit); n > max {
					t.Errorf("limit=%s: page of %d", limit, n)
				}
			}
		}
		ids, sizes := e.listAll(t, url.Values{"limit": {"1"}, "type": {"transaction.*"}})
		if diff := cmp.Diff([]string{"evt_list_07", "evt_list_02", "evt_list_01"}, ids); diff != "" || len(sizes) != 3 {
			t.Errorf("filtered pagination: sizes %v (-want +got):\n%s", sizes, diff)
		}
		ids, _ = e.listAll(t, url.Values{"limit": {"2"}, "status": {"pending"}})
		if diff := cmp.Diff([]string{"evt_list_08", "evt_list_07", "evt_list_04"}, ids); diff != "" {
			t.Errorf("status pagination (-want +got):\n%s", diff)
		}
		ids, _ = e.listAll(t, url.Values{"limit": {"1"}, "subject": {txA}})
		if diff := cmp.Diff([]string{"evt_list_02", "evt_list_01"}, ids); diff != "" {
			t.Errorf("subject pagination (-want +got):\n%s", diff)
		}
		// Counterparty name, any case: every transaction and the subscription.
		ids, _ = e.listAll(t, url.Values{"limit": {"1"}, "q": {"maju jaya"}})
		if diff := cmp.Diff([]string{"evt_list_08", "evt_list_07", "evt_list_02", "evt_list_01"}, ids); diff != "" {
			t.Errorf("search pagination (-want +got):\n%s", diff)
		}
	})

	rfc := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	filters := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"type glob", url.Values{"type": {"transaction.*"}}, []string{"evt_list_07", "evt_list_02", "evt_list_01"}},
		{"type exact", url.Values{"type": {"payment.completed"}}, []string{"evt_list_03"}},
		{"type *.updated", url.Values{"type": {"*.updated"}}, []string{"evt_list_04"}},
		{"type none", url.Values{"type": {"invoice.*"}}, nil},
		{"status delivered", url.Values{"status": {"delivered"}}, []string{"evt_list_01"}},
		{"status needs_review", url.Values{"status": {"needs_review"}}, []string{"evt_list_02"}},
		{"status dead", url.Values{"status": {"dead"}}, []string{"evt_list_03"}},
		{"status pending", url.Values{"status": {"pending"}}, []string{"evt_list_08", "evt_list_07", "evt_list_04"}},
		{"status unparsed", url.Values{"status": {"unparsed"}}, []string{seed[3].ID}},
		{"status unrouted", url.Values{"status": {"unrouted"}}, []string{"evt_list_06"}},
		{"subject", url.Values{"subject": {txA}}, []string{"evt_list_02", "evt_list_01"}},
		{"since (inclusive)", url.Values{"since": {rfc(6 * time.Minute)}}, []string{"evt_list_08", "evt_list_07", "evt_list_06"}},
		{"until (inclusive)", url.Values{"until": {rfc(2 * time.Minute)}}, []string{"evt_list_02", "evt_list_01"}},
		{"since and until", url.Values{"since": {rfc(3 * time.Minute)}, "until": {rfc(4*time.Minute + 30*time.Second)}}, []string{"evt_list_04", "evt_list_03"}},
		{"since with offset", url.Values{"since": {t0.Add(7 * time.Minute).In(time.FixedZone("WIB", 7*3600)).Format(time.RFC3339)}}, []string{"evt_list_08", "evt_list_07"}},
		{"q document number", url.Values{"q": {"INV-2026-0202"}}, []string{"evt_list_07"}},
		{"q document number, any case", url.Values{"q": {"inv-2026-0101"}}, []string{"evt_list_02", "evt_list_01"}},
		{"q event id", url.Values{"q": {"evt_list_03"}}, []string{"evt_list_03"}},
		{"q subject", url.Values{"q": {txB}}, []string{"evt_list_07"}},
		{"q nothing", url.Values{"q": {"INV-1999-0000"}}, nil},
		{"type and status", url.Values{"type": {"transaction.*"}, "status": {"pending"}}, []string{"evt_list_07"}},
		{"status and since", url.Values{"status": {"pending"}, "since": {rfc(5 * time.Minute)}}, []string{"evt_list_08", "evt_list_07"}},
	}
	for _, tt := range filters {
		t.Run("Filter/"+tt.name, func(t *testing.T) {
			ids, _ := e.listAll(t, tt.query)
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("GET /v1/events?%s (-want +got):\n%s", tt.query.Encode(), diff)
			}
		})
	}

	bad := []struct {
		query, field string
	}{
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"limit=-1", "limit"},
		{"since=yesterday", "since"},
		{"since=2026-03-01", "since"},
		{"until=2026-13-01T00:00:00Z", "until"},
		{"status=lost", "status"},
		{"status=in_flight", "status"},
		{"cursor=%25%25%25", "cursor"},
		{"cursor=AA", "cursor"},
		{"type=%5B", "type"},
	}
	for _, tt := range bad {
		t.Run("Invalid/"+tt.query, func(t *testing.T) {
			wantError(t, e.get(t, "/v1/events?"+tt.query), http.StatusBadRequest, relay.EINVALID, tt.field)
		})
	}
}

// eventDetail is GET /v1/events/{id}, with the fields the tests read.
type eventDetail struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Subject    string    `json:"subject"`
	Status     string    `json:"status"`
	Test       bool      `json:"test"`
	ReceivedAt time.Time `json:"received_at"`
	Raw        struct {
		Headers    map[string]string `json:"headers"`
		BodyBase64 string            `json:"body_base64"`
		Body       json.RawMessage   `json:"body"`
	} `json:"raw"`
	Event      json.RawMessage `json:"event"`
	Deliveries []struct {
		Sink          string            `json:"sink"`
		State         string            `json:"state"`
		Attempts      int               `json:"attempts"`
		NextAttemptAt *time.Time        `json:"next_attempt_at"`
		LastError     string            `json:"last_error"`
		LastStatus    int               `json:"last_status"`
		Result        map[string]string `json:"result"`
	} `json:"deliveries"`
}

func (e *relayEnv) detail(t *testing.T, id string) eventDetail {
	t.Helper()
	r := e.get(t, "/v1/events/"+url.PathEscape(id))
	if r.Status != http.StatusOK {
		t.Fatalf("GET /v1/events/%s: %s", url.PathEscape(id), r)
	}
	return decode[eventDetail](t, r)
}

func (d eventDetail) delivery(t *testing.T, sink string) (state string, attempts int, next *time.Time, lastErr string, lastStatus int, result map[string]string) {
	t.Helper()
	for _, x := range d.Deliveries {
		if x.Sink == sink {
			return x.State, x.Attempts, x.NextAttemptAt, x.LastError, x.LastStatus, x.Result
		}
	}
	t.Fatalf("event %s has no delivery to %s", d.ID, sink)
	return
}

func TestAdmin_GetEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seed := seedEvents(t, e)
	byID := map[string]seeded{}
	for _, s := range seed {
		byID[s.ID] = s
	}

	t.Run("Shape", func(t *testing.T) {
		r := e.get(t, "/v1/events/evt_list_02")
		if r.Status != http.StatusOK {
			t.Fatalf("got %s", r)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"id", "source", "type", "subject", "status", "test", "received_at", "raw", "event", "deliveries"} {
			if _, ok := m[key]; !ok {
				t.Errorf("detail lacks %q", key)
			}
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(m["raw"], &raw)
		for _, key := range []string{"headers", "body_base64", "body"} {
			if _, ok := raw[key]; !ok {
				t.Errorf("raw lacks %q", key)
			}
		}
		var dels []map[string]json.RawMessage
		_ = json.Unmarshal(m["deliveries"], &dels)
		if len(dels) != 2 {
			t.Fatalf("deliveries: %s", m["deliveries"])
		}
		for _, key := range []string{"sink", "state", "attempts", "next_attempt_at", "last_error", "last_status", "result"} {
			if _, ok := dels[0][key]; !ok {
				t.Errorf("delivery lacks %q: %s", key, m["deliveries"])
			}
		}

		d := decode[eventDetail](t, r)
		s := byID["evt_list_02"]
		if d.ID != s.ID || d.Type != "transaction.sent" || d.Subject != txA || d.Status != relay.StatusNeedsReview || d.Test || !d.ReceivedAt.Equal(s.ReceivedAt) {
			t.Errorf("summary %+v, want %+v", d, s)
		}
		body, err := base64.StdEncoding.DecodeString(d.Raw.BodyBase64)
		if err != nil || !bytes.Equal(body, s.Body) {
			t.Errorf("raw.body_base64 is not the exact body (%v)", err)
		}
		var gotBody, wantBody any
		if err := json.Unmarshal(d.Raw.Body, &gotBody); err != nil {
			t.Errorf("raw.body is not JSON: %v", err)
		}
		_ = json.Unmarshal(s.Body, &wantBody)
		if diff := cmp.Diff(wantBody, gotBody); diff != "" {
			t.Errorf("raw.body (-want +got):\n%s", diff)
		}
		if sig := lowerKeys(d.Raw.Headers)["x-tagihanai-signature"]; !strings.HasPrefix(sig, "t=") {
			t.Errorf("raw.headers lacks the signature: %v", d.Raw.Headers)
		}
		var ce relay.Event
		if err := json.Unmarshal(d.Event, &ce); err != nil || ce.ID != "evt_list_02" || ce.Type != "com.tagihanai.transaction.sent" || ce.Subject != txA || ce.SpecVersion != "1.0" {
			t.Errorf("event %s (%v)", d.Event, err)
		}

		state, attempts, next, lastErr, lastStatus, result := d.delivery(t, "ap")
		if state != relay.StateNeedsReview || attempts != 1 || next != nil || lastErr == "" || lastStatus != 500 || result != nil {
			t.Errorf("ap delivery: state=%s attempts=%d next=%v last_error=%q last_status=%d result=%v", state, attempts, next, lastErr, lastStatus, result)
		}
		state, attempts, next, _, _, _ = d.delivery(t, "erp")
		if state != relay.StatePending || attempts != 0 || next == nil {
			t.Errorf("erp delivery: state=%s attempts=%d next=%v; want pending, 0, due", state, attempts, next)
		}
		state, attempts, next, lastErr, _, _ = e.detail(t, "evt_list_04").delivery(t, "erp")
		if state != relay.StatePending || attempts != 1 || next == nil || !next.Equal(t0.Add(9*time.Minute+time.Hour)) || lastErr != "HTTP 503" {
			t.Errorf("retrying delivery: state=%s attempts=%d next=%v last_error=%q", state, attempts, next, lastErr)
		}
	})

	t.Run("Unparsed", func(t *testing.T) {
		s := seed[3]
		r := e.get(t, "/v1/events/"+url.PathEscape(s.ID))
		if r.Status != http.StatusOK {
			t.Fatalf("got %s", r)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(r.Body, &m)
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(m["raw"], &raw)
		if _, ok := raw["body"]; ok {
			t.Errorf("raw.body present for a body that is not JSON: %s", raw["body"])
		}
		d := decode[eventDetail](t, r)
		body, _ := base64.StdEncoding.DecodeString(d.Raw.BodyBase64)
		if d.ID != s.ID || d.Status != relay.StatusUnparsed || !bytes.Equal(body, s.Body) || len(d.Deliveries) != 0 {
			t.Errorf("got %s", r.Body)
		}
		if d.Deliveries == nil {
			t.Errorf("deliveries is null, want []")
		}
		if len(d.Event) != 0 && string(d.Event) != "null" {
			t.Errorf("an unparsed event has a CloudEvent: %s", d.Event)
		}
	})

	t.Run("RawBody", func(t *testing.T) {
		for _, tt := range []struct {
			name     string
			body     []byte
			wantBody bool
		}{
			{"not JSON", testdataBody(t, "unparsed-not-json"), false},
			{"invalid UTF-8", testdataBody(t, "unparsed-invalid-utf8"), false},
			{"JSON array", testdataBody(t, "unparsed-array"), true},
			{"JSON without a type", testdataBody(t, "unparsed-no-type"), true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				a := e.deliver(t, tt.body, "unparsed")
				r := e.get(t, "/v1/events/"+url.PathEscape(a.ID))
				if r.Status != http.StatusOK || !utf8.Valid(r.Body) || !json.Valid(r.Body) {
					t.Fatalf("GET %s: %d, not valid UTF-8 JSON: %q", a.ID, r.Status, r.Body)
				}
				d := decode[eventDetail](t, r)
				if body, _ := base64.StdEncoding.DecodeString(d.Raw.BodyBase64); !bytes.Equal(body, tt.body) {
					t.Errorf("raw.body_base64 is not the exact body")
				}
				if got := len(d.Raw.Body) > 0; got != tt.wantBody {
					t.Errorf("raw.body present = %v, want %v: %s", got, tt.wantBody, d.Raw.Body)
				}
			})
		}
	})

	t.Run("EscapedIDs", func(t *testing.T) {
		ids := []string{
			"evt/with/slash",
			"evt 100% paid",
			"evt%2Fliteral",
			"evt?x=1#frag",
			"évt-ünïcode",
			"sha256:" + strings.Repeat("ab", 32),
		}
		for _, id := range ids {
			b, _ := json.Marshal(map[string]any{"id": id, "type": "party.created", "data": map[string]string{"id": "party_x"}})
			if a := e.deliver(t, b, "accepted"); a.ID != id {
				t.Fatalf("ack id %q, want %q", a.ID, id)
			}
		}
		for _, id := range ids {
			t.Run(id, func(t *testing.T) {
				r := e.get(t, "/v1/events/"+url.PathEscape(id))
				if r.Status != http.StatusOK {
					t.Fatalf("GET /v1/events/%s: %s", url.PathEscape(id), r)
				}
				if got := decode[eventDetail](t, r).ID; got != id {
					t.Fatalf("got event %q, want %q", got, id)
				}
				// The other {id} routes read it the same way.
				wantError(t, e.postAdmin(t, "/v1/events/"+url.PathEscape(id)+"/replay", `{"sink":"erp"}`), http.StatusConflict, relay.ECONFLICT)
				wantError(t, e.postAdmin(t, "/v1/events/"+url.PathEscape(id)+"/resolve", `{"sink":"erp","outcome":"retry"}`), http.StatusConflict, relay.ECONFLICT)
			})
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		wantError(t, e.get(t, "/v1/events/evt_missing"), http.StatusNotFound, relay.ENOTFOUND)
		wantError(t, e.get(t, "/v1/events/"+url.PathEscape("evt/missing")), http.StatusNotFound, relay.ENOTFOUND)
	})
}

func TestAdmin_Stats(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seedEvents(t, e)
	r := e.get(t, "/v1/stats")
	if r.Status != http.StatusOK {
		t.Fatalf("got %s", r)
	}
	shape := decode[struct {
		Events map[string]json.Number            `json:"events"`
		Sinks  map[string]map[string]json.Number `json:"sinks"`
	}](t, r)
	for _, sink := range []string{"erp", "ap"} {
		for _, key := range []string{"pending", "in_flight", "delivered", "dead", "needs_review", "oldest_pending_age_seconds", "delivered_last_hour", "failed_last_hour"} {
			if _, ok := shape.Sinks[sink][key]; !ok {
				t.Errorf("sinks.%s lacks %q: %s", sink, key, r.Body)
			}
		}
	}
	st := decode[relay.Stats](t, r)
	wantEvents := map[string]int64{"delivered": 1, "needs_review": 1, "dead": 1, "pending": 3, "unparsed": 1, "unrouted": 1}
	if diff := cmp.Diff(wantEvents, st.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// erp: 01 delivered, 03 dead, 02 due behind 01, 04/07/08 retrying; the
	// oldest open entry is evt_list_02's, received at t0+2m. Of the last
	// hour's attempts, 01's counts as delivered.
	wantSinks := map[string]relay.SinkStats{
		"erp": {Pending: 4, Delivered: 1, Dead: 1, OldestPendingAge: e.Clock.Now().Sub(t0.Add(2 * time.Minute)).Seconds(), DeliveredLastHour: 1},
		"ap":  {NeedsReview: 1},
	}
	if diff := cmp.Diff(wantSinks, st.Sinks); diff != "" {
		t.Errorf("sinks (-want +got):\n%s", diff)
	}
}
