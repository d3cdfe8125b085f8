package natsstore

import (
	"context"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// ListDeadLetters lists dead and needs-review deliveries, newest first,
// from this replica's index after it caught up.
func (s *Store) ListDeadLetters(ctx context.Context, f relay.DeadLetterFilter) (relay.DeadLetterPage, error) {
	page := relay.DeadLetterPage{DeadLetters: []relay.DeadLetter{}}
	limit := relay.ClampLimit(f.Limit)
	after, err := decodeCursor(f.Cursor, 2)
	if err != nil {
		return page, err
	}
	if err := s.sync(ctx); err != nil {
		return page, err
	}
	var sinceN int64
	if !f.Since.IsZero() {
		sinceN = f.Since.UnixNano()
	}
	var last ikey
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	s.view.dead.Descend(after, func(k ikey) bool {
		if sinceN != 0 && k.at < sinceN {
			return false
		}
		if f.Sink != "" && k.s1 != f.Sink {
			return true
		}
		source, _ := relay.SinkSource(k.s1)
		if f.Source != "" && source != f.Source {
			return true
		}
		d := s.view.del(k.s2, k.s1)
		if d == nil || (f.State != "" && d.state != f.State) || (f.Type != "" && !relay.MatchGlob(f.Type, d.ev.typ)) {
			return true
		}
		if len(page.DeadLetters) == limit {
			page.NextCursor = encodeCursor(last.at, last.s1, last.s2)
			return false
		}
		last = k
		page.DeadLetters = append(page.DeadLetters, relay.DeadLetter{
			EventID: d.ev.id, Sink: d.sink, Source: source, State: d.state, Type: d.ev.typ, Subject: d.ev.subject, Attempts: d.attempts,
			Reason: d.reason, LastStatus: d.lastStatus, DeadAt: fromNanos(d.deadAt),
		})
		return true
	})
	return page, nil
}

// Redrive moves the selected dead deliveries back to pending with a fresh
// schedule (event id and history kept), each with its own compare-and-set:
// a delivery redriven on two replicas at once moves once. needs_review
// deliveries are never redriven.
func (s *Store) Redrive(ctx context.Context, r relay.Redrive, now time.Time) (int, error) {
	if r.Empty() {
		return 0, relay.Errorf(relay.EINVALID, "redrive: give ids, a sink, a type or all")
	}
	if err := s.sync(ctx); err != nil {
		return 0, err
	}
	type target struct{ id, sink string }
	var targets []target
	s.view.mu.RLock()
	if len(r.IDs) > 0 {
		for _, id := range r.IDs {
			ev := s.view.events[id]
			if ev == nil {
				continue
			}
			for _, d := range ev.dels {
				if d.state == relay.StateDead && (r.Sink == "" || d.sink == r.Sink) {
					targets = append(targets, target{id, d.sink})
				}
			}
		}
	} else {
		s.view.dead.Ascend(nil, func(k ikey) bool {
			if r.Sink != "" && k.s1 != r.Sink {
				return true
			}
			d := s.view.del(k.s2, k.s1)
			if d == nil || d.state != relay.StateDead || (r.Type != "" && !relay.MatchGlob(r.Type, d.ev.typ)) {
				return true
			}
			targets = append(targets, target{k.s2, k.s1})
			return true
		})
	}
	s.view.mu.RUnlock()
	moved := make([]bool, len(targets))
	errs := make([]error, len(targets))
	parallel(len(targets), 16, func(i int) {
		t := targets[i]
		rev, err := s.mutate(ctx, t.id, 0, func(rec *record) error {
			d := rec.delivery(t.sink)
			if d == nil {
				return errNoChange
			}
			ch, ok := d.Redrive(now)
			if !ok {
				return errNoChange
			}
			d.apply(ch)
			rec.addOp(relay.HistoryEntry{At: now.UTC(), Operator: r.Operator, Action: "redrive", Sink: t.sink})
			return nil
		})
		if relay.ErrorCode(err) == relay.ENOTFOUND {
			err = nil
		}
		moved[i], errs[i] = rev != 0, err
	})
	n := 0
	var firstErr error
	for i := range targets {
		if moved[i] {
			n++
		}
		if errs[i] != nil && firstErr == nil {
			firstErr = errs[i]
		}
	}
	return n, firstErr
}
