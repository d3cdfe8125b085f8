package store

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// subLastHour is a sink's per-minute attempt counts: minute(8) →
// delivered(8) failed(8). It holds at most LastHourMinutes+1 keys: every
// write drops the minutes that left the window. Created on first use, so
// databases from before it need no migration.
var subLastHour = []byte("last_hour")

// countAttempt adds a finished attempt to the sink's last-hour counts, in
// the transaction that records it.
func countAttempt(sb *bolt.Bucket, a relay.Attempt) error {
	delivered, failed := relay.AttemptCounts(a.Outcome)
	if delivered == 0 && failed == 0 {
		return nil
	}
	b, err := sb.CreateBucketIfNotExists(subLastHour)
	if err != nil {
		return err
	}
	m := relay.Minute(a.At)
	c := b.Cursor()
	for k, _ := c.First(); k != nil && int64(binary.BigEndian.Uint64(k)) <= m-relay.LastHourMinutes-1; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	key := binary.BigEndian.AppendUint64(nil, uint64(m))
	val := make([]byte, 16)
	if old := b.Get(key); len(old) == 16 {
		copy(val, old)
	}
	binary.BigEndian.PutUint64(val[:8], binary.BigEndian.Uint64(val[:8])+uint64(delivered))
	binary.BigEndian.PutUint64(val[8:], binary.BigEndian.Uint64(val[8:])+uint64(failed))
	return b.Put(key, val)
}

// lastHour sums the sink's counts of the last hour before now.
func lastHour(sb *bolt.Bucket, now time.Time) (delivered, failed int64) {
	b := sb.Bucket(subLastHour)
	if b == nil {
		return 0, 0
	}
	_ = b.ForEach(func(k, v []byte) error {
		if len(k) == 8 && len(v) == 16 && relay.InLastHour(int64(binary.BigEndian.Uint64(k)), now) {
			delivered += int64(binary.BigEndian.Uint64(v[:8]))
			failed += int64(binary.BigEndian.Uint64(v[8:]))
		}
		return nil
	})
	return delivered, failed
}
