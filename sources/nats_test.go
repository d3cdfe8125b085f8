package sources_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/sinks"
	"github.com/tagihan-relay/tagihan-relay/sources"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
)

// replica is one relay process over the shared NATS backend.
type replica struct {
	st   *natsstore.Store
	disp *relay.Dispatcher
	mgr  *sources.Manager
}

func startReplica(t *testing.T, url, prefix, name string, key func() (*sealed.Key, error)) *replica {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := natsstore.Open(ctx, natsstore.Options{URLs: url, Prefix: prefix, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	disp := relay.NewDispatcher(st, nil, relay.DispatcherOptions{})
	st.SetNotify(disp.Notify)
	mgr := sources.New(st, key, sources.Options{
		Events: st, Dispatcher: disp, Notify: disp.Notify, CloudEventsSource: "tagihanai",
		Tolerance: 5 * time.Minute, Deps: sinks.Deps{HTTP: http.DefaultClient, Stdout: io.Discard},
	})
	if err := st.WatchSources(ctx, func(source string) {
		if err := mgr.Reload(context.Background(), source); err != nil {
			t.Logf("%s: reload %s: %v", name, source, err)
		}
	}, func() { _ = mgr.Resync(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := disp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		disp.Stop()
		mgr.Close()
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &replica{st: st, disp: disp, mgr: mgr}
}

// TestSources_EveryReplica: a change made through one replica applies on
// the other without a restart — created, rotated, disabled, deleted —
// and an event ingested on either reaches the source's sink once.
func TestSources_EveryReplica(t *testing.T) {
	dir := t.TempDir()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	key := testKey(t, 3)
	a := startReplica(t, ns.ClientURL(), "SRC", "replica-a", key)
	b := startReplica(t, ns.ClientURL(), "SRC", "replica-b", key)
	tg := newTarget(t)
	ctx := context.Background()
	within := func(what string, cond func() bool) {
		t.Helper()
		testkit.Eventually(t, 10*time.Second, what, cond)
	}

	apply(t, a.mgr, spec("acme", tg.URL, acmeSecret), relay.ApplyCreated)
	within("replica b to serve the source created on a", func() bool { return b.mgr.Intake("acme") != nil })
	for i, r := range []*replica{a, b} {
		if code, rc := deliver(t, r.mgr, "acme", acmeSecret, body(t, fmt.Sprintf("evt_rep_%d", i), fmt.Sprintf("trx_rep_%d", i))); code != http.StatusOK || rc.Status != relay.IngestAccepted {
			t.Fatalf("replica %d: %d %+v", i, code, rc)
		}
	}
	waitDelivered(t, tg, 2)

	if _, err := a.mgr.AddSourceSecret(ctx, "acme", acmeSecret2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.mgr.RemoveSourceSecret(ctx, "acme", sealed.Fingerprint(acmeSecret)); err != nil {
		t.Fatal(err)
	}
	within("replica b to refuse the removed secret", func() bool {
		code, _ := deliver(t, b.mgr, "acme", acmeSecret, body(t, "evt_rep_old", "trx_rep_old"))
		return code == http.StatusUnauthorized
	})
	if code, _ := deliver(t, b.mgr, "acme", acmeSecret2, body(t, "evt_rep_new", "trx_rep_new")); code != http.StatusOK {
		t.Fatalf("replica b, the new secret: %d", code)
	}

	if _, err := b.mgr.SetSourceEnabled(ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	within("replica a to stop intake of the source disabled on b", func() bool { return a.mgr.Intake("acme") == nil })
	if err := a.mgr.DeleteSource(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	within("both replicas to list nothing", func() bool {
		la, _ := a.mgr.ListSources(ctx)
		lb, _ := b.mgr.ListSources(ctx)
		return len(la) == 0 && len(lb) == 0
	})
	waitDelivered(t, tg, 3)
	got := map[string]int{}
	for _, id := range tg.got() {
		got[id]++
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("%s delivered %d times, want once", id, n)
		}
	}
}
