package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// lowerKeys returns headers with lower-case names (HTTP names are
// case-insensitive; the store may canonicalize them).
func lowerKeys(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}

// dataOf returns the "data" member of a delivery body, byte for byte.
func dataOf(t testing.TB, body []byte) json.RawMessage {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	return env.Data
}

func sha256ID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestIngest_Accepted(t *testing.T) {
	t.Parallel()
	const txID = "0b9f6c1e-4d2a-4c7e-9a51-3f0e2d1c0a01"
	created := t0.Add(-42 * time.Second)
	tests := []struct {
		name        string
		body        []byte
		wantID      string
		wantType    string
		wantSubject string
		wantTime    string // "" means the receive time
		wantSinks   map[string]string
	}{
		{
			name:        "transaction.sent",
			body:        fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_accepted_0001", Now: created, TransactionID: txID, DocumentNumber: "INV-2026-0042"}),
			wantID:      "evt_accepted_0001",
			wantType:    "transaction.sent",
			wantSubject: txID,
			wantTime:    "2026-03-01T08:59:18Z",
			wantSinks:   map[string]string{"erp": relay.StatePending, "ap": relay.StatePending},
		},
		{
			name:      "payment.completed",
			body:      fixture(t, "payment.completed", fixtures.Options{EventID: "evt_accepted_0002", Now: created, TransactionID: txID, DocumentNumber: "INV-2026-0042"}),
			wantID:    "evt_accepted_0002",
			wantType:  "payment.completed",
			wantTime:  "2026-03-01T08:59:18Z",
			wantSinks: map[string]string{"erp": relay.StatePending},
		},
		{
			name:        "envelope without created_at",
			body:        testdataBody(t, "no-created-at"),
			wantID:      "evt_no_time_0001",
			wantType:    "party.updated",
			wantSubject: "9d0e8b7a-0000-4000-8000-000000000004",
			wantSinks:   map[string]string{"erp": relay.StatePending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			receivedAt := e.Clock.Advance(1500 * time.Millisecond)
			h := e.signed(tt.body)
			h.Set(relay.HeaderDeliveryID, "dlv_"+tt.wantID)
			h.Set(relay.HeaderTimestamp, e.sigTimestamp()) // kept, though t= wins
			h.Set("User-Agent", "TagihanAI-Webhooks/1.0")
			h.Set("X-Forwarded-For", "203.0.113.9") // not a TagihanAI header: not kept
			res := e.post(t, tt.body, h)
			if res.Status != http.StatusOK {
				t.Fatalf("got %s, want 200", res)
			}
			if diff := cmp.Diff(map[string]any{"status": "accepted", "id": tt.wantID}, decode[map[string]any](t, res)); diff != "" {
				t.Fatalf("ack (-want +got):\n%s", diff)
			}

			d := e.storedEvent(t, tt.wantID)
			if !bytes.Equal(d.Raw.BodyBase64, tt.body) {
				t.Errorf("stored body differs from the request body:\n got %q\nwant %q", d.Raw.BodyBase64, tt.body)
			}
			wantHeaders := map[string]string{
				"x-tagihanai-signature":   h.Get(relay.HeaderSignature),
				"x-tagihanai-timestamp":   h.Get(relay.HeaderTimestamp),
				"x-tagihanai-delivery-id": "dlv_" + tt.wantID,
				"content-type":            "application/json",
				"user-agent":              "TagihanAI-Webhooks/1.0",
			}
			if diff := cmp.Diff(wantHeaders, lowerKeys(d.Raw.Headers)); diff != "" {
				t.Errorf("stored headers (-want +got):\n%s", diff)
			}
			if !d.ReceivedAt.Equal(receivedAt) || d.Status != relay.StatusPending || d.Test || d.Type != tt.wantType {
				t.Errorf("summary = %+v, want type %s, pending, not test, received %s", d.EventSummary, tt.wantType, receivedAt)
			}

			// SPEC 2.4: the normalized CloudEvent.
			var ce relay.Event
			if err := json.Unmarshal(d.Event, &ce); err != nil {
				t.Fatalf("stored CloudEvent %s: %v", d.Event, err)
			}
			subject := tt.wantSubject
			if subject == "" {
				var data struct{ ID string }
				_ = json.Unmarshal(dataOf(t, tt.body), &data)
				subject = data.ID
			}
			wantTime := tt.wantTime
			if wantTime == "" {
				wantTime = receivedAt.Format(time.RFC3339Nano)
			}
			want := relay.Event{
				SpecVersion: "1.0", ID: tt.wantID, Source: "tagihanai", Type: "com.tagihanai." + tt.wantType,
				Time: wantTime, Subject: subject, DataContentType: "application/json",
				Data: dataOf(t, tt.body), TagihanAIEvent: tt.wantType,
				RelayReceivedAt: receivedAt.UTC().Format(time.RFC3339Nano),
			}
			if diff := cmp.Diff(want, ce); diff != "" {
				t.Errorf("CloudEvent (-want +got):\n%s", diff)
			}
			if !bytes.Contains(tt.body, ce.Data) {
				t.Errorf("CloudEvent data is not the resource exactly as received")
			}
			if diff := cmp.Diff(tt.wantSinks, sinkStates(d)); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			if got := e.metric(t, "tagihan_relay_received_total", `result="accepted",source="default"`); got != 1 {
				t.Errorf("received_total{accepted} = %v, want 1", got)
			}
			if e.notices.Load() != 1 {
				t.Errorf("sinks notified %d times, want 1", e.notices.Load())
			}
		})
	}
}

func TestIngest_Duplicate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	opts := fixtures.Options{EventID: "evt_dup_0001", Now: t0, TransactionID: "0b9f6c1e-4d2a-4c7e-9a51-3f0e2d1c0a02", DocumentNumber: "INV-2026-0100"}
	body := fixture(t, "transaction.sent", opts)
	firstAt := e.Clock.Now()
	first := e.post(t, body, e.signed(body))
	if first.Status != http.StatusOK || decode[ack](t, first) != (ack{"accepted", "evt_dup_0001"}) {
		t.Fatalf("first delivery: %s", first)
	}

	// TagihanAI's retry: same id, new timestamp and signature.
	retryAt := e.Clock.Advance(90 * time.Second)
	h := e.signed(body)
	res := e.post(t, body, h)
	if res.Status != http.StatusOK {
		t.Fatalf("retry: got %s, want 200", res)
	}
	if diff := cmp.Diff(map[string]any{"status": "duplicate", "id": "evt_dup_0001"}, decode[map[string]any](t, res)); diff != "" {
		t.Fatalf("retry ack (-want +got):\n%s", diff)
	}
	// A later body under the same id is a duplicate too, and not stored.
	opts.DocumentNumber = "INV-2026-0101"
	e.Clock.Advance(time.Second)
	e.deliver(t, fixture(t, "transaction.sent", opts), "duplicate")
	lastAt := e.Clock.Now()

	d := e.storedEvent(t, "evt_dup_0001")
	if !bytes.Equal(d.Raw.BodyBase64, body) {
		t.Errorf("stored body changed by a duplicate")
	}
	if d.Duplicates != 2 || !d.ReceivedAt.Equal(firstAt) || !d.LastReceivedAt.Equal(lastAt) {
		t.Errorf("duplicates=%d received_at=%s last_received_at=%s; want 2, %s, %s (retry at %s)",
			d.Duplicates, d.ReceivedAt, d.LastReceivedAt, firstAt, lastAt, retryAt)
	}
	// No second outbox entry: each sink has exactly one due delivery.
	for _, sink := range []string{"erp", "ap"} {
		claims, _, err := e.Store.ClaimDue(context.Background(), sink, e.Clock.Now(), 10)
		if err != nil || len(claims) != 1 {
			t.Errorf("ClaimDue(%s) = %d claims, %v; want 1", sink, len(claims), err)
		}
	}
	if ids := e.storedIDs(t); len(ids) != 1 {
		t.Errorf("stored events %v, want one", ids)
	}
	if got := e.metric(t, "tagihan_relay_received_total", `result="duplicate",source="default"`); got != 2 {
		t.Errorf("received_total{duplicate} = %v, want 2", got)
	}
}

func TestIngest_DuplicateConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	body := fixture(t, "transaction.paid", fixtures.Options{EventID: "evt_race_0001", Now: t0})
	const n = 50
	type result struct {
		res response
		err error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each sender signs afresh: a distinct millisecond timestamp.
			ts := strconv.FormatInt(e.Clock.Now().UnixMilli()+int64(i), 10)
			req, err := http.NewRequest(http.MethodPost, e.Public.URL+"/webhooks/tagihanai", bytes.NewReader(body))
			if err != nil {
				results[i].err = err
				return
			}
			req.Header.Set(relay.HeaderSignature, signature.SignatureHeader([]byte(primarySecret), ts, body))
			<-start
			res, err := e.Client.Do(req)
			if err != nil {
				results[i].err = err
				return
			}
			defer res.Body.Close()
			var buf bytes.Buffer
			_, err = buf.ReadFrom(res.Body)
			results[i] = result{response{Status: res.StatusCode, Header: res.Header, Body: buf.Bytes()}, err}
		}()
	}
	close(start)
	wg.Wait()

	count := map[string]int{}
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("sender %d: %v", i, r.err)
		}
		if r.res.Status != http.StatusOK {
			t.Fatalf("sender %d: got %s, want 200", i, r.res)
		}
		a := decode[ack](t, r.res)
		if a.ID != "evt_race_0001" {
			t.Fatalf("sender %d: id %q", i, a.ID)
		}
		count[a.Status]++
	}
	if diff := cmp.Diff(map[string]int{"accepted": 1, "duplicate": n - 1}, count); diff != "" {
		t.Fatalf("answers (-want +got):\n%s", diff)
	}
	d := e.storedEvent(t, "evt_race_0001")
	if d.Duplicates != n-1 {
		t.Errorf("duplicates = %d, want %d", d.Duplicates, n-1)
	}
	st, err := e.Store.Stats(context.Background(), e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Sinks["erp"].Pending; got != 1 {
		t.Errorf("erp pending = %d, want exactly one outbox entry", got)
	}
}

func TestIngest_Unparsed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	notJSON := testdataBody(t, "unparsed-not-json")
	array := testdataBody(t, "unparsed-array")
	badUTF8 := testdataBody(t, "unparsed-invalid-utf8")
	tests := []struct {
		name   string
		body   []byte
		header http.Header
		wantID string
	}{
		{name: "not JSON", body: notJSON, wantID: sha256ID(notJSON)},
		{name: "not JSON, id from X-TagihanAI-Event-Id", body: []byte("<xml>not json</xml>"), header: http.Header{relay.HeaderEventID: {"evt_hdr_0001"}}, wantID: "evt_hdr_0001"},
		{name: "JSON without a type", body: testdataBody(t, "unparsed-no-type"), wantID: "evt_no_type_0001"},
		{name: "JSON array", body: array, wantID: sha256ID(array)},
		{name: "invalid UTF-8", body: badUTF8, wantID: sha256ID(badUTF8)},
		{name: "empty body", body: []byte{}, wantID: sha256ID(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send := func() response {
				h := e.signed(tt.body)
				for k, v := range tt.header {
					h[k] = v
				}
				return e.post(t, tt.body, h)
			}
			res := send()
			if res.Status != http.StatusAccepted {
				t.Fatalf("got %s, want 202", res)
			}
			if diff := cmp.Diff(map[string]any{"status": "unparsed", "id": tt.wantID}, decode[map[string]any](t, res)); diff != "" {
				t.Fatalf("ack (-want +got):\n%s", diff)
			}
			d := e.storedEvent(t, tt.wantID)
			if d.Status != relay.StatusUnparsed || len(d.Deliveries) != 0 || d.Event != nil {
				t.Errorf("stored status=%s deliveries=%v event=%s; want unparsed, none, none", d.Status, d.Deliveries, d.Event)
			}
			if !bytes.Equal(d.Raw.BodyBase64, tt.body) {
				t.Errorf("stored body %q, want %q", d.Raw.BodyBase64, tt.body)
			}
			// The same bytes again (a retry, freshly signed): duplicate.
			e.Clock.Advance(30 * time.Second)
			res = send()
			if res.Status != http.StatusOK || decode[ack](t, res) != (ack{"duplicate", tt.wantID}) {
				t.Fatalf("again: got %s, want 200 duplicate", res)
			}
		})
	}
	st, err := e.Store.Stats(context.Background(), e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Sinks) != 0 {
		t.Errorf("unparsed deliveries were routed: %+v", st.Sinks)
	}
	if got := e.metric(t, "tagihan_relay_received_total", `result="unparsed",source="default"`); got != float64(len(tests)) {
		t.Errorf("received_total{unparsed} = %v, want %d", got, len(tests))
	}
}

// failingStore is a relay.Store whose Ingest fails; the rest is the real store.
type failingStore struct {
	relay.Store
	IngestFn func(ctx context.Context, e *relay.NewEvent) (relay.IngestStatus, error)
}

func (s failingStore) Ingest(ctx context.Context, e *relay.NewEvent) (relay.IngestStatus, error) {
	return s.IngestFn(ctx, e)
}

func TestIngest_StoreUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		store func(t *testing.T, real relay.Store) relay.Store
	}{
		{name: "commit fails", store: func(t *testing.T, real relay.Store) relay.Store {
			return failingStore{Store: real, IngestFn: func(context.Context, *relay.NewEvent) (relay.IngestStatus, error) {
				return "", fmt.Errorf("store: commit: %w", errors.New("write relay.db: no space left on device"))
			}}
		}},
		{name: "deadline exceeded", store: func(t *testing.T, real relay.Store) relay.Store {
			return failingStore{Store: real, IngestFn: func(context.Context, *relay.NewEvent) (relay.IngestStatus, error) {
				return "", context.DeadlineExceeded
			}}
		}},
		{name: "store closed", store: func(t *testing.T, real relay.Store) relay.Store {
			closed := testkit.OpenStore(t)
			if err := closed.Close(); err != nil {
				t.Fatal(err)
			}
			return closed
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{IngestStore: func(real relay.Store) relay.Store { return tt.store(t, real) }})
			body := fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_unavail_0001", Now: t0})
			res := e.post(t, body, e.signed(body))
			wantError(t, res, http.StatusServiceUnavailable, relay.EUNAVAILABLE, "retry")
			e.wantNothingStored(t)
			if got := e.metric(t, "tagihan_relay_received_total", `result="unavailable",source="default"`); got != 1 {
				t.Errorf("received_total{unavailable} = %v, want 1", got)
			}
			if strings.Contains(string(res.Body), "no space left") {
				t.Errorf("the answer leaks the internal error: %s", res.Body)
			}
		})
	}
}

func TestIngest_TestEvents(t *testing.T) {
	t.Parallel()
	routes := []relay.Route{
		{Sink: "erp", Events: []string{"*"}, OrderBySubject: true},
		{Sink: "qa", Events: []string{"*"}, IncludeTests: true},
	}
	e := newEnv(t, envOptions{Routes: routes})
	noTests := newEnv(t, envOptions{Routes: routes[:1]})
	tests := []struct {
		name, data, wantID string
	}{
		{name: "type webhook.test", data: "test-webhook-test", wantID: "evt_test_webhook_0001"},
		{name: "event ping", data: "test-ping", wantID: "evt_test_ping_0001"},
		{name: "top-level test: true", data: "test-flag", wantID: "evt_test_flag_0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := testdataBody(t, tt.data)
			e.deliver(t, body, "accepted")
			d := e.storedEvent(t, tt.wantID)
			if !d.Test {
				t.Errorf("stored test=false, want true")
			}
			if diff := cmp.Diff(map[string]string{"qa": relay.StatePending}, sinkStates(d)); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}

			noTests.deliver(t, body, "accepted")
			d = noTests.storedEvent(t, tt.wantID)
			if !d.Test || len(d.Deliveries) != 0 || d.Status != relay.StatusUnrouted {
				t.Errorf("without IncludeTests: test=%v deliveries=%v status=%s; want true, none, unrouted", d.Test, d.Deliveries, d.Status)
			}
		})
	}
	// A real event reaches both.
	e.deliver(t, fixture(t, "transaction.paid", fixtures.Options{EventID: "evt_real_0001", Now: t0}), "accepted")
	if diff := cmp.Diff(map[string]string{"erp": relay.StatePending, "qa": relay.StatePending}, sinkStates(e.storedEvent(t, "evt_real_0001"))); diff != "" {
		t.Errorf("real event deliveries (-want +got):\n%s", diff)
	}
}
