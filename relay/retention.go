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

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start runs the first pass at once and then every Interval.
func (r *Retention) Start(ctx context.Context) {
	if r.Chunk <= 0 {
		r.Chunk = 200
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.Interval)
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
// returns how many events it removed.
func (r *Retention) RunOnce(ctx context.Context) int {
	cutoff := r.Now().Add(-r.MaxAge)
	total := 0
	for ctx.Err() == nil {
		res, err := r.Store.Purge(ctx, cutoff, r.Chunk)
		if err != nil {
			if ctx.Err() == nil {
				r.Log.Error("retention", "error", err)
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
		r.Log.Info("retention removed events", "count", total, "older_than", cutoff.UTC().Format(time.RFC3339))
	}
	return total
}

// Stop stops the loop and waits for it. Idempotent; safe before Start.
func (r *Retention) Stop() {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
		}
		r.wg.Wait()
	})
}
