package natsstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

// clusterDeadline bounds each wait on a test cluster (forming, electing
// leaders, redelivering after a node loss). It is a deadline for polls,
// not a measurement: a busy machine (2 cores shared by several test runs)
// may take many seconds for a raft election, so it is generous; a healthy
// run ends each wait far sooner.
const clusterDeadline = 90 * time.Second

// startCluster starts an n-node in-process JetStream cluster, waits until
// every node sees a JetStream meta leader (stores can be provisioned) and
// shuts it down when the test ends.
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
	testkit.Eventually(t, clusterDeadline, "the cluster to elect a JetStream meta leader", func() bool {
		leaders := 0
		for _, s := range servers {
			if !s.JetStreamIsCurrent() {
				return false
			}
			if s.JetStreamIsLeader() {
				leaders++
			}
		}
		return leaders == 1
	})
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
	stores := openClusterReplicas(t, servers, "CLUSTER", 2*time.Second)
	t.Logf("cluster formed and provisioned in %v", time.Since(start).Round(time.Millisecond))

	sink := newCountingSink()
	for _, st := range stores {
		startRelay(t, st, sink, time.Second)
	}
	ctx := context.Background()
	const n = 150
	var killed atomic.Bool // node n3 is down: replica 2 fails over
	ingest := func(i int) {
		e := event(fmt.Sprintf("evt_%03d", i), time.Now(), fmt.Sprintf("trx_%d", i%10))
		// Like TagihanAI: retry on failure (503) until accepted or duplicate.
		deadline := time.Now().Add(clusterDeadline)
		for {
			st := stores[i%3]
			if i%3 == 2 && killed.Load() {
				st = stores[i%2]
			}
			_, err := st.Ingest(ctx, e)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Ingest(%s): %v", e.ID, err)
			}
			time.Sleep(50 * time.Millisecond) // TagihanAI's retry back-off, not a synchronization
		}
	}
	for i := range n / 2 {
		ingest(i)
	}
	killStart := time.Now()
	servers[2].Shutdown()
	killed.Store(true)
	for i := n / 2; i < n; i++ {
		ingest(i)
	}
	t.Logf("node n3 down; second half ingested in %v", time.Since(killStart).Round(time.Millisecond))
	testkit.Eventually(t, clusterDeadline, "every event at both sinks", func() bool {
		total, _ := sink.count()
		return total == 2*n
	})
	_, dup := sink.count()
	t.Logf("all %d deliveries done %v after start; %d delivered more than once (at-least-once across the node loss)",
		2*n, time.Since(start).Round(time.Millisecond), len(dup))
	testkit.Eventually(t, clusterDeadline, "stats to show every event delivered", func() bool {
		st, err := stores[0].Stats(ctx, time.Now())
		return err == nil && st.Events[relay.StatusDelivered] == n
	})
	t.Logf("stats show every event delivered %v after start", time.Since(start).Round(time.Millisecond))
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
