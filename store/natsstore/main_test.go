package natsstore_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// shared is the in-process NATS server (JetStream on, a temporary store
// directory) most tests use, each under a prefix of its own.
var shared *server.Server

type mainRunner struct{ m *testing.M }

func (r mainRunner) Run() int {
	if os.Getenv(crashChildEnv) != "" {
		return r.m.Run() // a crash test's child: it uses the parent's server, and is killed
	}
	dir, err := os.MkdirTemp("", "natsstore-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	shared, err = startServer(&server.Options{StoreDir: dir})
	if err != nil {
		panic(err)
	}
	code := r.m.Run()
	shared.Shutdown()
	shared.WaitForShutdown()
	return code
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(mainRunner{m})
}

// startServer starts an in-process NATS server with JetStream from o (a
// random client port unless o sets one) and waits until it accepts
// connections.
func startServer(o *server.Options) (*server.Server, error) {
	o.JetStream = true
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = -1
	}
	o.NoLog, o.NoSigs = true, true
	s, err := server.NewServer(o)
	if err != nil {
		return nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server not ready")
	}
	return s, nil
}

var prefixSeq atomic.Int64

// freshPrefix returns a prefix no other test uses and removes its streams
// and buckets from url's server when the test ends.
func freshPrefix(tb testing.TB, url string) string {
	tb.Helper()
	p := fmt.Sprintf("T%d", prefixSeq.Add(1))
	tb.Cleanup(func() { dropPrefix(tb, url, p) })
	return p
}

func dropPrefix(tb testing.TB, url, prefix string) {
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Logf("drop %s: %v", prefix, err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, cr, raw := natsstore.Names(prefix)
	_ = js.DeleteKeyValue(ctx, ev)
	_ = js.DeleteKeyValue(ctx, cr)
	_ = js.DeleteStream(ctx, raw)
	_ = js.DeleteKeyValue(ctx, natsstore.SourcesBucket(prefix))
}

// MustOpenStore opens a store with o and closes it when the test ends
// (registered after freshPrefix, so it closes before the prefix goes).
func MustOpenStore(tb testing.TB, o natsstore.Options) *natsstore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := natsstore.Open(ctx, o)
	if err != nil {
		tb.Fatalf("natsstore.Open(%s): %v", o.Prefix, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestStore runs the relay.Store contract suite against the NATS backend,
// each leaf test on a fresh prefix of the shared server.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relay.Store {
		url := shared.ClientURL()
		return MustOpenStore(t, natsstore.Options{URLs: url, Prefix: freshPrefix(t, url), Name: "contract"})
	})
}

// TestStore_OrderKey checks what relay.OutboxTarget promises: an order key
// other than the event's subject is refused with EINVALID.
func TestStore_OrderKey(t *testing.T) {
	url := shared.ClientURL()
	s := MustOpenStore(t, natsstore.Options{URLs: url, Prefix: freshPrefix(t, url)})
	ctx := context.Background()
	e := storetest.NewEvent("evt_1", time.Now(), relay.OutboxTarget{Sink: "ap", OrderKey: "trx_other"})
	if _, err := s.Ingest(ctx, e); relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("Ingest with a foreign order key = %v, want EINVALID", err)
	}
	if ok, err := s.Import(ctx, e); ok || relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("Import with a foreign order key = %v, %v; want EINVALID", ok, err)
	}
	e = storetest.NewEvent("evt_2", time.Now())
	if _, err := s.Ingest(ctx, e); err != nil {
		t.Fatal(err)
	}
	_, err := s.Replay(ctx, "evt_2", relay.ReplayRequest{Target: relay.OutboxTarget{Sink: "ap", OrderKey: "trx_other"}, Operator: "ops"}, time.Now())
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("Replay with a foreign order key = %v, want EINVALID", err)
	}
	if _, err := s.Replay(ctx, "evt_2", relay.ReplayRequest{Target: relay.OutboxTarget{Sink: "ap", OrderKey: e.Subject}, Operator: "ops"}, time.Now()); err != nil {
		t.Errorf("Replay ordered by the subject: %v", err)
	}
}
