package store

import (
	"bytes"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Subject ordering (SPEC 3, ORDERING=subject). Each sink bucket keeps the
// queue of every subject that has an open ordered delivery there:
//
//	heads:   subject → id of the event whose delivery is the head of the
//	         queue (due, in flight, waiting to retry or needs_review)
//	waiting: subject 0x00 seq(8) → id of each delivery waiting its turn,
//	         in the order enqueued (its record's Seq)
//
// Placing a delivery and releasing the next one are a few B-tree look-ups
// whatever the subject's history; the finished deliveries of a subject are
// in neither bucket. A database written before these buckets existed gets
// them from its event records once, at open (migrateQueues).
var (
	subHeads   = []byte("heads")
	subWaiting = []byte("waiting")
)

func waitKey(subject string, seq uint64) []byte {
	k := make([]byte, 0, len(subject)+9)
	k = append(k, subject...)
	k = append(k, 0)
	return append(k, u64(seq)...)
}

// enqueue places a pending record (new, redriven or replayed) in the open
// index and, unless another delivery of its subject is the head of the
// subject's queue at the sink, makes it the head, due at now; else it
// waits at the back of the queue.
func enqueue(tx *bolt.Tx, sb *bolt.Bucket, id string, r *deliveryRecord, now time.Time) error {
	r.OpenKey = tsKey(now.UnixNano(), u64(r.Seq))
	if err := sb.Bucket(subOpen).Put(r.OpenKey, []byte(id)); err != nil {
		return err
	}
	if r.OrderKey != "" {
		heads := sb.Bucket(subHeads)
		if head := heads.Get([]byte(r.OrderKey)); head != nil && string(head) != id {
			r.DueKey = nil
			r.NextAttemptAt = nil
			return sb.Bucket(subWaiting).Put(waitKey(r.OrderKey, r.Seq), []byte(id))
		}
		if err := heads.Put([]byte(r.OrderKey), []byte(id)); err != nil {
			return err
		}
	}
	return schedule(sb, id, r, now)
}

// releaseNext: self's delivery at sink left the queue of subject (it is
// final). When it was the head (or the queue has none), the first waiting
// delivery becomes the head, due at now. Entries the records contradict
// (no longer waiting, or enqueued again under another seq) are dropped.
func releaseNext(tx *bolt.Tx, sb *bolt.Bucket, subject, sink, self string, now time.Time) error {
	heads, key := sb.Bucket(subHeads), []byte(subject)
	if head := heads.Get(key); head != nil {
		if string(head) != self {
			return nil
		}
		if err := heads.Delete(key); err != nil {
			return err
		}
	}
	waiting := sb.Bucket(subWaiting)
	prefix := append([]byte(subject), 0)
	for {
		k, v := waiting.Cursor().Seek(prefix)
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
			return nil
		}
		id, seq := string(v), binary.BigEndian.Uint64(k[len(prefix):])
		if err := waiting.Delete(append([]byte(nil), k...)); err != nil {
			return err
		}
		e, err := loadEvent(tx, id)
		if err != nil {
			return err
		}
		r := e.delivery(sink)
		if id == self || r == nil || r.State != relay.StatePending || r.DueKey != nil || r.OrderKey != subject || r.Seq != seq {
			continue
		}
		if err := heads.Put(key, []byte(id)); err != nil {
			return err
		}
		if err := schedule(sb, id, r, now); err != nil {
			return err
		}
		return e.save(tx, id)
	}
}

// blocker returns the event a waiting delivery of self at sink waits
// behind, and that delivery's state: the head of its subject's queue (in
// flight, due, waiting to retry or in needs_review). One look-up, whatever
// the subject's history.
func blocker(tx *bolt.Tx, subject, sink, self string) (string, string, error) {
	sb := tx.Bucket(bktOutbox).Bucket([]byte(sink))
	if sb == nil || sb.Bucket(subHeads) == nil {
		return "", "", nil // a read-only database from before the queues
	}
	head := sb.Bucket(subHeads).Get([]byte(subject))
	if head == nil || string(head) == self {
		return "", "", nil
	}
	id := string(head)
	r, err := getDelivery(tx, id, sink)
	if err != nil || r == nil || relay.Terminal(r.State) {
		return "", "", err
	}
	if inFlight(tx, sink, id) {
		return id, relay.StateInFlight, nil
	}
	return id, r.State, nil
}

// migrateQueues gives every sink bucket written before the subject queues
// existed its heads and waiting buckets, filled from the event records in
// one pass: an open ordered delivery without a due key waits, any other
// open ordered delivery is its subject's head.
func migrateQueues(tx *bolt.Tx) error {
	ob := tx.Bucket(bktOutbox)
	old := map[string]*bolt.Bucket{}
	err := ob.ForEachBucket(func(name []byte) error {
		sb := ob.Bucket(name)
		if sb.Bucket(subWaiting) != nil {
			return nil
		}
		for _, sub := range [][]byte{subHeads, subWaiting} {
			if _, err := sb.CreateBucketIfNotExists(sub); err != nil {
				return err
			}
		}
		old[string(name)] = sb
		return nil
	})
	if err != nil || len(old) == 0 {
		return err
	}
	return tx.Bucket(bktEvents).ForEach(func(k, _ []byte) error {
		m, err := getMeta(tx, string(k))
		if err != nil {
			return err
		}
		for sink, r := range m.Deliveries {
			sb := old[sink]
			if sb == nil || r.OrderKey == "" || relay.Terminal(r.State) {
				continue
			}
			if r.State == relay.StatePending && r.DueKey == nil {
				err = sb.Bucket(subWaiting).Put(waitKey(r.OrderKey, r.Seq), k)
			} else {
				err = sb.Bucket(subHeads).Put([]byte(r.OrderKey), k)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
