package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// notified records what a Receiver's Notify was called with.
type notified struct {
	mu    sync.Mutex
	calls [][]string
}

func (n *notified) notify(sinks []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, append([]string(nil), sinks...))
}

func (n *notified) get() [][]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([][]string(nil), n.calls...)
}

func newReceiver(t *testing.T) (*relay.Receiver, *notified) {
	t.Helper()
	n := &notified{}
	return &relay.Receiver{
		Store: testkit.OpenStore(t),
		Routes: []relay.Route{
			{Sink: "erp", Events: []string{"transaction.*"}, OrderBySubject: true},
			{Sink: "payments", Events: []string{"payment.*"}},
			{Sink: "debug", Events: []string{"*"}, IncludeTests: true},
		},
		Source: "tagihanai",
		Notify: n.notify,
	}, n
}

func TestReceiver_Receive(t *testing.T) {
	ctx := context.Background()
	received := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

	t.Run("Accepted", func(t *testing.T) {
		r, n := newReceiver(t)
		body, err := fixtures.Body("transaction.sent", eventOpts("evt_acc", "66666666-6666-4666-8666-666666666666"))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := r.Receive(ctx, relay.Delivery{ReceivedAt: received, Headers: map[string]string{"Content-Type": "application/json"}, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		want := relay.Receipt{ID: "evt_acc", Status: relay.IngestAccepted, Type: "transaction.sent", Sinks: []string{"erp", "debug"}}
		if diff := cmp.Diff(want, rc); diff != "" {
			t.Errorf("receipt (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([][]string{{"erp", "debug"}}, n.get()); diff != "" {
			t.Errorf("Notify calls (-want +got):\n%s", diff)
		}
		ev, err := r.Store.GetEvent(ctx, "evt_acc")
		if err != nil {
			t.Fatal(err)
		}
		if ev.Subject != "66666666-6666-4666-8666-666666666666" || ev.DocumentNumber != "INV-2026-0042" || ev.Status != relay.StatusPending {
			t.Errorf("stored event %+v", ev.EventSummary)
		}
		if string(ev.Raw.BodyBase64) != string(body) || ev.Raw.Headers["Content-Type"] != "application/json" {
			t.Error("raw delivery not kept byte for byte")
		}
		var ce relay.Event
		if err := json.Unmarshal(ev.Event, &ce); err != nil {
			t.Fatal(err)
		}
		if ce.ID != "evt_acc" || ce.Type != "com.tagihanai.transaction.sent" || ce.Source != "tagihanai" || ce.RelayReceivedAt != "2026-11-23T10:00:00Z" {
			t.Errorf("stored CloudEvent %+v", ce)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		r, n := newReceiver(t)
		body, _ := fixtures.Body("payment.completed", eventOpts("evt_dup", ""))
		if _, err := r.Receive(ctx, relay.Delivery{ReceivedAt: received, Body: body}); err != nil {
			t.Fatal(err)
		}
		// TagihanAI's retry: same id, a later time.
		rc, err := r.Receive(ctx, relay.Delivery{ReceivedAt: received.Add(time.Minute), Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if rc.Status != relay.IngestDuplicate || rc.ID != "evt_dup" || rc.Sinks != nil {
			t.Errorf("receipt %+v", rc)
		}
		if len(n.get()) != 1 {
			t.Errorf("Notify called %d times, want once", len(n.get()))
		}
		ev, err := r.Store.GetEvent(ctx, "evt_dup")
		if err != nil {
			t.Fatal(err)
		}
		if ev.Duplicates != 1 || !ev.LastReceivedAt.Equal(received.Add(time.Minute)) || len(ev.Deliveries) != 2 {
			t.Errorf("duplicates %d, last received %v, %d deliveries", ev.Duplicates, ev.LastReceivedAt, len(ev.Deliveries))
		}
	})

	t.Run("Unparsed", func(t *testing.T) {
		for _, body := range []string{"not json at all", `{"id":"evt_notype","data":{}}`} {
			r, n := newReceiver(t)
			d := relay.Delivery{ReceivedAt: received, Body: []byte(body)}
			rc, err := r.Receive(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if rc.Status != relay.IngestUnparsed || rc.ID == "" || rc.Sinks != nil {
				t.Errorf("%q: receipt %+v", body, rc)
			}
			if len(n.get()) != 0 {
				t.Errorf("%q: Notify called", body)
			}
			ev, err := r.Store.GetEvent(ctx, rc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Status != relay.StatusUnparsed || ev.ParseError == "" || string(ev.Raw.BodyBase64) != body {
				t.Errorf("%q: stored %+v", body, ev.EventSummary)
			}
			// The same bytes again are a duplicate, never thrown away.
			rc2, err := r.Receive(ctx, d)
			if err != nil || rc2.Status != relay.IngestDuplicate || rc2.ID != rc.ID {
				t.Errorf("%q again: %+v, %v", body, rc2, err)
			}
		}
	})

	t.Run("TestEventOnlyToIncludeTests", func(t *testing.T) {
		r, n := newReceiver(t)
		body := []byte(`{"id":"evt_test","type":"transaction.sent","test":true,"data":{"id":"trx_1"}}`)
		rc, err := r.Receive(ctx, relay.Delivery{ReceivedAt: received, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if !rc.Test || rc.Status != relay.IngestAccepted {
			t.Errorf("receipt %+v", rc)
		}
		if diff := cmp.Diff([][]string{{"debug"}}, n.get()); diff != "" {
			t.Errorf("Notify calls (-want +got):\n%s", diff)
		}
		if ev, _ := r.Store.GetEvent(ctx, "evt_test"); !ev.Test {
			t.Error("record not marked test")
		}
	})

	t.Run("Unrouted", func(t *testing.T) {
		r, n := newReceiver(t)
		r.Routes = r.Routes[:2] // no catch-all
		rc, err := r.Receive(ctx, relay.Delivery{ReceivedAt: received, Body: []byte(`{"id":"evt_party","type":"party.created","data":{"id":"pty_1"}}`)})
		if err != nil || rc.Status != relay.IngestAccepted || rc.Sinks != nil {
			t.Fatalf("receipt %+v, %v", rc, err)
		}
		if len(n.get()) != 0 {
			t.Error("Notify called for an unrouted event")
		}
		if ev, _ := r.Store.GetEvent(ctx, "evt_party"); ev.Status != relay.StatusUnrouted {
			t.Errorf("status %q", ev.Status)
		}
	})

	t.Run("HeaderID", func(t *testing.T) {
		r, _ := newReceiver(t)
		d := relay.Delivery{ReceivedAt: received, Headers: map[string]string{"x-tagihanai-event-id": "hdr_evt"},
			Body: []byte(`{"type":"ping"}`)}
		rc, err := r.Receive(ctx, d)
		if err != nil || rc.ID != "hdr_evt" {
			t.Errorf("receipt %+v, %v; want the id from the header (any case)", rc, err)
		}
	})
}

// failingStore is a relay.Store whose Ingest fails; other methods are not
// used.
type failingStore struct {
	relay.Store
	err error
}

func (s *failingStore) Ingest(context.Context, *relay.NewEvent) (relay.IngestStatus, error) {
	return "", s.err
}

func TestReceiver_Receive_StoreErrors(t *testing.T) {
	diskFull := errors.New("disk full")
	conflict := relay.Errorf(relay.ECONFLICT, "busy")
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantErr  error
	}{
		{"Internal", diskFull, relay.EUNAVAILABLE, diskFull},
		{"Canceled", context.Canceled, relay.EUNAVAILABLE, context.Canceled},
		{"Deadline", context.DeadlineExceeded, relay.EUNAVAILABLE, context.DeadlineExceeded},
		{"Unavailable", relay.Errorf(relay.EUNAVAILABLE, "closed"), relay.EUNAVAILABLE, nil},
		{"AppErrorWrapped", conflict, relay.EUNAVAILABLE, conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls notified
			r := &relay.Receiver{Store: &failingStore{err: tt.err}, Routes: []relay.Route{{Sink: "a", Events: []string{"*"}}}, Notify: calls.notify}
			rc, err := r.Receive(context.Background(), relay.Delivery{Body: []byte(`{"id":"e","type":"x"}`)})
			if err == nil {
				t.Fatal("nil error")
			}
			if got := relay.ErrorCode(err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q (%v)", got, tt.wantCode, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if rc.ID != "e" {
				t.Errorf("receipt id %q", rc.ID)
			}
			if len(calls.get()) != 0 {
				t.Error("Notify called after a failed commit")
			}
		})
	}
}

// A managed source's deliveries are stored under SourceEventID and carry
// their source; the CloudEvent keeps TagihanAI's id. The environment's
// source keeps plain ids.
func TestReceiver_Prepare_SourceName(t *testing.T) {
	received := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	body, err := fixtures.Body("transaction.sent", eventOpts("evt_1", "66666666-6666-4666-8666-666666666666"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		sourceName string
		body       []byte
		wantID     string
		wantSource string // NewEvent.Source
		wantCEID   string // "" for an unparsed delivery (no CloudEvent)
	}{
		{"Default", "", body, "evt_1", "", "evt_1"},
		{"DefaultByName", relay.DefaultSource, body, "evt_1", relay.DefaultSource, "evt_1"},
		{"Managed", "acme", body, "acme:evt_1", "acme", "evt_1"},
		{"UnparsedWithID", "acme", []byte(`{"id":"evt_notype","data":{}}`), "acme:evt_notype", "acme", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &relay.Receiver{Source: "tagihanai", SourceName: tt.sourceName}
			e := r.Prepare(relay.Delivery{ReceivedAt: received, Body: tt.body}, false)
			if e.ID != tt.wantID || e.Source != tt.wantSource {
				t.Errorf("NewEvent id %q, source %q; want %q, %q", e.ID, e.Source, tt.wantID, tt.wantSource)
			}
			if tt.wantCEID == "" {
				if !e.Unparsed || e.Event != nil {
					t.Errorf("unparsed %v, event %s; want an unparsed delivery without a CloudEvent", e.Unparsed, e.Event)
				}
				return
			}
			var ce relay.Event
			if err := json.Unmarshal(e.Event, &ce); err != nil {
				t.Fatal(err)
			}
			if ce.ID != tt.wantCEID || ce.Source != "tagihanai" {
				t.Errorf("CloudEvent id %q, source %q; want %q, tagihanai", ce.ID, ce.Source, tt.wantCEID)
			}
		})
	}

	t.Run("UnparsedBodyHash", func(t *testing.T) {
		d := relay.Delivery{ReceivedAt: received, Body: []byte("not json at all")}
		plain := (&relay.Receiver{}).Prepare(d, false)
		acme := (&relay.Receiver{SourceName: "acme"}).Prepare(d, false)
		if acme.ID != "acme:"+plain.ID || !strings.HasPrefix(plain.ID, "sha256:") {
			t.Errorf("ids %q and %q; want sha256:... and acme:sha256:...", plain.ID, acme.ID)
		}
	})

	t.Run("Stored", func(t *testing.T) {
		r, _ := newReceiver(t)
		r.SourceName = "acme"
		rc, err := r.Receive(context.Background(), relay.Delivery{ReceivedAt: received, Body: body})
		if err != nil || rc.ID != "acme:evt_1" {
			t.Fatalf("receipt %+v, %v; want id acme:evt_1", rc, err)
		}
		ev, err := r.Store.GetEvent(context.Background(), "acme:evt_1")
		if err != nil {
			t.Fatal(err)
		}
		if ev.Source != "acme" {
			t.Errorf("stored event source %q, want acme", ev.Source)
		}
	})
}
