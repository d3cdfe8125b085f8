package store

import (
	"bytes"
	"context"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Ingest commits a new event with its outbox entries, or counts a
// duplicate, in one group-committed transaction.
func (s *Store) Ingest(ctx context.Context, e *relay.NewEvent) (relay.IngestStatus, error) {
	var status relay.IngestStatus
	err := s.update(ctx, func(tx *bolt.Tx) error {
		old, err := getMeta(tx, e.ID)
		if err != nil {
			return err
		}
		if old != nil {
			m := old.clone()
			m.Duplicates++
			m.LastReceivedAt = e.Delivery.ReceivedAt.UnixNano()
			status = relay.IngestDuplicate
			return putMeta(tx, e.ID, old, m)
		}
		if err := insertEvent(tx, e); err != nil {
			return err
		}
		status = relay.IngestAccepted
		if e.Unparsed {
			status = relay.IngestUnparsed
		}
		return nil
	})
	return status, err
}

// Import stores an exported delivery unless its id exists.
func (s *Store) Import(ctx context.Context, e *relay.NewEvent) (bool, error) {
	var imported bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		imported = false
		if tx.Bucket(bktEvents).Get([]byte(e.ID)) != nil {
			return nil
		}
		imported = true
		return insertEvent(tx, e)
	})
	return imported, err
}

func insertEvent(tx *bolt.Tx, e *relay.NewEvent) error {
	id := []byte(e.ID)
	received := e.Delivery.ReceivedAt.UnixNano()
	m := &eventMeta{
		Type: e.Type, Subject: e.Subject, Test: e.Test, ReceivedAt: received, LastReceivedAt: received,
		Unparsed: e.Unparsed, ParseError: e.ParseError, Doc: e.DocumentNumber, Counterparty: e.Counterparty,
		DataOffset: e.EventDataOffset,
	}
	if len(e.Targets) > 0 {
		m.States = make(map[string]string, len(e.Targets))
		for _, t := range e.Targets {
			m.States[t.Sink] = relay.StatePending
		}
	}
	if err := putMeta(tx, e.ID, nil, m); err != nil {
		return err
	}
	timeKey := tsKey(received, id)
	if err := putBody(tx, timeKey, &e.Delivery, e.Event); err != nil {
		return err
	}
	byTime := tx.Bucket(bktByTime)
	byTime.FillPercent = 1.0
	if err := byTime.Put(timeKey, nil); err != nil {
		return err
	}
	if e.Subject != "" {
		if err := tx.Bucket(bktBySubject).Put(subjectKey(e.Subject, received, e.ID), nil); err != nil {
			return err
		}
	}
	for _, text := range []string{e.DocumentNumber, e.Counterparty} {
		if text != "" {
			if err := tx.Bucket(bktSearch).Put(searchKey(text, e.ID), nil); err != nil {
				return err
			}
		}
	}
	now := e.Delivery.ReceivedAt
	for _, t := range e.Targets {
		if err := newOutboxEntry(tx, e.ID, t, now); err != nil {
			return err
		}
	}
	return nil
}

func subjectKey(subject string, received int64, id string) []byte {
	k := make([]byte, 0, len(subject)+9+len(id))
	k = append(k, subject...)
	k = append(k, 0)
	k = append(k, u64(uint64(received))...)
	return append(k, id...)
}

func searchKey(text, id string) []byte {
	return join([]byte(strings.ToLower(text)), []byte(id))
}

// newOutboxEntry creates a pending delivery of event id to t.Sink: due now
// when it heads its subject's queue (or is unordered), else waiting.
func newOutboxEntry(tx *bolt.Tx, id string, t relay.OutboxTarget, now time.Time) error {
	sb, err := sinkBucket(tx, t.Sink)
	if err != nil {
		return err
	}
	seq, err := sb.NextSequence()
	if err != nil {
		return err
	}
	r := &deliveryRecord{DeliveryState: relay.DeliveryState{Sink: t.Sink, State: relay.StatePending, UpdatedAt: now.UTC()}, OrderKey: t.OrderKey, Seq: seq}
	if err := enqueue(sb, id, r, now); err != nil {
		return err
	}
	addCount(sb.Bucket(subCounts), relay.StatePending, 1)
	return putDelivery(tx, id, r)
}

// enqueue places a pending record (new, redriven or replayed) in the open
// index and, when it heads its subject's queue or is unordered, in due.
func enqueue(sb *bolt.Bucket, id string, r *deliveryRecord, now time.Time) error {
	r.OpenKey = tsKey(now.UnixNano(), u64(r.Seq))
	if err := sb.Bucket(subOpen).Put(r.OpenKey, []byte(id)); err != nil {
		return err
	}
	if r.OrderKey != "" {
		q := sb.Bucket(subQueue)
		prefix := append([]byte(r.OrderKey), 0)
		k, _ := q.Cursor().Seek(prefix)
		waiting := k != nil && bytes.HasPrefix(k, prefix)
		if err := q.Put(append(prefix, u64(r.Seq)...), []byte(id)); err != nil {
			return err
		}
		if waiting {
			r.DueKey = nil
			r.NextAttemptAt = nil
			return nil
		}
	}
	return schedule(sb, id, r, now)
}

// schedule makes r due at t.
func schedule(sb *bolt.Bucket, id string, r *deliveryRecord, t time.Time) error {
	r.DueKey = tsKey(t.UnixNano(), u64(r.Seq))
	at := t.UTC()
	r.NextAttemptAt = &at
	return sb.Bucket(subDue).Put(r.DueKey, []byte(id))
}
