package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Purge removes up to max events received before cutoff whose deliveries
// are all finished (delivered or skipped), with their body, CloudEvent,
// indexes, delivery records and dedup key, in one short transaction.
// Undelivered, dead and needs-review events are never removed, nor are
// create-once records. Successive calls resume where the last one stopped;
// Done reports that the scan reached cutoff.
func (s *Store) Purge(ctx context.Context, cutoff time.Time, max int) (relay.PurgeResult, error) {
	s.purgeMu.Lock()
	defer s.purgeMu.Unlock()
	if max <= 0 {
		max = 500
	}
	var res relay.PurgeResult
	var next []byte
	scanLimit := max * 8
	// fn may run twice (a batch rolled back and rerun alone): it reads the
	// resume key and writes next, never s.purgeKey itself.
	start := s.purgeKey
	err := s.update(ctx, func(tx *bolt.Tx) error {
		res, next = relay.PurgeResult{}, nil
		c := tx.Bucket(bktByTime).Cursor()
		var k []byte
		if start != nil {
			k, _ = c.Seek(start)
		} else {
			k, _ = c.First()
		}
		var victims [][]byte
		scanned := 0
		var resume []byte
		for ; k != nil; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k[:8])) >= cutoff.UnixNano() {
				res.Done = true
				break
			}
			if len(victims) >= max || scanned >= scanLimit {
				resume = append([]byte(nil), k...)
				break
			}
			scanned++
			m, err := getMeta(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if m == nil {
				victims = append(victims, append([]byte(nil), k...))
				continue
			}
			switch m.status() {
			case relay.StatusDelivered, relay.StatusUnrouted, relay.StatusUnparsed:
				victims = append(victims, append([]byte(nil), k...))
			}
		}
		if k == nil {
			res.Done = true
		}
		for _, v := range victims {
			if err := purgeEvent(tx, v); err != nil {
				return err
			}
			res.Events++
		}
		if !res.Done {
			next = resume
		}
		return nil
	})
	if err == nil {
		s.purgeKey = next
	}
	return res, err
}

func purgeEvent(tx *bolt.Tx, timeKey []byte) error {
	id := timeKey[8:]
	if err := tx.Bucket(bktByTime).Delete(timeKey); err != nil {
		return err
	}
	m, err := getMeta(tx, string(id))
	if err != nil || m == nil {
		return err
	}
	if m.Subject != "" {
		if err := tx.Bucket(bktBySubject).Delete(subjectKey(m.Subject, m.ReceivedAt, string(id))); err != nil {
			return err
		}
	}
	if err := updateSearch(tx, string(id), m.searchTexts(), nil); err != nil {
		return err
	}
	// The deliveries go too: keep each sink's counts of its deliveries right.
	recs, err := deliveriesOf(tx, string(id))
	if err != nil {
		return err
	}
	for _, r := range recs {
		if sb := tx.Bucket(bktOutbox).Bucket([]byte(r.Sink)); sb != nil {
			addCount(sb.Bucket(subCounts), r.State, -1)
		}
	}
	prefix := append(append([]byte(nil), id...), 0)
	for _, b := range [][]byte{bktOperations} {
		bk := tx.Bucket(b)
		var keys [][]byte
		c := bk.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
	}
	if err := tx.Bucket(bktBodies).Delete(timeKey); err != nil {
		return err
	}
	addCount(tx.Bucket(bktCounts), m.status(), -1)
	return tx.Bucket(bktEvents).Delete(id)
}
