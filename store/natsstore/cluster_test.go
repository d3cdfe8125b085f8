package natsstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
)

// startCluster starts an n-node in-process JetStream cluster and shuts it
// down when the test ends.
func startCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		s, err := startServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "relay", Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = s
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
	}
	return servers
}

// TestCluster runs three replicas against a 3-node JetStream cluster with
// every stream and bucket on three replicas, and shuts a node down while
// events are ingested and delivered: every event reaches both sinks.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node cluster: skipped with -short")
	}
	start := time.Now()
	servers := startCluster(t, 3)
	all := make([]string, len(servers))
	for i, s := range servers {
		all[i] = s.ClientURL()
	}
	const prefix = "CLUSTER"
	stores := make([]*natsstore.Store, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range stores {
		// Replica i prefers node i; the list lets it fail over.
		urls := append([]string{all[i]}, append(append([]string{}, all[:i]...), all[i+1:]...)...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stores[i], errs[i] = natsstore.Open(ctx, natsstore.Options{
				URLs: strings.Join(urls, ","), Prefix: prefix, Replicas: 3, Name: fmt.Sprintf("relay-%d", i),
				AckWait: func(string) time.Duration { return 2 * time.Second }, Logger: testLogger(t),
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open replica %d on the cluster: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	t.Logf("cluster formed and provisioned in %v", time.Since(start).Round(time.Millisecond))

	sink := newCountingSink()
	for _, st := range stores {
		startRelay(t, st, sink, time.Second)
	}
	ctx := context.Background()
	const n = 150
	ingest := func(i int) {
		e := event(fmt.Sprintf("evt_%03d", i), time.Now(), fmt.Sprintf("trx_%d", i%10))
		// Like TagihanAI: retry on failure (503) until accepted or duplicate.
		deadline := time.Now().Add(20 * time.Second)
		for {
			st := stores[i%3]
			if i%3 == 2 && killed() {
				st = stores[i%2]
			}
			_, err := st.Ingest(ctx, e)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("Ingest(%s): %v", e.ID, err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for i := range n / 2 {
		ingest(i)
	}
	killStart := time.Now()
	servers[2].Shutdown()
	markKilled()
	for i := n / 2; i < n; i++ {
		ingest(i)
	}
	t.Logf("node n3 down; second half ingested in %v", time.Since(killStart).Round(time.Millisecond))
	waitFor(t, 25*time.Second, "every event at both sinks", func() bool {
		total, _ := sink.count()
		return total == 2*n
	})
	_, dup := sink.count()
	t.Logf("all %d deliveries done %v after start; %d delivered more than once (at-least-once across the node loss)",
		2*n, time.Since(start).Round(time.Millisecond), len(dup))
	waitFor(t, 10*time.Second, "stats to show every event delivered", func() bool {
		st, err := stores[0].Stats(ctx, time.Now())
		return err == nil && st.Events[relay.StatusDelivered] == n
	})
}

var killedFlag sync.Map

func killed() bool { _, ok := killedFlag.Load("n3"); return ok }
func markKilled()  { killedFlag.Store("n3", true) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
