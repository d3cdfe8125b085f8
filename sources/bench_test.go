package sources_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sinks"
	"github.com/tagihan-relay/tagihan-relay/sources"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// seedSources stores n sources (one http sink each) sealed under key, as
// `sources apply` would, in one file.
func seedSources(b *testing.B, path string, n int) {
	b.Helper()
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	k, _ := testKeyB(b)()
	now := time.Now().UTC()
	for i := range n {
		name := fmt.Sprintf("ws-%05d", i)
		sp := spec(name, "http://127.0.0.1:9/hook", fmt.Sprintf("whsec_c2VjcmV0LSVk%05d", i))
		src, err := sp.Source(now)
		if err != nil {
			b.Fatal(err)
		}
		src.CreatedAt, src.UpdatedAt = now, now
		ss, err := relay.SealSource(k, src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.PutSource(context.Background(), ss); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStart10kSources: from opening the store to serving 10,000
// sources (each sink's loop started, in-flight entries resumed), as serve
// starts. SPEC 6: start-up stays under 2 s. It reports start-s, the time
// of that alone (stopping is not counted).
func BenchmarkStart10kSources(b *testing.B) {
	path := filepath.Join(b.TempDir(), "relay.db")
	seedSources(b, path, 10_000)
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		began := time.Now()
		st, err := store.Open(path, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		disp := relay.NewDispatcher(st, nil, relay.DispatcherOptions{})
		mgr := sources.New(st, testKeyB(b), sources.Options{Events: st, Dispatcher: disp, Notify: disp.Notify,
			CloudEventsSource: "tagihanai", Tolerance: 5 * time.Minute, Deps: sinks.Deps{HTTP: http.DefaultClient, Stdout: io.Discard}})
		if err := mgr.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
		if err := disp.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		if mgr.Intake("ws-09999") == nil {
			b.Fatal("the last source is not served")
		}
		total += time.Since(began)
		disp.Stop()
		mgr.Close()
		st.Close()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "start-s")
}

// BenchmarkIngestOneOfManySources: signed deliveries over HTTP into one
// source of a relay serving 1 and 10,000 sources, in the same run (SPEC 6:
// ingest into one of 10,000 runs at the single-source rate). Compare the
// two sub-benchmarks' req/s:
//
//	go test -run '^$' -bench IngestOneOfManySources -benchtime 3000x ./sources/
func BenchmarkIngestOneOfManySources(b *testing.B) {
	for _, n := range []int{1, 10_000} {
		b.Run(fmt.Sprintf("sources=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "relay.db")
			seedSources(b, path, n)
			st, err := store.Open(path, store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			disp := relay.NewDispatcher(st, nil, relay.DispatcherOptions{})
			mgr := sources.New(st, testKeyB(b), sources.Options{Events: st, Dispatcher: disp, Notify: disp.Notify,
				CloudEventsSource: "tagihanai", Tolerance: 5 * time.Minute, Deps: sinks.Deps{HTTP: http.DefaultClient, Stdout: io.Discard}})
			if err := mgr.Load(context.Background()); err != nil {
				b.Fatal(err)
			}
			// The dispatcher is not started: this measures intake, not the
			// sinks (whose destination does not exist).
			defer mgr.Close()
			name := fmt.Sprintf("ws-%05d", n-1)
			m := metrics.New(prometheus.NewRegistry(), func(context.Context) (relay.Stats, error) { return relay.Stats{}, nil })
			h := httpapi.PublicHandler(httpapi.Ingest{Sources: mgr.Intake, Metrics: m, Log: slog.New(slog.DiscardHandler),
				MaxBody: 1 << 20, Now: time.Now, Verifier: signature.NewVerifier(nil, time.Minute), Receiver: &relay.Receiver{Store: st}}, func() bool { return true })
			srv := httptest.NewServer(h)
			defer srv.Close()
			key, _ := signature.DecodeSecret(fmt.Sprintf("whsec_c2VjcmV0LSVk%05d", n-1), "raw")
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = body(b, fmt.Sprintf("evt_bench_%d", i), fmt.Sprintf("trx_bench_%d", i))
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var next atomic.Int64
			url := srv.URL + "/webhooks/tagihanai/" + name
			b.SetParallelism(32)
			began := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bd := bodies[next.Add(1)-1]
					ts := strconv.FormatInt(time.Now().Unix(), 10)
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bd))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set(relay.HeaderSignature, signature.SignatureHeader(key, ts, bd))
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "req/s")
		})
	}
}
