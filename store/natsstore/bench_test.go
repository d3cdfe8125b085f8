package natsstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
)

// The figures in docs/SCALING.md come from:
//
//	go test -run '^$' -bench . -benchtime 5000x ./store/natsstore/
//
// Each benchmark starts its own in-process server (file storage in a
// temporary directory), with JetStream's default sync interval or with
// sync_interval: always (an fsync per write, bbolt's guarantee on one node).

func benchServer(b *testing.B, syncAlways bool) string {
	b.Helper()
	srv, err := startServer(&server.Options{StoreDir: b.TempDir(), SyncAlways: syncAlways})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv.ClientURL()
}

func benchReplicas(b *testing.B, url string, n int) []*natsstore.Store {
	b.Helper()
	return openReplicas(b, url, freshPrefix(b, url), n)
}

func openReplicas(b *testing.B, url, prefix string, n int) []*natsstore.Store {
	b.Helper()
	out := make([]*natsstore.Store, n)
	for i := range out {
		out[i] = MustOpenStore(b, natsstore.Options{URLs: url, Prefix: prefix, Name: fmt.Sprint("bench-", i)})
	}
	return out
}

// BenchmarkIngest measures new events stored per second by one or two
// replicas (Store instances) ingesting from 32 goroutines in all, each
// event a realistic 700-byte delivery routed to two sinks.
func BenchmarkIngest(b *testing.B) {
	for _, syncAlways := range []bool{false, true} {
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("replicas=%d/sync_always=%v", n, syncAlways), func(b *testing.B) {
				url := benchServer(b, syncAlways)
				prefix := freshPrefix(b, url)
				rs := openReplicas(b, url, prefix, n)
				events := make([]*relay.NewEvent, b.N)
				t0 := time.Now()
				for i := range events {
					events[i] = event(fmt.Sprintf("evt_%08d", i), t0.Add(time.Duration(i)), fmt.Sprintf("trx_%d", i%1000))
				}
				var next atomic.Int64
				ctx := context.Background()
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for w := range 32 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						st := rs[w%n]
						for {
							i := int(next.Add(1)) - 1
							if i >= len(events) {
								return
							}
							if s, err := st.Ingest(ctx, events[i]); err != nil || s != relay.IngestAccepted {
								b.Errorf("Ingest: %v %v", s, err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
				reportSizes(b, url, prefix)
			})
		}
	}
}

// BenchmarkDeliver measures deliveries per second through the real
// dispatcher (one claimer and 8 workers per sink per replica, two sinks, one
// of them ordered by subject) to a sink that answers at once, so the store
// is the only cost; the events are ingested before the timer starts.
func BenchmarkDeliver(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			rs := benchReplicas(b, benchServer(b, false), n)
			ctx := context.Background()
			t0 := time.Now().Add(-time.Hour)
			events := (b.N + 1) / 2 // two deliveries each
			var wg sync.WaitGroup
			var next atomic.Int64
			for w := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= events {
							return
						}
						e := event(fmt.Sprintf("evt_%08d", i), t0.Add(time.Duration(i)), fmt.Sprintf("trx_%d", i))
						if _, err := rs[w%n].Ingest(ctx, e); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			sink := &instantSink{}
			total := int64(2 * events)
			b.ResetTimer()
			start := time.Now()
			for _, st := range rs {
				specs := []*relay.SinkSpec{
					{Name: "erp", Kind: "http", Sink: sink, Concurrency: 8, Timeout: 5 * time.Second},
					{Name: "ap", Kind: "http", Sink: sink, Concurrency: 8, Timeout: 5 * time.Second},
				}
				d := relay.NewDispatcher(st, specs, relay.DispatcherOptions{})
				st.SetNotify(d.Notify)
				if err := d.Start(ctx); err != nil {
					b.Fatal(err)
				}
				defer d.Stop()
			}
			for sink.n.Load() < total {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}

type instantSink struct{ n atomic.Int64 }

func (s *instantSink) Deliver(context.Context, *relay.Outbound) relay.Result {
	s.n.Add(1)
	return relay.Delivered(200, nil)
}

// reportSizes reports what one event takes in the events bucket and the raw
// stream (bytes on the stream, before replication).
func reportSizes(b *testing.B, url, prefix string) {
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	ev, _, raw := natsstore.Names(prefix)
	for _, x := range []struct{ stream, unit string }{{"KV_" + ev, "bucketB/event"}, {raw, "rawB/event"}} {
		st, err := js.Stream(ctx, x.stream)
		if err != nil {
			b.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.State.Bytes)/float64(b.N), x.unit)
	}
}
