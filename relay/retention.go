package relay

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Retention removes finished events older than MaxAge every Interval, in
// small transactions (Chunk events each) so it never holds the store's
// writer for long. Undelivered, dead and needs-review events are kept.
type Retention struct {
	Store     Store
	MaxAge    time.Duration
	Interval  time.Duration
	Chunk     int
	Log       *slog.Logger
	OnRemoved func(n int)
	Now       func() time.Time

	mu      sync.Mutex
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// Start runs the first pass at once and then every Interval. It does
// nothing when already started or stopped.
func (r *Retention) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.cancel != nil {
		return
	}
	interval := r.Interval
	if interval <= 0 {
		interval = 10 * time.Minute // RELAY_RETENTION_INTERVAL's default; NewTicker panics on <= 0
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			r.RunOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// RunOnce purges until nothing older than MaxAge can be removed, and
// returns how many events it removed. Unset fields take their defaults
// here, so RunOnce works without Start and never writes r.
func (r *Retention) RunOnce(ctx context.Context) int {
	now, log, chunk := r.Now, r.Log, r.Chunk
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if chunk <= 0 {
		chunk = 100
	}
	cutoff := now().Add(-r.MaxAge)
	total := 0
	for ctx.Err() == nil {
		res, err := r.Store.Purge(ctx, cutoff, chunk)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("retention", "error", err)
			}
			break
		}
		total += res.Events
		if res.Events > 0 && r.OnRemoved != nil {
			r.OnRemoved(res.Events)
		}
		if res.Done {
			break
		}
	}
	if total > 0 {
		log.Info("retention removed events", "count", total, "older_than", cutoff.UTC().Format(time.RFC3339))
	}
	return total
}

// Stop stops the loop and waits for it. Idempotent; safe before Start.
func (r *Retention) Stop() {
	r.once.Do(func() {
		r.mu.Lock()
		r.stopped = true
		cancel := r.cancel
		r.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		r.wg.Wait()
	})
}
