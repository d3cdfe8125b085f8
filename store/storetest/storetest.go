// Package storetest is the contract suite of relay.Store: the behaviour every
// storage backend (the embedded bbolt store, the NATS JetStream backend) must
// show, tested only through the relay.Store interface.
//
// A backend runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) relay.Store {
//			return MustOpenStore(t) // a fresh, empty store, closed by t.Cleanup
//		})
//	}
//
// # Time
//
// The suite never sleeps and never reads the wall clock for the store: every
// receive time, attempt time and "now" handed to the store is derived from a
// fixed instant, so due times and ages are exact.
//
// # Imports
//
// Only the domain package relay, go-cmp and the standard library: the suite
// must not know how any backend lays its data out.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Opener returns a fresh, empty store for one test and arranges (with
// t.Cleanup) for it to be closed. It fails the test itself when it cannot.
type Opener func(t *testing.T) relay.Store

// Run runs the whole contract suite against the stores open returns. Every
// leaf test opens its own store.
func Run(t *testing.T, open func(t *testing.T) relay.Store) {
	o := Opener(open)
	t.Run("Ingest", func(t *testing.T) { testIngest(t, o) })
	t.Run("IngestConcurrent", func(t *testing.T) { testIngestConcurrent(t, o) })
	t.Run("ClaimDue", func(t *testing.T) { testClaimDue(t, o) })
	t.Run("Finish", func(t *testing.T) { testFinish(t, o) })
	t.Run("AttemptRequest", func(t *testing.T) { testAttemptRequest(t, o) })
	t.Run("Ordering", func(t *testing.T) { testOrdering(t, o) })
	t.Run("ResumeInFlight", func(t *testing.T) { testResumeInFlight(t, o) })
	t.Run("ListDeadLetters", func(t *testing.T) { testListDeadLetters(t, o) })
	t.Run("Redrive", func(t *testing.T) { testRedrive(t, o) })
	t.Run("Replay", func(t *testing.T) { testReplay(t, o) })
	t.Run("ReplayCreateOnce", func(t *testing.T) { testReplayCreateOnce(t, o) })
	t.Run("WaitingFor", func(t *testing.T) { testWaitingFor(t, o) })
	t.Run("Resolve", func(t *testing.T) { testResolve(t, o) })
	t.Run("ListEvents", func(t *testing.T) { testListEvents(t, o) })
	t.Run("SearchReturned", func(t *testing.T) { testSearchReturned(t, o) })
	t.Run("Stats", func(t *testing.T) { testStats(t, o) })
	t.Run("LastHour", func(t *testing.T) { testLastHour(t, o) })
	t.Run("Export", func(t *testing.T) { testExport(t, o) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, o) })
	t.Run("Sources", func(t *testing.T) { testSources(t, o) })
}

// t0 is the instant every fixture time is derived from.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// at returns t0 plus ms milliseconds: the receive time of a fixture.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// later is a clock reading after every fixture's receive time: everything
// ingested is due by then.
var later = t0.Add(time.Hour)

// Sink names used throughout.
const (
	erp = "erp" // an idempotent HTTP forward
	ap  = "ap"  // AccountingPlus: non-idempotent, create-once records
)

// to returns one unordered outbox target per sink.
func to(sinks ...string) []relay.OutboxTarget {
	out := make([]relay.OutboxTarget, len(sinks))
	for i, s := range sinks {
		out[i] = relay.OutboxTarget{Sink: s}
	}
	return out
}

// ordered returns one outbox target per sink, ordered by key.
func ordered(key string, sinks ...string) []relay.OutboxTarget {
	out := to(sinks...)
	for i := range out {
		out[i].OrderKey = key
	}
	return out
}

// spec describes a fixture event; event builds it.
type spec struct {
	id, typ, subject string
	doc, party       string
	txn              string // data.transaction_id of a payment
	at               time.Time
	test             bool
	targets          []relay.OutboxTarget
}

// NewEvent returns a realistic parsed event as the ingest path builds it: a
// signed JSON delivery (with whitespace and a big number, to catch
// re-serialization), its CloudEvent, type transaction.sent and subject
// "trx_"+id.
func NewEvent(id string, receivedAt time.Time, targets ...relay.OutboxTarget) *relay.NewEvent {
	return spec{id: id, at: receivedAt, targets: targets}.event()
}

func (s spec) event() *relay.NewEvent {
	if s.typ == "" {
		s.typ = "transaction.sent"
	}
	if s.subject == "" {
		s.subject = "trx_" + s.id
	}
	if s.at.IsZero() {
		s.at = t0
	}
	data := fmt.Sprintf(`{"id": %s, "type":"INVOICE",  "document_number":%s,"counterparty_name":%s,`+
		`"total": 9007199254740993, "note":"Rp 1.000 \u2014 caf\u00e9"}`, jsonString(s.subject), jsonString(s.doc), jsonString(s.party))
	if s.txn != "" {
		data = data[:len(data)-1] + `,"transaction_id":` + jsonString(s.txn) + "}"
	}
	test := ""
	if s.test {
		test = `,"test":true`
	}
	body := fmt.Sprintf("{\"id\":%s,\n  \"type\": %s,\"created_at\":%s%s,\t\"data\":%s}\n",
		jsonString(s.id), jsonString(s.typ), jsonString(s.at.Format(time.RFC3339)), test, data)
	sum := sha256.Sum256([]byte(s.id + "." + body))
	ts := s.at.Unix()
	ce, err := relay.Event{
		SpecVersion: "1.0", ID: s.id, Source: "tagihanai", Type: relay.TypePrefix + s.typ,
		Time: s.at.Format(time.RFC3339Nano), Subject: s.subject, DataContentType: "application/json",
		Data: json.RawMessage(data), TagihanAIEvent: s.typ, RelayReceivedAt: s.at.Format(time.RFC3339Nano),
	}.MarshalJSON()
	if err != nil {
		panic(err)
	}
	return &relay.NewEvent{
		ID: s.id,
		Delivery: relay.Delivery{
			ReceivedAt: s.at,
			Headers: map[string]string{
				"X-Tagihanai-Signature": fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(sum[:])),
				"X-Tagihanai-Event-Id":  s.id,
				"Content-Type":          "application/json; charset=utf-8",
				"User-Agent":            "TagihanAI-Webhooks/1.0",
			},
			Body: []byte(body),
		},
		Type: s.typ, Subject: s.subject, Test: s.test,
		DocumentNumber: s.doc, Counterparty: s.party, TransactionID: s.txn,
		Event:           ce,
		EventDataOffset: bytes.LastIndex(ce, []byte(`,"data":`)) + len(`,"data":`),
		Targets:         s.targets,
	}
}

// unparsed returns a verified delivery that is not a recognizable event.
func unparsed(id string, receivedAt time.Time, body string) *relay.NewEvent {
	return &relay.NewEvent{
		ID: id,
		Delivery: relay.Delivery{
			ReceivedAt: receivedAt,
			Headers:    map[string]string{"X-Tagihanai-Signature": "t=1772442000,v1=00ff", "Content-Type": "text/plain"},
			Body:       []byte(body),
		},
		Unparsed:   true,
		ParseError: "relay: body is not a JSON object",
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// dataOf returns the CloudEvent's data member, byte for byte.
func dataOf(t *testing.T, e *relay.NewEvent) json.RawMessage {
	t.Helper()
	var v struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(e.Event, &v); err != nil {
		t.Fatalf("fixture %s: %v", e.ID, err)
	}
	return v.Data
}

// harness wraps a store with helpers that fail the test themselves.
type harness struct {
	t   *testing.T
	s   relay.Store
	ctx context.Context
}

func newHarness(t *testing.T, open Opener) *harness {
	t.Helper()
	s := open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	return &harness{t: t, s: s, ctx: context.Background()}
}

// ingest stores events one by one, each of which must be new.
func (h *harness) ingest(events ...*relay.NewEvent) {
	h.t.Helper()
	for _, e := range events {
		want := relay.IngestAccepted
		if e.Unparsed {
			want = relay.IngestUnparsed
		}
		if got := h.ingestStatus(e); got != want {
			h.t.Fatalf("Ingest(%s) = %q, want %q", e.ID, got, want)
		}
	}
}

func (h *harness) ingestStatus(e *relay.NewEvent) relay.IngestStatus {
	h.t.Helper()
	st, err := h.s.Ingest(h.ctx, e)
	if err != nil {
		h.t.Fatalf("Ingest(%s): %v", e.ID, err)
	}
	return st
}

// ingestConcurrently stores new events from workers goroutines at once, as
// concurrent webhook deliveries do (and as group commit is built for).
func (h *harness) ingestConcurrently(events []*relay.NewEvent, workers int) {
	h.t.Helper()
	work := make(chan *relay.NewEvent)
	errs := make(chan error, len(events))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				st, err := h.s.Ingest(h.ctx, e)
				switch {
				case err != nil:
					errs <- fmt.Errorf("Ingest(%s): %w", e.ID, err)
				case st != relay.IngestAccepted:
					errs <- fmt.Errorf("Ingest(%s) = %q, want accepted", e.ID, st)
				}
			}
		}()
	}
	for _, e := range events {
		work <- e
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		h.t.Error(err)
	}
	if h.t.Failed() {
		h.t.FailNow()
	}
}

func (h *harness) claim(sink string, now time.Time, max int) []relay.Claim {
	h.t.Helper()
	claims, _ := h.claimNext(sink, now, max)
	return claims
}

func (h *harness) claimNext(sink string, now time.Time, max int) ([]relay.Claim, time.Time) {
	h.t.Helper()
	claims, next, err := h.s.ClaimDue(h.ctx, sink, now, max)
	if err != nil {
		h.t.Fatalf("ClaimDue(%s, %s, %d): %v", sink, now.Format(time.RFC3339Nano), max, err)
	}
	for _, c := range claims {
		if c.Sink != sink {
			h.t.Fatalf("ClaimDue(%s) returned a claim of sink %q", sink, c.Sink)
		}
	}
	return claims, next
}

// claimIDs claims everything due at sink at now and returns the event ids in
// claim order.
func (h *harness) claimIDs(sink string, now time.Time) []string {
	h.t.Helper()
	return ids(h.claim(sink, now, 1000))
}

// wantClaimed claims everything due and requires exactly want, in order.
func (h *harness) wantClaimed(sink string, now time.Time, want ...string) []relay.Claim {
	h.t.Helper()
	claims := h.claim(sink, now, 1000)
	if diff := cmp.Diff(want, ids(claims), cmpEmpty); diff != "" {
		h.t.Fatalf("ClaimDue(%s) ids (-want +got):\n%s", sink, diff)
	}
	return claims
}

func ids(claims []relay.Claim) []string {
	out := []string{}
	for _, c := range claims {
		out = append(out, c.EventID)
	}
	return out
}

// attempt is the attempt record a test finishes a delivery with.
func attempt(state string, now time.Time) relay.Attempt {
	a := relay.Attempt{At: now, Duration: 42 * time.Millisecond, Outcome: state}
	switch state {
	case relay.StateDelivered:
		a.StatusCode = 201
	case relay.StatePending:
		a.StatusCode, a.Error = 503, "503 Service Unavailable"
	case relay.StateDead:
		a.StatusCode, a.Error = 422, "422: customer not found"
	case relay.StateNeedsReview:
		a.Error = "timeout after the request was sent"
	case relay.StateSkipped:
		a.Error = "not an invoice (BILL)"
	}
	return a
}

// transition is the usual transition to state after an attempt at now.
func transition(state string, now time.Time) relay.Transition {
	tr := relay.Transition{State: state, Reason: attempt(state, now).Error}
	if state == relay.StatePending {
		tr.NextAt = now.Add(24 * time.Hour)
	}
	return tr
}

func (h *harness) finish(sink, id string, a relay.Attempt, tr relay.Transition) {
	h.t.Helper()
	if err := h.s.Finish(h.ctx, sink, id, a, tr); err != nil {
		h.t.Fatalf("Finish(%s, %s, %s): %v", sink, id, tr.State, err)
	}
}

// settle claims everything due at sink and moves each claimed delivery to
// the state want names for it: in_flight leaves it claimed, pending
// schedules a retry a day later. Every claim must be in want and every
// delivery in want must have been claimed.
func (h *harness) settle(sink string, now time.Time, want map[string]string) {
	h.t.Helper()
	claimed := map[string]bool{}
	for _, c := range h.claim(sink, now, 1000) {
		state, ok := want[c.EventID]
		if !ok {
			h.t.Fatalf("settle %s: claimed %s, which the test did not expect", sink, c.EventID)
		}
		claimed[c.EventID] = true
		if state != relay.StateInFlight {
			h.finish(sink, c.EventID, attempt(state, now), transition(state, now))
		}
	}
	for id := range want {
		if !claimed[id] {
			h.t.Fatalf("settle %s: %s was not claimable", sink, id)
		}
	}
}

// replay replays id to t at a sink that is not create-once; a replay that
// succeeds must have queued one delivery.
func (h *harness) replay(id string, t relay.OutboxTarget, operator string, now time.Time) error {
	h.t.Helper()
	res, err := h.s.Replay(h.ctx, id, relay.ReplayRequest{Target: t, Operator: operator}, now)
	if err == nil && res != (relay.ReplayResult{Queued: 1}) {
		h.t.Fatalf("Replay(%s, %s) = %+v, want one delivery queued", id, t.Sink, res)
	}
	return err
}

func (h *harness) get(id string) *relay.EventDetail {
	h.t.Helper()
	d, err := h.s.GetEvent(h.ctx, id)
	if err != nil {
		h.t.Fatalf("GetEvent(%s): %v", id, err)
	}
	if d == nil {
		h.t.Fatalf("GetEvent(%s) = nil", id)
	}
	return d
}

// delivery returns the event's delivery state at sink.
func (h *harness) delivery(id, sink string) relay.DeliveryState {
	h.t.Helper()
	d := h.get(id)
	for _, ds := range d.Deliveries {
		if ds.Sink == sink {
			return ds
		}
	}
	h.t.Fatalf("event %s has no delivery to %s (has %v)", id, sink, states(d))
	return relay.DeliveryState{}
}

// wantState requires the event's delivery at sink to be in state.
func (h *harness) wantState(id, sink, state string) {
	h.t.Helper()
	if got := h.delivery(id, sink).State; got != state {
		h.t.Fatalf("delivery %s → %s is %q, want %q", id, sink, got, state)
	}
}

// wantStatus requires the event's status to be status.
func (h *harness) wantStatus(id, status string) {
	h.t.Helper()
	if got := h.get(id).Status; got != status {
		h.t.Fatalf("event %s status = %q, want %q", id, got, status)
	}
}

// states maps sink to delivery state.
func states(d *relay.EventDetail) map[string]string {
	out := map[string]string{}
	for _, ds := range d.Deliveries {
		out[ds.Sink] = ds.State
	}
	return out
}

func (h *harness) list(f relay.EventFilter) relay.EventPage {
	h.t.Helper()
	p, err := h.s.ListEvents(h.ctx, f)
	if err != nil {
		h.t.Fatalf("ListEvents(%+v): %v", f, err)
	}
	return p
}

// listAll follows the cursor to the last page and returns every id, in
// order, and the page sizes.
func (h *harness) listAll(f relay.EventFilter) (all []string, sizes []int) {
	h.t.Helper()
	all = []string{}
	for range 1000 {
		p := h.list(f)
		sizes = append(sizes, len(p.Events))
		for _, e := range p.Events {
			all = append(all, e.ID)
		}
		if p.NextCursor == "" {
			return all, sizes
		}
		if p.NextCursor == f.Cursor {
			h.t.Fatalf("ListEvents returned its own cursor %q again", f.Cursor)
		}
		f.Cursor = p.NextCursor
	}
	h.t.Fatal("ListEvents: more than 1000 pages")
	return nil, nil
}

func summaryIDs(p relay.EventPage) []string {
	out := []string{}
	for _, e := range p.Events {
		out = append(out, e.ID)
	}
	return out
}

func (h *harness) deadLetters(f relay.DeadLetterFilter) []relay.DeadLetter {
	h.t.Helper()
	p, err := h.s.ListDeadLetters(h.ctx, f)
	if err != nil {
		h.t.Fatalf("ListDeadLetters(%+v): %v", f, err)
	}
	return p.DeadLetters
}

func (h *harness) stats(now time.Time) relay.Stats {
	h.t.Helper()
	st, err := h.s.Stats(h.ctx, now)
	if err != nil {
		h.t.Fatalf("Stats: %v", err)
	}
	return st
}

// eventCounts returns Stats.Events without zero counts (a backend may list
// them or not).
func (h *harness) eventCounts(now time.Time) map[string]int64 {
	h.t.Helper()
	out := map[string]int64{}
	for k, v := range h.stats(now).Events {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// wantSinks requires Stats.Sinks to hold want's counts (the oldest pending
// age aside); sinks with no deliveries at all may be listed or not.
func (h *harness) wantSinks(now time.Time, want map[string]relay.SinkStats) {
	h.t.Helper()
	got := map[string]relay.SinkStats{}
	for name, ss := range h.stats(now).Sinks {
		ss.OldestPendingAge = 0
		if ss != (relay.SinkStats{}) {
			got[name] = ss
		}
	}
	if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
		h.t.Errorf("Stats sinks (-want +got):\n%s", diff)
	}
}

// wantCode requires err to carry the relay error code code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := relay.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// cmpEmpty treats nil and empty slices and maps alike.
var cmpEmpty = cmpopts.EquateEmpty()

// ignoreUpdatedAt leaves out the bookkeeping time of a delivery state.
var ignoreUpdatedAt = cmpopts.IgnoreFields(relay.DeliveryState{}, "UpdatedAt")

// sortedDesc returns ids sorted newest first given their receive times.
func sortedDesc(events []*relay.NewEvent) []string {
	es := slices.Clone(events)
	sort.SliceStable(es, func(i, j int) bool { return es[i].Delivery.ReceivedAt.After(es[j].Delivery.ReceivedAt) })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// hasOperation reports whether the event's operations include action at
// sink by operator.
func hasOperation(d *relay.EventDetail, action, sink, operator string) bool {
	for _, op := range d.Operations {
		if strings.HasPrefix(op.Action, action) && op.Sink == sink && op.Operator == operator {
			return true
		}
	}
	return false
}
