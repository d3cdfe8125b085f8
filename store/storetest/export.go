package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func (h *harness) export(f relay.ExportFilter) []*relay.ExportRecord {
	h.t.Helper()
	var out []*relay.ExportRecord
	err := h.s.Export(h.ctx, f, func(r *relay.ExportRecord) error {
		c := *r
		c.BodyBase64 = bytes.Clone(r.BodyBase64)
		c.Event = bytes.Clone(r.Event)
		out = append(out, &c)
		return nil
	})
	if err != nil {
		h.t.Fatalf("Export(%+v): %v", f, err)
	}
	return out
}

func exportIDs(recs []*relay.ExportRecord) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

// fromExport is what import does with an exported line: the stored delivery
// as it was received, parsed again (here: the fields of the original).
func fromExport(r *relay.ExportRecord, orig *relay.NewEvent, targets ...relay.OutboxTarget) *relay.NewEvent {
	return &relay.NewEvent{
		ID:       r.ID,
		Delivery: relay.Delivery{ReceivedAt: r.ReceivedAt, Headers: r.Headers, Body: r.BodyBase64},
		Unparsed: orig.Unparsed, ParseError: orig.ParseError,
		Type: orig.Type, Subject: orig.Subject, Test: orig.Test,
		DocumentNumber: orig.DocumentNumber, Counterparty: orig.Counterparty,
		Event:   r.Event,
		Targets: targets,
	}
}

func testExport(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		a := newHarness(t, open)
		noHeaders := spec{id: "evt_4", at: at(3)}.event()
		noHeaders.Delivery.Headers = nil
		events := []*relay.NewEvent{
			spec{id: "evt_1", doc: "INV-1", party: "PT Maju", at: at(0).Add(123), targets: to(erp)}.event(),
			unparsed("sha256:00ff", at(1).Add(7), "\x00\xff\r\n binary \x01"),
			spec{id: "evt_3", typ: "webhook.test", test: true, at: at(2)}.event(),
			noHeaders,
		}
		byID := map[string]*relay.NewEvent{}
		for _, e := range events {
			byID[e.ID] = e
		}
		a.ingest(events...)
		a.settle(erp, later, map[string]string{"evt_1": relay.StateDelivered})

		recs := a.export(relay.ExportFilter{})
		if diff := cmp.Diff([]string{"evt_1", "sha256:00ff", "evt_3", "evt_4"}, exportIDs(recs)); diff != "" {
			t.Fatalf("exported ids, oldest first (-want +got):\n%s", diff)
		}
		for _, r := range recs {
			e := byID[r.ID]
			want := &relay.ExportRecord{
				ID: e.ID, ReceivedAt: e.Delivery.ReceivedAt, Headers: e.Delivery.Headers, BodyBase64: e.Delivery.Body,
				Event: e.Event, Status: a.get(e.ID).Status,
			}
			if diff := cmp.Diff(want, r, cmpEmpty); diff != "" {
				t.Errorf("exported %s (-want +got):\n%s", e.ID, diff)
			}
		}

		b := newHarness(t, open)
		for _, r := range recs {
			ok, err := b.s.Import(b.ctx, fromExport(r, byID[r.ID]))
			if err != nil || !ok {
				t.Fatalf("Import(%s) = %v, %v; want imported", r.ID, ok, err)
			}
		}
		again := b.export(relay.ExportFilter{})
		if diff := cmp.Diff(recs, again, cmpEmpty, cmpopts.IgnoreFields(relay.ExportRecord{}, "Status")); diff != "" {
			t.Errorf("export of the imported store (-first +second):\n%s", diff)
		}
		d := b.get("evt_1")
		if !bytes.Equal(d.Raw.BodyBase64, byID["evt_1"].Delivery.Body) || !d.ReceivedAt.Equal(byID["evt_1"].Delivery.ReceivedAt) {
			t.Errorf("imported evt_1: body %q received %v; want the original", d.Raw.BodyBase64, d.ReceivedAt)
		}
		if d.Status != relay.StatusUnrouted {
			t.Errorf("imported without routing: status %q, want unrouted", d.Status)
		}

		imported := 0
		for _, r := range recs {
			ok, err := b.s.Import(b.ctx, fromExport(r, byID[r.ID]))
			if err != nil {
				t.Fatalf("second Import(%s): %v", r.ID, err)
			}
			if ok {
				imported++
			}
		}
		if imported != 0 {
			t.Errorf("second import imported %d, want 0", imported)
		}
		if n := len(b.export(relay.ExportFilter{})); n != len(recs) {
			t.Errorf("after the second import: %d records, want %d", n, len(recs))
		}
		// The imported ids are in the dedup index.
		if got := b.ingestStatus(byID["evt_1"]); got != relay.IngestDuplicate {
			t.Errorf("Ingest of an imported id = %q, want duplicate", got)
		}
	})

	t.Run("ImportRouted", func(t *testing.T) {
		a := newHarness(t, open)
		e := spec{id: "evt_1", at: at(0)}.event()
		a.ingest(e)
		b := newHarness(t, open)
		for _, r := range a.export(relay.ExportFilter{}) {
			if ok, err := b.s.Import(b.ctx, fromExport(r, e, to(erp)...)); err != nil || !ok {
				t.Fatalf("Import = %v, %v", ok, err)
			}
		}
		b.wantStatus("evt_1", relay.StatusPending)
		c := b.wantClaimed(erp, later, "evt_1")[0]
		if !bytes.Equal(c.Data, dataOf(t, e)) || !bytes.Equal(c.Event, e.Event) || !bytes.Equal(c.Delivery.Body, e.Delivery.Body) {
			t.Errorf("claim of an imported event: data %s, event %s, body %q; want the original", c.Data, c.Event, c.Delivery.Body)
		}
	})

	t.Run("Filter", func(t *testing.T) {
		h := newHarness(t, open)
		h.ingest(
			spec{id: "evt_1", typ: "transaction.sent", at: at(0)}.event(),
			spec{id: "evt_2", typ: "payment.completed", at: at(1000)}.event(),
			spec{id: "evt_3", typ: "transaction.paid", at: at(2000)}.event(),
			spec{id: "evt_4", typ: "transaction.sent", at: at(3000)}.event(),
		)
		tests := []struct {
			name   string
			filter relay.ExportFilter
			want   []string
		}{
			{"All", relay.ExportFilter{}, []string{"evt_1", "evt_2", "evt_3", "evt_4"}},
			{"Type", relay.ExportFilter{Type: "transaction.*"}, []string{"evt_1", "evt_3", "evt_4"}},
			{"Since", relay.ExportFilter{Since: at(1000)}, []string{"evt_2", "evt_3", "evt_4"}},
			{"Until", relay.ExportFilter{Until: at(2000)}, []string{"evt_1", "evt_2", "evt_3"}},
			{"SinceUntilType", relay.ExportFilter{Since: at(500), Until: at(3000), Type: "transaction.*"}, []string{"evt_3", "evt_4"}},
			{"None", relay.ExportFilter{Type: "party.*"}, []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if diff := cmp.Diff(tt.want, exportIDs(h.export(tt.filter))); diff != "" {
					t.Errorf("exported ids (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("Many", func(t *testing.T) {
		h := newHarness(t, open)
		events := make([]*relay.NewEvent, 1100)
		want := make([]string, len(events))
		for i := range events {
			want[i] = fmt.Sprintf("evt_%04d", i)
			events[i] = spec{id: want[i], at: at(i)}.event()
		}
		h.ingestConcurrently(events, 32)
		if diff := cmp.Diff(want, exportIDs(h.export(relay.ExportFilter{}))); diff != "" {
			t.Errorf("exported ids (-want +got):\n%s", diff)
		}
	})

	t.Run("StopsOnError", func(t *testing.T) {
		h := newHarness(t, open)
		for i := range 5 {
			h.ingest(spec{id: fmt.Sprintf("evt_%d", i), at: at(i)}.event())
		}
		errStop := errors.New("client went away")
		calls := 0
		err := h.s.Export(h.ctx, relay.ExportFilter{}, func(*relay.ExportRecord) error {
			calls++
			if calls == 2 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Errorf("Export = %v, want the callback's error", err)
		}
		if calls != 2 {
			t.Errorf("callback called %d times, want 2", calls)
		}
	})
}
