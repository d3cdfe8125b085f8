package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// interleavedPurges wraps a store so that, while retention runs, an ingest
// is made between two purge chunks: the next chunk may only start once that
// ingest has been acknowledged. A retention pass that held the writer for
// more than one chunk could never let it through.
type interleavedPurges struct {
	relay.Store
	t       *testing.T
	chunk   int
	calls   int
	removed int
	ingests int
}

func (p *interleavedPurges) Purge(ctx context.Context, cutoff time.Time, max int) (relay.PurgeResult, error) {
	p.calls++
	if max > p.chunk {
		p.t.Errorf("purge %d asked for %d events, want at most the chunk (%d)", p.calls, max, p.chunk)
	}
	if p.calls > 1 {
		// The previous chunk committed: a new delivery must get through
		// before the next one starts.
		e := storetest.NewEvent(fmt.Sprintf("evt_between_%03d", p.calls), time.Now())
		done := make(chan error, 1)
		go func() { _, err := p.Store.Ingest(ctx, e); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				p.t.Errorf("ingest between purge chunks: %v", err)
			}
			p.ingests++
		case <-time.After(time.Minute): // a deadlock detector, not a latency bound
			p.t.Fatalf("an ingest made between purge chunks %d and %d was not acknowledged within a minute", p.calls-1, p.calls)
		}
	}
	res, err := p.Store.Purge(ctx, cutoff, max)
	if res.Events > max {
		p.t.Errorf("purge %d removed %d events in one transaction, want at most %d", p.calls, res.Events, max)
	}
	p.removed += res.Events
	return res, err
}

// TestRetention_DoesNotStallIngest fills a store with old finished events,
// then runs retention over them while deliveries keep arriving. Retention
// works in small transactions (Chunk events each) through the same writer
// as ingest, so every chunk is bounded and a delivery is acknowledged
// between any two chunks. (Latencies are logged for information only: a
// loaded machine makes any timing threshold flaky.)
func TestRetention_DoesNotStallIngest(t *testing.T) {
	var mu sync.Mutex
	var longest time.Duration
	s, err := store.Open(filepath.Join(t.TempDir(), "relay.db"), store.Options{OnCommit: func(ops int, d time.Duration, err error) {
		mu.Lock()
		longest = max(longest, d)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	const n, chunk = 3000, 100
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				e := storetest.NewEvent(fmt.Sprintf("evt_old_%05d", i), old.Add(time.Duration(i)*time.Millisecond))
				if _, err := s.Ingest(ctx, e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	longest = 0
	mu.Unlock()

	p := &interleavedPurges{Store: s, t: t, chunk: chunk}
	r := &relay.Retention{Store: p, MaxAge: 30 * 24 * time.Hour, Chunk: chunk}
	removed := r.RunOnce(ctx)
	mu.Lock()
	t.Logf("retention removed %d events in %d purges, %d deliveries acknowledged between chunks; longest commit %v", removed, p.calls, p.ingests, longest)
	mu.Unlock()
	if removed != n || p.removed != n {
		t.Fatalf("retention removed %d (store says %d), want %d", removed, p.removed, n)
	}
	if want := n / chunk; p.calls < want {
		t.Errorf("retention used %d purge transactions for %d events, want at least %d (chunks of %d)", p.calls, n, want, chunk)
	}
	if p.ingests < n/chunk-1 {
		t.Errorf("%d deliveries acknowledged between chunks, want %d", p.ingests, n/chunk-1)
	}
	// The deliveries made during retention are new: retention kept them.
	for i := 2; i <= p.calls; i++ {
		if _, err := s.GetEvent(ctx, fmt.Sprintf("evt_between_%03d", i)); err != nil {
			t.Errorf("evt_between_%03d after retention: %v", i, err)
		}
	}
}
