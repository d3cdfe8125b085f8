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
		r, err := getDelivery(tx, eventID, sink)
		if err != nil {
			return err
		}
		sb := tx.Bucket(bktOutbox).Bucket([]byte(sink))
		if r == nil || sb == nil || sb.Bucket(subInflight).Get([]byte(eventID)) == nil {
			return relay.Errorf(relay.ECONFLICT, "delivery %s to %s is not in flight", eventID, sink)
		}
		if err := sb.Bucket(subInflight).Delete([]byte(eventID)); err != nil {
			return err
		}
		r.DueKey = nil
		r.Attempts++
		r.History = relay.AppendAttempt(r.History, a, maxHistory)
		r.LastError = a.Error
		r.LastStatus = a.StatusCode
		r.PriorUnknown, r.PriorUnknownAt = t.PriorUnknown, t.PriorUnknownAt
		if t.KeepSchedule {
			r.ScheduleStart++
		}
		if t.Result != nil {
			r.Result = t.Result
		}
		return transition(tx, sb, eventID, r, relay.StateInFlight, t.State, t.NextAt, t.Reason, a.At, t.Created)
	})
}

// transition moves r from state `from` to `to`, keeping every index and
// count right, and writes r and the event's state.
func transition(tx *bolt.Tx, sb *bolt.Bucket, id string, r *deliveryRecord, from, to string, nextAt time.Time, reason string, now time.Time, created *relay.CreatedDocument) error {
	r.State = to
	r.UpdatedAt = now.UTC()
	r.Reason = reason
	moveCount(sb, from, to)
	switch to {
	case relay.StatePending:
		if err := schedule(sb, id, r, nextAt); err != nil {
			return err
		}
	case relay.StateDelivered, relay.StateSkipped, relay.StateDead:
		r.NextAttemptAt = nil
		if err := closeEntry(tx, sb, id, r); err != nil {
			return err
		}
		if to == relay.StateDead {
			if err := markDead(tx, id, r, now); err != nil {
				return err
			}
		}
		if created != nil {
			if err := putCreated(tx, created); err != nil {
				return err
			}
		}
	case relay.StateNeedsReview:
		r.NextAttemptAt = nil
		if err := sb.Bucket(subOpen).Delete(r.OpenKey); err != nil {
			return err
		}
		r.OpenKey = nil
		if err := markDead(tx, id, r, now); err != nil {
			return err
		}
	default:
		return fmt.Errorf("store: invalid transition of %s/%s to %q", id, r.Sink, to)
	}
	return putDelivery(tx, id, r)
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

// closeEntry takes a finished entry out of the open and due indexes and
// makes the next waiting delivery of its subject due now.
func closeEntry(tx *bolt.Tx, sb *bolt.Bucket, id string, r *deliveryRecord) error {
	if r.OpenKey != nil {
		if err := sb.Bucket(subOpen).Delete(r.OpenKey); err != nil {
			return err
		}
		r.OpenKey = nil
	}
	if r.DueKey != nil {
		if err := sb.Bucket(subDue).Delete(r.DueKey); err != nil {
			return err
		}
		r.DueKey = nil
	}
	if r.OrderKey == "" {
		return nil
	}
	nextID, next, err := nextWaiting(tx, r.OrderKey, r.Sink, id)
	if err != nil || next == nil {
		return err
	}
	if err := schedule(sb, nextID, next, r.UpdatedAt); err != nil {
		return err
	}
	return putDelivery(tx, nextID, next)
}

// ResumeInFlight handles entries a crash left in flight.
func (s *Store) ResumeInFlight(ctx context.Context, sink string, review bool, now time.Time) (int, error) {
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
			r.DueKey = nil
			n++
			// The interrupted attempt counts, so a delivery that keeps
			// killing the process still reaches the end of its schedule.
			r.Attempts++
			r.History = append(r.History, relay.Attempt{At: now.UTC(), Outcome: relay.OutcomeUnknown.String(),
				Error: "interrupted: the relay stopped while this attempt was in flight"})
			if review {
				r.LastError = "outcome unknown: the relay stopped while this delivery was in flight"
				if err := transition(tx, sb, id, r, relay.StateInFlight, relay.StateNeedsReview, time.Time{}, r.LastError, now, nil); err != nil {
					return err
				}
				continue
			}
			r.PriorUnknown, r.PriorUnknownAt = true, now.UTC()
			if err := transition(tx, sb, id, r, relay.StateInFlight, relay.StatePending, now, "resumed after restart", now, nil); err != nil {
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
	from := r.State
	if err := unmarkDead(tx, r); err != nil {
		return err
	}
	r.ScheduleStart = r.Attempts
	r.PriorUnknown, r.PriorUnknownAt = false, time.Time{}
	r.Reason = ""
	r.State = relay.StatePending
	r.UpdatedAt = now.UTC()
	moveCount(sb, from, relay.StatePending)
	if from == relay.StateNeedsReview {
		// Still the head of its subject's queue: due now.
		r.OpenKey = tsKey(now.UnixNano(), u64(r.Seq))
		if err := sb.Bucket(subOpen).Put(r.OpenKey, []byte(id)); err != nil {
			return err
		}
		if err := schedule(sb, id, r, now); err != nil {
			return err
		}
	} else {
		seq, err := sb.NextSequence()
		if err != nil {
			return err
		}
		r.Seq = seq
		if err := enqueue(tx, sb, id, r, now); err != nil {
			return err
		}
	}
	return putDelivery(tx, id, r)
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
		if m.Unparsed {
			return relay.Errorf(relay.EINVALID, "event %s is unparsed and cannot be sent to a sink", eventID)
		}
		if t.OrderKey != "" && t.OrderKey != m.Subject {
			return relay.Errorf(relay.EINVALID, "order key %q is not the event's subject %q", t.OrderKey, m.Subject)
		}
		r := m.Deliveries[t.Sink]
		if r != nil && !relay.Terminal(r.State) {
			return relay.Errorf(relay.ECONFLICT, "delivery of %s to %s is %s; replay it once it is finished", eventID, t.Sink, r.State)
		}
		sb, err := sinkBucket(tx, t.Sink)
		if err != nil {
			return err
		}
		var cd *relay.CreatedDocument
		if req.CreateOnce && m.Subject != "" {
			if cd, err = getCreated(tx, t.Sink, m.Subject); err != nil {
				return err
			}
		}
		var own *relay.DeliveryState
		if r != nil {
			own = &r.DeliveryState
		}
		if reason := relay.ReplaySkip(req, cd, own); reason != "" {
			res = relay.ReplayResult{Skipped: 1, Reason: reason}
			if r == nil {
				// Never routed there: the delivery is recorded as
				// skipped, with the replay as its history.
				r = &deliveryRecord{DeliveryState: relay.DeliveryState{Sink: t.Sink, State: relay.StateSkipped, LastError: reason}, OrderKey: t.OrderKey, Reason: reason}
				addCount(sb.Bucket(subCounts), relay.StateSkipped, 1)
			}
			op := relay.SkipReplay(&r.DeliveryState, req, reason, now, maxHistory)
			if err := putDelivery(tx, eventID, r); err != nil {
				return err
			}
			return addOperation(tx, eventID, op)
		}
		res.Queued = 1
		op := relay.HistoryEntry{At: now.UTC(), Operator: req.Operator, Action: "replay", Sink: t.Sink}
		if r == nil {
			r, err := newOutboxEntry(tx, eventID, t, now)
			if err != nil {
				return err
			}
			if err := putDelivery(tx, eventID, r); err != nil {
				return err
			}
			return addOperation(tx, eventID, op)
		}
		r.OrderKey = t.OrderKey
		if err := reopen(tx, sb, eventID, r, now); err != nil {
			return err
		}
		return addOperation(tx, eventID, op)
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
		if res.Outcome != "delivered" && res.Outcome != "retry" {
			return relay.Errorf(relay.EINVALID, "outcome: must be delivered or retry, not %q", res.Outcome)
		}
		m, err := getMeta(tx, eventID)
		if err != nil {
			return err
		}
		if m == nil {
			return relay.Errorf(relay.ENOTFOUND, "event %s not found", eventID)
		}
		r, err := getDelivery(tx, eventID, res.Sink)
		if err != nil {
			return err
		}
		if r == nil {
			return relay.Errorf(relay.ENOTFOUND, "event %s has no delivery to sink %q", eventID, res.Sink)
		}
		if r.State != relay.StateNeedsReview {
			return relay.Errorf(relay.ECONFLICT, "delivery of %s to %s is %s, not needs_review", eventID, res.Sink, r.State)
		}
		sb, err := sinkBucket(tx, res.Sink)
		if err != nil {
			return err
		}
		op := relay.HistoryEntry{At: now.UTC(), Operator: res.Operator, Action: "resolve:" + res.Outcome, Sink: res.Sink}
		if res.Outcome == "retry" {
			if err := reopen(tx, sb, eventID, r, now); err != nil {
				return err
			}
			return addOperation(tx, eventID, op)
		}
		if err := unmarkDead(tx, r); err != nil {
			return err
		}
		if res.Result != nil {
			r.Result = res.Result
			op.Detail = res.Result["document_number"]
		}
		var cd *relay.CreatedDocument
		if doc := res.Result["document_number"]; doc != "" && m.Subject != "" {
			cd = &relay.CreatedDocument{Sink: res.Sink, Subject: m.Subject, EventID: eventID, DocumentNumber: doc, CreatedAt: now.UTC()}
		}
		r.LastError = ""
		if err := transition(tx, sb, eventID, r, relay.StateNeedsReview, relay.StateDelivered, time.Time{}, "resolved by operator", now, cd); err != nil {
			return err
		}
		return addOperation(tx, eventID, op)
	})
}
