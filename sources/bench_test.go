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
	"slices"
	"strconv"
	"sync"
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

// ingestTarget is one relay the ingest benchmark posts to: a store, its
// sources and the public handler, serving source name.
type ingestTarget struct {
	url string
	key []byte
}

// startIngestTarget serves a relay holding n sources (compacted file, as a
// relay's file is after its history: the seeding's n commits would leave a
// freelist that every ingest commit writes again — the file's history, not
// a cost of sources) and returns where to post to its last source.
func startIngestTarget(b *testing.B, n int) ingestTarget {
	b.Helper()
	dir := b.TempDir()
	seeded := filepath.Join(dir, "seeded.db")
	seedSources(b, seeded, n)
	path := filepath.Join(dir, "relay.db")
	if err := store.Compact(path, seeded); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	disp := relay.NewDispatcher(st, nil, relay.DispatcherOptions{})
	mgr := sources.New(st, testKeyB(b), sources.Options{Events: st, Dispatcher: disp, Notify: disp.Notify,
		CloudEventsSource: "tagihanai", Tolerance: 5 * time.Minute, Deps: sinks.Deps{HTTP: http.DefaultClient, Stdout: io.Discard}})
	if err := mgr.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	// The dispatcher is not started: this measures intake, not the sinks
	// (whose destination does not exist).
	b.Cleanup(mgr.Close)
	m := metrics.New(prometheus.NewRegistry(), func(context.Context) (relay.Stats, error) { return relay.Stats{}, nil })
	h := httpapi.PublicHandler(httpapi.Ingest{Sources: mgr.Intake, Metrics: m, Log: slog.New(slog.DiscardHandler),
		MaxBody: 1 << 20, Now: time.Now, Verifier: signature.NewVerifier(nil, time.Minute), Receiver: &relay.Receiver{Store: st}}, func() bool { return true })
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	key, _ := signature.DecodeSecret(fmt.Sprintf("whsec_c2VjcmV0LSVk%05d", n-1), "raw")
	return ingestTarget{url: srv.URL + "/webhooks/tagihanai/" + fmt.Sprintf("ws-%05d", n-1), key: key}
}

// post sends bodies to the target from 32 goroutines and returns the rate.
func (tg ingestTarget) post(b *testing.B, client *http.Client, bodies [][]byte) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(bodies)) {
					return
				}
				bd := bodies[i]
				ts := strconv.FormatInt(time.Now().Unix(), 10)
				req, _ := http.NewRequest(http.MethodPost, tg.url, bytes.NewReader(bd))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(relay.HeaderSignature, signature.SignatureHeader(tg.key, ts, bd))
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
		}()
	}
	wg.Wait()
	return float64(len(bodies)) / time.Since(began).Seconds()
}

// BenchmarkIngestOneOfManySources: signed deliveries over HTTP (32
// parallel clients, fsync on) into one source of a relay serving 1 and one
// serving 10,000 sources, in alternating rounds of b.N requests each, so
// both see the same machine (SPEC 6: ingest into one of 10,000 runs at the
// single-source rate). It reports both medians and ratio = 10,000 / 1:
//
//	go test -run '^$' -bench IngestOneOfManySources -benchtime 3000x ./sources/
func BenchmarkIngestOneOfManySources(b *testing.B) {
	one, many := startIngestTarget(b, 1), startIngestTarget(b, 10_000)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	const rounds = 5
	var rOne, rMany []float64
	b.ResetTimer()
	for r := range rounds {
		for _, t := range []struct {
			tg   ingestTarget
			into *[]float64
		}{{one, &rOne}, {many, &rMany}} {
			bodies := make([][]byte, b.N)
			for i := range bodies {
				bodies[i] = body(b, fmt.Sprintf("evt_bench_%d_%d", r, i), fmt.Sprintf("trx_bench_%d_%d", r, i))
			}
			*t.into = append(*t.into, t.tg.post(b, client, bodies))
		}
	}
	slices.Sort(rOne)
	slices.Sort(rMany)
	b.ReportMetric(rOne[rounds/2], "req/s-1-source")
	b.ReportMetric(rMany[rounds/2], "req/s-10k-sources")
	b.ReportMetric(rMany[rounds/2]/rOne[rounds/2], "ratio")
}
