package benchkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ImportOptions say what Import sends.
type ImportOptions struct {
	Prefix     string // event id prefix
	N          int    // events
	PerSubject int    // events per invoice (subject); < 1 means 1
	Route      bool   // POST /v1/import?route=true: create outbox entries for the configured sinks
	Workers    int    // concurrent requests (default 64)
	Batch      int    // lines per request (default 250)
	// ReceivedAt is the receive time of event 0; event i is i µs later
	// (default: N µs before now, so the newest is about now).
	ReceivedAt time.Time
	Progress   func(done int)
}

// ImportResult is what Import did.
type ImportResult struct {
	Imported, Skipped int
	Elapsed           time.Duration
}

// Import fills a running service through its admin API: N generated
// deliveries in the export format, POSTed to /v1/import in batches from
// Workers concurrent requests, so the service's own code (the same as
// `tagihan-relay import`) writes them and its group commit batches the
// concurrent requests. Building fixtures through the binary keeps the
// database format the binary's own, whatever the store package looks like
// when the bench program was compiled.
func Import(ctx context.Context, admin string, o ImportOptions) (ImportResult, error) {
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.Batch <= 0 {
		o.Batch = 250
	}
	if o.ReceivedAt.IsZero() {
		o.ReceivedAt = time.Now().Add(-time.Duration(o.N) * time.Microsecond)
	}
	url := admin + "/v1/import"
	if o.Route {
		url += "?route=true"
	}
	hc := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: o.Workers}}
	start := time.Now()
	var next, imported, skipped atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, o.Workers)
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for ctx.Err() == nil {
				from := int(next.Add(int64(o.Batch)) - int64(o.Batch))
				if from >= o.N {
					return
				}
				buf.Reset()
				for i := from; i < min(from+o.Batch, o.N); i++ {
					buf.Write(ExportLine(o.Prefix, i, o.PerSubject, o.ReceivedAt.Add(time.Duration(i)*time.Microsecond)))
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(buf.Bytes()))
				if err != nil {
					errc <- err
					return
				}
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := hc.Do(req)
				if err != nil {
					errc <- fmt.Errorf("POST %s: %w", url, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var r struct{ Imported, Skipped int }
				if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &r) != nil {
					errc <- fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, body)
					return
				}
				skipped.Add(int64(r.Skipped))
				before := imported.Load()
				n := imported.Add(int64(r.Imported))
				if o.Progress != nil && n/100000 != before/100000 {
					o.Progress(int(n))
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	res := ImportResult{Imported: int(imported.Load()), Skipped: int(skipped.Load()), Elapsed: time.Since(start)}
	if err := <-errc; err != nil {
		return res, err
	}
	return res, ctx.Err()
}
