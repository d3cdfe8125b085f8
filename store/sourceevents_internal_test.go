package store

import (
	"context"
	"encoding/json"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// TestStore_EventSource_oldRecord: an event record written before events
// carried their source (no "src" member) reads as the environment's, in
// listings, filters and GetEvent; the environment's new events are stored
// the same way, so marking them costs nothing.
func TestStore_EventSource_oldRecord(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, Options{})
	old := storetest.NewEvent("evt_old", t0)
	old.Source = "acme"
	plain := storetest.NewEvent("evt_new", t0.Add(1))
	plain.Source = relay.DefaultSource
	for _, e := range []*relay.NewEvent{old, plain} {
		if _, err := s.Ingest(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Rewrite evt_old's record as the previous version wrote it.
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEvents)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b.Get([]byte("evt_old")), &m); err != nil {
			return err
		}
		if string(m["src"]) != `"acme"` {
			t.Errorf("stored source %s, want \"acme\"", m["src"])
		}
		delete(m, "src")
		v, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if err := b.Put([]byte("evt_old"), v); err != nil {
			return err
		}
		var n map[string]json.RawMessage
		if err := json.Unmarshal(b.Get([]byte("evt_new")), &n); err != nil {
			return err
		}
		if _, ok := n["src"]; ok {
			t.Errorf("the environment's event stored with a source: %s", n["src"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.ListEvents(ctx, relay.EventFilter{Source: relay.DefaultSource})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 2 || p.Events[1].ID != "evt_old" || p.Events[1].Source != relay.DefaultSource {
		t.Errorf("ListEvents(source=default) = %+v, want evt_new and evt_old, both default", p.Events)
	}
	if p, err := s.ListEvents(ctx, relay.EventFilter{Source: "acme"}); err != nil || len(p.Events) != 0 {
		t.Errorf("ListEvents(source=acme) = %+v, %v; want none", p.Events, err)
	}
	d, err := s.GetEvent(ctx, "evt_old")
	if err != nil {
		t.Fatal(err)
	}
	if d.Source != relay.DefaultSource {
		t.Errorf("GetEvent(evt_old).Source = %q, want default", d.Source)
	}
}
