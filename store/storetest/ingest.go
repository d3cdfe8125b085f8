package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func testIngest(t *testing.T, open Opener) {
	t.Run("OK", func(t *testing.T) {
		h := newHarness(t, open)
		e := spec{id: "evt_1", at: at(0).Add(123 * time.Nanosecond), targets: to(erp, ap)}.event()
		if got := h.ingestStatus(e); got != relay.IngestAccepted {
			t.Fatalf("Ingest = %q, want accepted", got)
		}
		d := h.get("evt_1")
		want := relay.EventSummary{
			ID: "evt_1", Source: relay.DefaultSource, Type: "transaction.sent", Subject: "trx_evt_1", Status: relay.StatusPending,
			ReceivedAt: e.Delivery.ReceivedAt,
		}
		if diff := cmp.Diff(want, d.EventSummary); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
		if !bytes.Equal(d.Raw.BodyBase64, e.Delivery.Body) {
			t.Errorf("raw body = %q, want %q byte for byte", d.Raw.BodyBase64, e.Delivery.Body)
		}
		if !bytes.Equal(d.Raw.Body, e.Delivery.Body) {
			t.Errorf("raw.body (parsed JSON) = %q, want the body as sent", d.Raw.Body)
		}
		if diff := cmp.Diff(e.Delivery.Headers, d.Raw.Headers); diff != "" {
			t.Errorf("raw headers (-want +got):\n%s", diff)
		}
		if !bytes.Equal(d.Event, e.Event) {
			t.Errorf("event = %s, want %s byte for byte", d.Event, e.Event)
		}
		if d.Duplicates != 0 || !d.LastReceivedAt.Equal(e.Delivery.ReceivedAt) {
			t.Errorf("duplicates = %d, last received %v; want 0, %v", d.Duplicates, d.LastReceivedAt, e.Delivery.ReceivedAt)
		}
		if diff := cmp.Diff(map[string]string{erp: relay.StatePending, ap: relay.StatePending}, states(d)); diff != "" {
			t.Errorf("delivery states (-want +got):\n%s", diff)
		}
		for _, ds := range d.Deliveries {
			if ds.Attempts != 0 || len(ds.History) != 0 || ds.LastError != "" {
				t.Errorf("new delivery to %s: %+v, want no attempts", ds.Sink, ds)
			}
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		h := newHarness(t, open)
		first := spec{id: "evt_1", at: at(0), targets: to(erp)}.event()
		h.ingest(first)
		// A TagihanAI retry: same id and body, new timestamp and signature.
		var last time.Time
		for i := 1; i <= 2; i++ {
			retry := spec{id: "evt_1", at: at(i * 5000), targets: to(erp)}.event()
			last = retry.Delivery.ReceivedAt
			if got := h.ingestStatus(retry); got != relay.IngestDuplicate {
				t.Fatalf("retry %d: Ingest = %q, want duplicate", i, got)
			}
		}
		d := h.get("evt_1")
		if d.Duplicates != 2 {
			t.Errorf("duplicates = %d, want 2", d.Duplicates)
		}
		if !d.LastReceivedAt.Equal(last) {
			t.Errorf("last received at = %v, want %v", d.LastReceivedAt, last)
		}
		if !d.ReceivedAt.Equal(first.Delivery.ReceivedAt) {
			t.Errorf("received at = %v, want the first delivery's %v", d.ReceivedAt, first.Delivery.ReceivedAt)
		}
		if diff := cmp.Diff(first.Delivery.Headers, d.Raw.Headers); diff != "" {
			t.Errorf("a duplicate replaced the stored headers (-first +stored):\n%s", diff)
		}
		if len(d.Deliveries) != 1 {
			t.Errorf("deliveries = %v, want one", states(d))
		}
		h.wantSinks(later, map[string]relay.SinkStats{erp: {Pending: 1}})
		h.wantClaimed(erp, later, "evt_1")
		h.wantClaimed(erp, later)
		if diff := cmp.Diff(map[string]int64{relay.StatusPending: 1}, h.eventCounts(later)); diff != "" {
			t.Errorf("event counts (-want +got):\n%s", diff)
		}
	})

	t.Run("Unparsed", func(t *testing.T) {
		h := newHarness(t, open)
		body := "\x00\xff not json {\"id\":"
		if got := h.ingestStatus(unparsed("sha256:ab12", at(0), body)); got != relay.IngestUnparsed {
			t.Fatalf("Ingest = %q, want unparsed", got)
		}
		if got := h.ingestStatus(unparsed("sha256:ab12", at(1000), body)); got != relay.IngestDuplicate {
			t.Fatalf("same bytes again: Ingest = %q, want duplicate", got)
		}
		d := h.get("sha256:ab12")
		if d.Status != relay.StatusUnparsed {
			t.Errorf("status = %q, want unparsed", d.Status)
		}
		if d.ParseError == "" {
			t.Error("parse error not kept")
		}
		if !bytes.Equal(d.Raw.BodyBase64, []byte(body)) {
			t.Errorf("raw body = %q, want %q", d.Raw.BodyBase64, body)
		}
		if len(d.Raw.Body) != 0 {
			t.Errorf("raw.body = %q, want absent for a body that is not JSON", d.Raw.Body)
		}
		if len(d.Event) != 0 || len(d.Deliveries) != 0 {
			t.Errorf("unparsed event has a CloudEvent %q or deliveries %v", d.Event, states(d))
		}
		if d.Duplicates != 1 {
			t.Errorf("duplicates = %d, want 1", d.Duplicates)
		}
	})

	t.Run("Test", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(spec{id: "evt_ping", typ: "webhook.test", test: true, targets: to(erp)}.event())
		if d := h.get("evt_ping"); !d.Test {
			t.Error("summary test = false, want true")
		}
		if c := h.wantClaimed(erp, later, "evt_ping"); !c[0].Test {
			t.Error("claim test = false, want true")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		h := newHarness(t, open)
		_, err := h.s.GetEvent(h.ctx, "evt_nope")
		wantCode(t, err, relay.ENOTFOUND)
	})

	t.Run("Status", func(t *testing.T) {
		tests := []struct {
			name     string
			unparsed bool
			states   map[string]string // sink → state it is driven to; none: unrouted
			want     string
		}{
			{name: "Unparsed", unparsed: true, want: relay.StatusUnparsed},
			{name: "Unrouted", want: relay.StatusUnrouted},
			{name: "Pending", states: map[string]string{"a": relay.StatePending}, want: relay.StatusPending},
			{name: "InFlight", states: map[string]string{"a": relay.StateInFlight}, want: relay.StatusPending},
			{name: "Retrying", states: map[string]string{"a": "retry"}, want: relay.StatusPending},
			{name: "SomeDelivered", states: map[string]string{"a": relay.StateDelivered, "b": relay.StatePending}, want: relay.StatusPending},
			{name: "Delivered", states: map[string]string{"a": relay.StateDelivered, "b": relay.StateSkipped}, want: relay.StatusDelivered},
			{name: "Skipped", states: map[string]string{"a": relay.StateSkipped}, want: relay.StatusDelivered},
			{name: "DeadBeatsPending", states: map[string]string{"a": relay.StateDead, "b": relay.StateInFlight, "c": relay.StateDelivered}, want: relay.StatusDead},
			{name: "NeedsReviewBeatsDead", states: map[string]string{"a": relay.StateNeedsReview, "b": relay.StateDead, "c": relay.StatePending}, want: relay.StatusNeedsReview},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, open)
				e := spec{id: "evt_1"}.event()
				if tt.unparsed {
					e = unparsed("evt_1", t0, "<xml/>")
				}
				for sink := range tt.states {
					e.Targets = append(e.Targets, relay.OutboxTarget{Sink: sink})
				}
				h.ingest(e)
				for sink, state := range tt.states {
					switch state {
					case relay.StatePending:
					case "retry":
						h.settle(sink, later, map[string]string{"evt_1": relay.StatePending})
					default:
						h.settle(sink, later, map[string]string{"evt_1": state})
					}
				}
				h.wantStatus("evt_1", tt.want)
				if got := summaryIDs(h.list(relay.EventFilter{Status: tt.want})); !cmp.Equal(got, []string{"evt_1"}) {
					t.Errorf("ListEvents(status=%s) = %v, want [evt_1]", tt.want, got)
				}
				if p := h.list(relay.EventFilter{}); len(p.Events) != 1 || p.Events[0].Status != tt.want {
					t.Errorf("listed %+v, want evt_1 with status %q", p.Events, tt.want)
				}
				if diff := cmp.Diff(map[string]int64{tt.want: 1}, h.eventCounts(later)); diff != "" {
					t.Errorf("Stats events (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func testIngestConcurrent(t *testing.T, open Opener) {
	t.Run("Duplicate", func(t *testing.T) {
		h := newHarness(t, open)
		const n = 50
		results := make([]relay.IngestStatus, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			e := spec{id: "evt_same", at: at(i), targets: to(erp)}.event()
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = h.s.Ingest(h.ctx, e)
			}()
		}
		close(start)
		wg.Wait()
		counts := map[relay.IngestStatus]int{}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Ingest %d: %v", i, errs[i])
			}
			counts[results[i]]++
		}
		if diff := cmp.Diff(map[relay.IngestStatus]int{relay.IngestAccepted: 1, relay.IngestDuplicate: n - 1}, counts); diff != "" {
			t.Fatalf("statuses (-want +got):\n%s", diff)
		}
		if d := h.get("evt_same"); d.Duplicates != n-1 {
			t.Errorf("duplicates = %d, want %d", d.Duplicates, n-1)
		}
		h.wantClaimed(erp, later, "evt_same")
	})

	t.Run("Distinct", func(t *testing.T) {
		h := newHarness(t, open)
		const n = 500
		events := make([]*relay.NewEvent, n)
		for i := range events {
			events[i] = spec{id: fmt.Sprintf("evt_%04d", i), at: at(i), targets: to(erp)}.event()
		}
		h.ingestConcurrently(events, 32)
		got, _ := h.listAll(relay.EventFilter{Limit: 1000})
		if diff := cmp.Diff(sortedDesc(events), got); diff != "" {
			t.Errorf("listed ids (-want +got):\n%s", diff)
		}
		if claimed := h.claimIDs(erp, later); len(claimed) != n {
			t.Errorf("claimed %d, want %d", len(claimed), n)
		}
		if diff := cmp.Diff(map[string]int64{relay.StatusPending: n}, h.eventCounts(later)); diff != "" {
			t.Errorf("event counts (-want +got):\n%s", diff)
		}
	})
}
