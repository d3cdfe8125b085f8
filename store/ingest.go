package store

import (
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
		m, err := getMeta(tx, e.ID)
		if err != nil {
			return err
		}
		if m != nil {
			oldStatus := m.status()
			m.Duplicates++
			m.LastReceivedAt = e.Delivery.ReceivedAt.UnixNano()
			status = relay.IngestDuplicate
			return putMeta(tx, e.ID, oldStatus, m)
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
	for _, t := range e.Targets {
		if t.OrderKey != "" && t.OrderKey != e.Subject {
			return relay.Errorf(relay.EINVALID, "outbox target %s: order key %q is not the event's subject %q", t.Sink, t.OrderKey, e.Subject)
		}
	}
	id := []byte(e.ID)
	received := e.Delivery.ReceivedAt.UnixNano()
	m := &eventMeta{
		Source: relay.StoredSource(e.Source), Type: e.Type, Subject: e.Subject, Test: e.Test,
		ReceivedAt: received, LastReceivedAt: received,
		Unparsed: e.Unparsed, ParseError: e.ParseError, Doc: e.DocumentNumber, Counterparty: e.Counterparty,
		Txn: e.TransactionID, DataOffset: e.EventDataOffset,
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
	for _, text := range []string{e.DocumentNumber, e.Counterparty, e.TransactionID} {
		if text != "" {
			if err := tx.Bucket(bktSearch).Put(searchKey(text, e.ID), nil); err != nil {
				return err
			}
		}
	}
	now := e.Delivery.ReceivedAt
	if len(e.Targets) > 0 {
		m.Deliveries = make(map[string]*deliveryRecord, len(e.Targets))
	}
	for _, t := range e.Targets {
		r, err := newOutboxEntry(tx, e.ID, t, now)
		if err != nil {
			return err
		}
		m.Deliveries[t.Sink] = r
	}
	return putMeta(tx, e.ID, "", m)
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

// newOutboxEntry makes a pending delivery of event id to t.Sink (the
// caller stores it in the event): due now when no other delivery of its
// subject is open at the sink (or it is unordered), else waiting.
func newOutboxEntry(tx *bolt.Tx, id string, t relay.OutboxTarget, now time.Time) (*deliveryRecord, error) {
	sb, err := sinkBucket(tx, t.Sink)
	if err != nil {
		return nil, err
	}
	rec, ch := relay.NewDeliveryRecord(t, now)
	r := &deliveryRecord{DeliveryRecord: *rec}
	return r, index(tx, sb, id, r, ch)
}

// schedule makes r due at t.
func schedule(sb *bolt.Bucket, id string, r *deliveryRecord, t time.Time) error {
	r.DueKey = tsKey(t.UnixNano(), u64(r.Seq))
	at := t.UTC()
	r.NextAttemptAt = &at
	return sb.Bucket(subDue).Put(r.DueKey, []byte(id))
}
