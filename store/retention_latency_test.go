package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// TestRetention_DoesNotStallIngest fills a store with old finished events,
// then measures ingest latency with and without a retention pass running.
// Retention works in small transactions, so no commit holds the writer
// for long and ingest keeps its latency while thousands of events go.
func TestRetention_DoesNotStallIngest(t *testing.T) {
	var maxCommit atomic.Int64
	s, err := store.Open(filepath.Join(t.TempDir(), "relay.db"), store.Options{OnCommit: func(ops int, d time.Duration, err error) {
		for {
			cur := maxCommit.Load()
			if int64(d) <= cur || maxCommit.CompareAndSwap(cur, int64(d)) {
				return
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	const n = 10000
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				e := storetest.NewEvent(fmt.Sprintf("evt_old_%05d", i), old.Add(time.Duration(i)*time.Millisecond))
				if _, err := s.Ingest(ctx, e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	measure := func(prefix string, during func()) time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		done := make(chan struct{})
		if during != nil {
			go func() { during(); close(done) }()
		} else {
			close(done)
		}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					e := storetest.NewEvent(fmt.Sprintf("%s_%d_%d", prefix, w, i), time.Now())
					start := time.Now()
					if _, err := s.Ingest(ctx, e); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					lat = append(lat, time.Since(start))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		<-done
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)*99/100]
	}
	maxCommit.Store(0)
	quiet := measure("evt_quiet", nil)
	quietMax := time.Duration(maxCommit.Load())
	maxCommit.Store(0)
	var removed int
	busy := measure("evt_busy", func() {
		r := &relay.Retention{Store: s, MaxAge: 30 * 24 * time.Hour}
		removed = r.RunOnce(ctx)
	})
	busyMax := time.Duration(maxCommit.Load())
	t.Logf("ingest p99 %v without retention, %v while retention removed %d events; longest commit %v vs %v", quiet, busy, removed, quietMax, busyMax)
	if removed != n {
		t.Fatalf("retention removed %d, want %d", removed, n)
	}
	// Structural bound, not a benchmark: a retention chunk is a small
	// transaction. One transaction purging everything would take seconds.
	if busyMax > 20*quietMax+250*time.Millisecond {
		t.Errorf("a commit took %v during retention (vs %v without): retention holds the writer too long", busyMax, quietMax)
	}
}
