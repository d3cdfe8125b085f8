package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// ListDeadLetters lists dead and needs-review deliveries, newest first.
func (s *Store) ListDeadLetters(ctx context.Context, f relay.DeadLetterFilter) (relay.DeadLetterPage, error) {
	page := relay.DeadLetterPage{DeadLetters: []relay.DeadLetter{}}
	limit := relay.ClampLimit(f.Limit)
	after, err := decodeCursor(f.Cursor)
	if err != nil {
		return page, err
	}
	err = s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktDead).Cursor()
		k := lastBefore(c, after)
		var last []byte
		for ; k != nil; k, _ = c.Prev() {
			at := int64(binary.BigEndian.Uint64(k[:8]))
			if !f.Since.IsZero() && at < f.Since.UnixNano() {
				break
			}
			sink, id, ok := bytes.Cut(k[8:], []byte{0})
			if !ok || (f.Sink != "" && string(sink) != f.Sink) || (f.Source != "" && sinkSource(string(sink)) != f.Source) {
				continue
			}
			dl, ok, err := deadLetter(tx, string(id), string(sink), at)
			if err != nil {
				return err
			}
			if !ok || (f.State != "" && dl.State != f.State) || (f.Type != "" && !relay.MatchGlob(f.Type, dl.Type)) {
				continue
			}
			if len(page.DeadLetters) == limit {
				page.NextCursor = encodeCursor(last)
				return nil
			}
			last = append(last[:0], k...)
			page.DeadLetters = append(page.DeadLetters, dl)
		}
		return nil
	})
	return page, err
}

func deadLetter(tx *bolt.Tx, id, sink string, at int64) (relay.DeadLetter, bool, error) {
	r, err := getDelivery(tx, id, sink)
	if err != nil || r == nil {
		return relay.DeadLetter{}, false, err
	}
	m, err := getMeta(tx, id)
	if err != nil || m == nil {
		return relay.DeadLetter{}, false, err
	}
	reason := r.Reason
	if reason == "" {
		reason = r.LastError
	}
	return relay.DeadLetter{
		EventID: id, Sink: sink, Source: sinkSource(sink), State: r.State, Type: m.Type, Subject: m.Subject, Attempts: r.Attempts,
		Reason: reason, LastStatus: r.LastStatus, DeadAt: time.Unix(0, at).UTC(),
	}, true, nil
}

// sinkSource is the relay source of a sink (relay.SinkSource).
func sinkSource(sink string) string {
	src, _ := relay.SinkSource(sink)
	return src
}

// redriveChunk bounds the deliveries one redrive transaction moves, so a
// large redrive never holds the writer for long.
const redriveChunk = 256

// Redrive moves the selected dead deliveries back to pending, in small
// transactions. needs_review deliveries are never redriven.
func (s *Store) Redrive(ctx context.Context, r relay.Redrive, now time.Time) (int, error) {
	if r.Empty() {
		return 0, relay.Errorf(relay.EINVALID, "redrive: give ids, a sink, a type or all")
	}
	type target struct{ id, sink string }
	var targets []target
	err := s.view(func(tx *bolt.Tx) error {
		if len(r.IDs) > 0 {
			for _, id := range r.IDs {
				recs, err := deliveriesOf(tx, id)
				if err != nil {
					return err
				}
				for _, d := range recs {
					if d.State == relay.StateDead && (r.Sink == "" || d.Sink == r.Sink) {
						targets = append(targets, target{id, d.Sink})
					}
				}
			}
			return nil
		}
		c := tx.Bucket(bktDead).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			sink, id, ok := bytes.Cut(k[8:], []byte{0})
			if !ok || (r.Sink != "" && string(sink) != r.Sink) {
				continue
			}
			if r.Type != "" {
				m, err := getMeta(tx, string(id))
				if err != nil {
					return err
				}
				if m == nil || !relay.MatchGlob(r.Type, m.Type) {
					continue
				}
			}
			targets = append(targets, target{string(id), string(sink)})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for start := 0; start < len(targets); start += redriveChunk {
		chunk := targets[start:min(start+redriveChunk, len(targets))]
		moved := 0
		err := s.update(ctx, func(tx *bolt.Tx) error {
			moved = 0
			for _, t := range chunk {
				d, err := getDelivery(tx, t.id, t.sink)
				if err != nil {
					return err
				}
				if d == nil || d.State != relay.StateDead {
					continue
				}
				sb, err := sinkBucket(tx, t.sink)
				if err != nil {
					return err
				}
				if err := reopen(tx, sb, t.id, d, now); err != nil {
					return err
				}
				if err := addOperation(tx, t.id, relay.HistoryEntry{At: now.UTC(), Operator: r.Operator, Action: "redrive", Sink: t.sink}); err != nil {
					return err
				}
				moved++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += moved
	}
	return n, nil
}

// lastBefore positions c on the last key before after (a listing's cursor,
// newest first), or on the last key when after is nil; nil when there is
// none.
func lastBefore(c *bolt.Cursor, after []byte) []byte {
	if after == nil {
		k, _ := c.Last()
		return k
	}
	k, _ := c.Seek(after)
	if k == nil {
		k, _ = c.Last()
	}
	for k != nil && bytes.Compare(k, after) >= 0 {
		k, _ = c.Prev()
	}
	return k
}
