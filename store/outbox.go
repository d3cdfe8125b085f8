package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// ClaimDue marks up to max due entries of sink in_flight and returns them,
// with the due time of the first entry not yet due (zero when none).
func (s *Store) ClaimDue(ctx context.Context, sink string, now time.Time, max int) ([]relay.Claim, time.Time, error) {
	// Nothing due (the common answer of an idle sink's claimer): say when
	// the next is from a read, without a commit of the single writer. An
	// entry made due after the read notifies the sink, which claims again.
	if next, due, err := s.peekDue(sink, now); err != nil || !due {
		return nil, next, err
	}
	var claims []relay.Claim
	var next time.Time
	err := s.update(ctx, func(tx *bolt.Tx) error {
		claims, next = claims[:0], time.Time{}
		sb := tx.Bucket(bktOutbox).Bucket([]byte(sink))
		if sb == nil {
			return nil
		}
		due := sb.Bucket(subDue)
		type item struct{ key, id []byte }
		var items []item
		c := due.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			at := int64(binary.BigEndian.Uint64(k[:8]))
			if at > now.UnixNano() || len(items) >= max {
				if at > now.UnixNano() {
					next = time.Unix(0, at)
				} else {
					next = now
				}
				break
			}
			items = append(items, item{append([]byte(nil), k...), append([]byte(nil), v...)})
		}
		inflight := sb.Bucket(subInflight)
		for _, it := range items {
			id := string(it.id)
			if err := due.Delete(it.key); err != nil {
				return err
			}
			m, err := getMeta(tx, id)
			if err != nil {
				return err
			}
			var r *deliveryRecord
			if m != nil {
				r = m.Deliveries[sink]
			}
			if r == nil || r.State != relay.StatePending || !bytes.Equal(r.DueKey, it.key) || inflight.Get(it.id) != nil {
				continue // stale index entry; the record is the truth
			}
			// In flight is recorded in the sink's inflight bucket only: the
			// event record keeps "pending" (the same status) and is not
			// rewritten, which saves a random page per claim.
			if err := inflight.Put(it.id, nil); err != nil {
				return err
			}
			moveCount(sb, relay.StatePending, relay.StateInFlight)
			cl, err := loadClaim(tx, id, sink, m, r)
			if err != nil {
				return err
			}
			claims = append(claims, cl)
		}
		return nil
	})
	return claims, next, err
}

func loadClaim(tx *bolt.Tx, id, sink string, m *eventMeta, r *deliveryRecord) (relay.Claim, error) {
	headers, body, ce, err := getBody(tx, id, m)
	if err != nil {
		return relay.Claim{}, err
	}
	data, err := relay.EventData(ce, m.DataOffset)
	if err != nil {
		return relay.Claim{}, fmt.Errorf("store: event %s: %w", id, err)
	}
	cl := relay.Claim{
		Outbound: relay.Outbound{
			EventID: id, Sink: sink, Type: m.Type, Subject: m.Subject, Test: m.Test,
			Event: ce, Data: data,
			Delivery:       relay.Delivery{ReceivedAt: time.Unix(0, m.ReceivedAt).UTC(), Headers: headers, Body: body},
			Attempt:        r.Attempts + 1,
			PriorUnknown:   r.PriorUnknown,
			PriorUnknownAt: r.PriorUnknownAt,
		},
		ScheduleAttempt: r.Attempts - r.ScheduleStart + 1,
	}
	if m.Subject != "" {
		cd, err := getCreated(tx, sink, m.Subject)
		if err != nil {
			return relay.Claim{}, err
		}
		cl.Created = cd
	}
	return cl, nil
}

func getCreated(tx *bolt.Tx, sink, subject string) (*relay.CreatedDocument, error) {
	v := tx.Bucket(bktCreated).Get(join([]byte(sink), []byte(subject)))
	if v == nil {
		return nil, nil
	}
	var cd relay.CreatedDocument
	if err := json.Unmarshal(v, &cd); err != nil {
		return nil, fmt.Errorf("store: decode created %s/%s: %w", sink, subject, err)
	}
	return &cd, nil
}

func putCreated(tx *bolt.Tx, cd *relay.CreatedDocument) error {
	buf, err := json.Marshal(cd)
	if err != nil {
		return err
	}
	return tx.Bucket(bktCreated).Put(join([]byte(cd.Sink), []byte(cd.Subject)), buf)
}

func moveCount(sb *bolt.Bucket, from, to string) {
	c := sb.Bucket(subCounts)
	addCount(c, from, -1)
	addCount(c, to, 1)
}

// Finish records an attempt of a claimed entry and moves it to t.State.
func (s *Store) Finish(ctx context.Context, sink, eventID string, a relay.Attempt, t relay.Transition) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		// Decoded once and written once: r is the record inside e, which
		// index never writes (it writes only other events' records).
		e, err := loadEvent(tx, eventID)
		if err != nil {
			return err
		}
		r := e.delivery(sink)
		sb := tx.Bucket(bktOutbox).Bucket([]byte(sink))
		if r == nil || sb == nil || sb.Bucket(subInflight).Get([]byte(eventID)) == nil {
			return relay.Errorf(relay.ECONFLICT, "delivery %s to %s is not in flight", eventID, sink)
		}
		if err := sb.Bucket(subInflight).Delete([]byte(eventID)); err != nil {
			return err
		}
		ch, err := r.Finish(a, t)
		if err != nil {
			return fmt.Errorf("store: %s: %w", eventID, err)
		}
		if err := countAttempt(sb, a); err != nil {
			return err
		}
		if err := index(tx, sb, eventID, r, ch); err != nil {
			return err
		}
		return e.save(tx, eventID)
	})
}

// apply persists ch, a change of event id's delivery r at the sink whose
// bucket is sb (index), then writes r into its event.
func apply(tx *bolt.Tx, sb *bolt.Bucket, id string, r *deliveryRecord, ch relay.Change) error {
	if err := index(tx, sb, id, r, ch); err != nil {
		return err
	}
	return putDelivery(tx, id, r)
}

// index keeps every index and count right for ch, a change of event id's
// delivery r at the sink whose bucket is sb: the state counts, the due,
// open and dead indexes, the subject's queue and the create-once record.
// It sets r's index keys; the caller writes r.
func index(tx *bolt.Tx, sb *bolt.Bucket, id string, r *deliveryRecord, ch relay.Change) error {
	if ch.From != "" {
		moveCount(sb, ch.From, ch.To)
	} else {
		addCount(sb.Bucket(subCounts), ch.To, 1)
	}
	if ch.Undead {
		if err := unmarkDead(tx, r); err != nil {
			return err
		}
	}
	if r.DueKey != nil {
		if err := sb.Bucket(subDue).Delete(r.DueKey); err != nil {
			return err
		}
		r.DueKey = nil
	}
	if ch.Closed && r.OpenKey != nil {
		if err := sb.Bucket(subOpen).Delete(r.OpenKey); err != nil {
			return err
		}
		r.OpenKey = nil
	}
	switch {
	case ch.Enqueue:
		seq, err := sb.NextSequence()
		if err != nil {
			return err
		}
		r.Seq = seq
		if err := enqueue(tx, sb, id, r, ch.Due); err != nil {
			return err
		}
	case ch.To == relay.StatePending:
		if r.OpenKey == nil {
			// Back from needs_review: still the head of its subject's queue.
			r.OpenKey = tsKey(ch.At.UnixNano(), u64(r.Seq))
			if err := sb.Bucket(subOpen).Put(r.OpenKey, []byte(id)); err != nil {
				return err
			}
		}
		if err := schedule(sb, id, r, ch.Due); err != nil {
			return err
		}
	}
	if ch.DeadLetter {
		if err := markDead(tx, id, r, ch.At); err != nil {
			return err
		}
	}
	if ch.Created != nil {
		if err := putCreated(tx, ch.Created); err != nil {
			return err
		}
	}
	if ch.Release && r.OrderKey != "" {
		return releaseNext(tx, sb, r.OrderKey, r.Sink, id, ch.At)
	}
	return nil
}

func markDead(tx *bolt.Tx, id string, r *deliveryRecord, now time.Time) error {
	r.DeadKey = tsKey(now.UnixNano(), []byte(r.Sink), []byte{0}, []byte(id))
	return tx.Bucket(bktDead).Put(r.DeadKey, nil)
}

func unmarkDead(tx *bolt.Tx, r *deliveryRecord) error {
	if r.DeadKey == nil {
		return nil
	}
	err := tx.Bucket(bktDead).Delete(r.DeadKey)
	r.DeadKey = nil
	return err
}

// peekDue reads when sink's first due entry is due: due reports whether
// it is due by now; next is its time when it is not (zero: none).
func (s *Store) peekDue(sink string, now time.Time) (next time.Time, due bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bktOutbox).Bucket([]byte(sink))
		if sb == nil {
			return nil
		}
		k, _ := sb.Bucket(subDue).Cursor().First()
		if k == nil {
			return nil
		}
		at := int64(binary.BigEndian.Uint64(k[:8]))
		if due = at <= now.UnixNano(); !due {
			next = time.Unix(0, at)
		}
		return nil
	})
	return next, due, err
}

// ResumeInFlight handles entries a crash left in flight.
func (s *Store) ResumeInFlight(ctx context.Context, sink string, review bool, now time.Time) (int, error) {
	// A sink with nothing in flight (the usual start) needs no commit.
	var any bool
	if err := s.view(func(tx *bolt.Tx) error {
		if sb := tx.Bucket(bktOutbox).Bucket([]byte(sink)); sb != nil {
			k, _ := sb.Bucket(subInflight).Cursor().First()
			any = k != nil
		}
		return nil
	}); err != nil || !any {
		return 0, err
	}
	var n int
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		sb := tx.Bucket(bktOutbox).Bucket([]byte(sink))
		if sb == nil {
			return nil
		}
		var ids []string
		_ = sb.Bucket(subInflight).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
		for _, id := range ids {
			if err := sb.Bucket(subInflight).Delete([]byte(id)); err != nil {
				return err
			}
			r, err := getDelivery(tx, id, sink)
			if err != nil {
				return err
			}
			if r == nil || r.State != relay.StatePending {
				continue
			}
			n++
			r.CountInterrupted(now)
			ch := r.Resume(now, review, "outcome unknown: the relay stopped while this delivery was in flight", "resumed after restart")
			if err := apply(tx, sb, id, r, ch); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// reopen moves a finished or needs-review record back to pending with a
// fresh schedule, keeping its history and the event id.
func reopen(tx *bolt.Tx, sb *bolt.Bucket, id string, r *deliveryRecord, now time.Time) error {
	return apply(tx, sb, id, r, r.Reopen(now))
}

func addOperation(tx *bolt.Tx, id string, h relay.HistoryEntry) error {
	buf, err := json.Marshal(h)
	if err != nil {
		return err
	}
	b := tx.Bucket(bktOperations)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(join([]byte(id), append(u64(uint64(h.At.UnixNano())), u64(seq)...)), buf)
}

// Replay queues a new delivery of a stored event to a sink, or, at a
// create-once sink whose subject already has a document, records the
// replay as skipped and queues nothing (one transaction: the create-once
// record read is the one the decision is committed with).
func (s *Store) Replay(ctx context.Context, eventID string, req relay.ReplayRequest, now time.Time) (relay.ReplayResult, error) {
	var res relay.ReplayResult
	t := req.Target
	err := s.update(ctx, func(tx *bolt.Tx) error {
		res = relay.ReplayResult{}
		m, err := getMeta(tx, eventID)
		if err != nil {
			return err
		}
		if m == nil {
			return relay.Errorf(relay.ENOTFOUND, "event %s not found", eventID)
		}
		var cd *relay.CreatedDocument
		if req.CreateOnce && m.Subject != "" {
			if cd, err = getCreated(tx, t.Sink, m.Subject); err != nil {
				return err
			}
		}
		r := m.Deliveries[t.Sink]
		var own *relay.DeliveryRecord
		if r != nil {
			own = &r.DeliveryRecord
		}
		p, err := relay.PlanReplay(relay.ReplayEvent{ID: eventID, Subject: m.Subject, Unparsed: m.Unparsed}, own, req, cd, now)
		if err != nil {
			return err
		}
		sb, err := sinkBucket(tx, t.Sink)
		if err != nil {
			return err
		}
		res = p.Result
		switch {
		case p.New && p.Queued:
			if r, err = newOutboxEntry(tx, eventID, t, now); err != nil {
				return err
			}
			err = putDelivery(tx, eventID, r)
		case p.New:
			addCount(sb.Bucket(subCounts), p.Record.State, 1)
			err = putDelivery(tx, eventID, &deliveryRecord{DeliveryRecord: *p.Record})
		case p.Queued:
			err = apply(tx, sb, eventID, r, p.Change)
		default:
			err = putDelivery(tx, eventID, r)
		}
		if err != nil {
			return err
		}
		return addOperation(tx, eventID, p.Op)
	})
	if err != nil {
		return relay.ReplayResult{}, err
	}
	return res, nil
}

// Resolve settles a needs_review delivery: delivered (with what the
// operator found) or retry.
func (s *Store) Resolve(ctx context.Context, eventID string, res relay.Resolution, now time.Time) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := relay.CheckOutcome(res.Outcome); err != nil {
			return err
		}
		m, err := getMeta(tx, eventID)
		if err != nil {
			return err
		}
		if m == nil {
			return relay.Errorf(relay.ENOTFOUND, "event %s not found", eventID)
		}
		r := m.Deliveries[res.Sink]
		var rec *relay.DeliveryRecord
		if r != nil {
			rec = &r.DeliveryRecord
		}
		if err := rec.CheckResolve(eventID, res); err != nil {
			return err
		}
		sb, err := sinkBucket(tx, res.Sink)
		if err != nil {
			return err
		}
		ch, op, err := rec.Resolve(eventID, m.Subject, res, now)
		if err != nil {
			return err
		}
		if err := apply(tx, sb, eventID, r, ch); err != nil {
			return err
		}
		return addOperation(tx, eventID, op)
	})
}
