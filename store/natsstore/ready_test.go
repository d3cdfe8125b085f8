package natsstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// TestStore_ReadyFollowsWrites: a publish JetStream refuses (its storage
// is full) makes Ready false, like a failed bbolt commit; the next
// successful ingest makes it true again.
func TestStore_ReadyFollowsWrites(t *testing.T) {
	url := shared.ClientURL()
	prefix := freshPrefix(t, url)
	s := MustOpenStore(t, natsstore.Options{URLs: url, Prefix: prefix})
	ctx := context.Background()
	if !s.Ready() {
		t.Fatal("not ready after Open")
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	_, _, rawName := natsstore.Names(prefix)
	setMaxBytes := func(n int64) {
		t.Helper()
		st, err := js.Stream(ctx, rawName)
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.CachedInfo().Config
		cfg.MaxBytes, cfg.Discard = n, jetstream.DiscardNew
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatalf("update %s: %v", rawName, err)
		}
	}

	setMaxBytes(4 << 10) // "disk full": a larger delivery is refused
	big := storetest.NewEvent("evt_ready_big", time.Now())
	big.Delivery.Body = bytes.Repeat([]byte(" "), 64<<10)
	if _, err := s.Ingest(ctx, big); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("Ingest into a full stream = %v, want unavailable", err)
	}
	if s.Ready() {
		t.Fatal("Ready after a refused publish")
	}

	setMaxBytes(-1)
	if st, err := s.Ingest(ctx, storetest.NewEvent("evt_ready_small", time.Now())); err != nil || st != relay.IngestAccepted {
		t.Fatalf("Ingest after space came back = %v, %v", st, err)
	}
	if !s.Ready() {
		t.Fatal("not Ready after a successful ingest")
	}
}
