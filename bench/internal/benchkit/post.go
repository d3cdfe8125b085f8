package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// PostOptions say what Post sends.
type PostOptions struct {
	Prefix     string // event id prefix
	N          int    // deliveries 0..N-1
	PerSubject int    // events per invoice (subject); < 1 means 1
	Workers    int    // concurrent senders (default 32)
	Progress   func(done int)
}

// Post sends N signed deliveries (Body, signed at send time) to the public
// listener from Workers keep-alive connections, like TagihanAI would, and
// returns the count of each status code (0: transport error). It fails
// unless every answer is 200.
func Post(ctx context.Context, public string, o PostOptions) (map[int]int, error) {
	if o.Workers <= 0 {
		o.Workers = 32
	}
	tr := &http.Transport{MaxIdleConnsPerHost: o.Workers, MaxConnsPerHost: o.Workers}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var next, done atomic.Int64
	var mu sync.Mutex
	status := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[int]int{}
			defer func() {
				mu.Lock()
				for k, v := range local {
					status[k] += v
				}
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.N {
					return
				}
				local[PostSigned(ctx, hc, public, Body(o.Prefix, i, o.PerSubject))]++
				if n := done.Add(1); o.Progress != nil && n%100000 == 0 {
					o.Progress(int(n))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return status, err
	}
	if status[http.StatusOK] != o.N {
		return status, fmt.Errorf("ingest: answers %v, want %d × 200", status, o.N)
	}
	return status, nil
}

// PostSigned posts one delivery signed now; it returns the status code (0
// on a transport error).
func PostSigned(ctx context.Context, hc *http.Client, public string, body []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, public+"/webhooks/tagihanai", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(relay.HeaderSignature, SignHeader(body, time.Now()))
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
