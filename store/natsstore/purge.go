package natsstore

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Purge removes up to max events received before cutoff whose deliveries
// are all finished (delivered or skipped; unrouted and unparsed events
// too): the record (and with it the dedup key) by a purge conditional on
// the revision the index holds, then the raw delivery. Undelivered, dead
// and needs-review events are never removed, nor are create-once records.
// Every replica may run retention: a record changed or removed meanwhile
// is skipped. Successive calls resume where the last one stopped; Done
// reports that the scan reached cutoff.
func (s *Store) Purge(ctx context.Context, cutoff time.Time, max int) (relay.PurgeResult, error) {
	if err := s.check(); err != nil {
		return relay.PurgeResult{}, err
	}
	s.purgeMu.Lock()
	defer s.purgeMu.Unlock()
	if max <= 0 {
		max = 500
	}
	if err := s.waitOwn(ctx); err != nil {
		return relay.PurgeResult{}, err
	}
	type victim struct {
		id  string
		rev uint64
	}
	var res relay.PurgeResult
	var victims []victim
	var resume *ikey
	scanLimit := max * 8
	scanned := 0
	cutN := cutoff.UnixNano()
	res.Done = true
	s.view.mu.RLock()
	s.view.byTime.Ascend(s.purgeResume, func(k ikey) bool {
		if k.at >= cutN {
			return false
		}
		if len(victims) >= max || scanned >= scanLimit {
			kk := k
			resume = &kk
			res.Done = false
			return false
		}
		scanned++
		ev := s.view.events[k.s1]
		if ev == nil {
			return true
		}
		switch ev.status {
		case relay.StatusDelivered, relay.StatusUnrouted, relay.StatusUnparsed:
			victims = append(victims, victim{ev.id, ev.rev})
		}
		return true
	})
	s.view.mu.RUnlock()
	removed := make([]bool, len(victims))
	errs := make([]error, len(victims))
	parallel(len(victims), 8, func(i int) {
		removed[i], errs[i] = s.purgeEvent(ctx, victims[i].id, victims[i].rev)
	})
	for i := range victims {
		if errs[i] != nil {
			return res, errs[i]
		}
		if removed[i] {
			res.Events++
		}
	}
	s.purgeResume = resume
	return res, nil
}

// purgeEvent removes one event if its record is still at rev.
func (s *Store) purgeEvent(ctx context.Context, id string, rev uint64) (bool, error) {
	mu := s.stripe(eventKey(id))
	mu.Lock()
	defer mu.Unlock()
	err := s.events.Purge(ctx, eventKey(id), jetstream.LastRevision(rev), jetstream.PurgeTTL(markerTTL))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return false, nil
	}
	if err != nil {
		return false, unavailable("purge event "+id, err)
	}
	// The record is gone (and with it the dedup key); the raw delivery
	// follows. Should this fail, the orphan copy is replaced when the id
	// is ingested again.
	if err := s.raw.Purge(ctx, jetstream.WithPurgeSubject(s.rawSubject(id))); err != nil {
		return true, unavailable("purge raw delivery "+id, err)
	}
	// The purge marker's revision is not returned; the next sync or the
	// watch brings it into the view. Wait for it here so that this store
	// reads its own purge.
	if err := s.waitGone(ctx, id); err != nil {
		return true, err
	}
	return true, nil
}

// waitGone waits until the view no longer holds id (read your own purge),
// for a few seconds at most (see waitOwn).
func (s *Store) waitGone(ctx context.Context, id string) error {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		s.view.mu.RLock()
		gone, ch := s.view.events[id] == nil, s.view.changed
		s.view.mu.RUnlock()
		if gone {
			return nil
		}
		select {
		case <-ch:
		case <-wctx.Done():
			return s.staleOK(ctx, wctx.Err())
		}
	}
}
