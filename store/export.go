package store

import (
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// exportChunk is how many records one read transaction reads, so a long
// export never pins old pages for long.
const exportChunk = 512

// Export calls fn for each stored delivery matching f, oldest first. It reads
// in chunks of short read transactions; fn runs outside any transaction.
func (s *Store) Export(ctx context.Context, f relay.ExportFilter, fn func(*relay.ExportRecord) error) error {
	var from []byte
	if !f.Since.IsZero() {
		from = u64(uint64(f.Since.UnixNano()))
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var batch []*relay.ExportRecord
		var last []byte
		done := false
		err := s.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bktByTime).Cursor()
			var k []byte
			if from == nil {
				k, _ = c.First()
			} else {
				k, _ = c.Seek(from)
			}
			for ; k != nil; k, _ = c.Next() {
				if len(batch) == exportChunk {
					return nil
				}
				last = append(last[:0], k...)
				if !f.Until.IsZero() && int64(binary.BigEndian.Uint64(k[:8])) > f.Until.UnixNano() {
					done = true
					return nil
				}
				id := k[8:]
				m, err := getMeta(tx, string(id))
				if err != nil {
					return err
				}
				if m == nil || (f.Type != "" && !relay.MatchGlob(f.Type, m.Type)) {
					continue
				}
				headers, body, event, err := getBody(tx, string(id), m)
				if err != nil {
					return err
				}
				batch = append(batch, &relay.ExportRecord{
					ID: string(id), Source: m.Source, ReceivedAt: time.Unix(0, m.ReceivedAt).UTC(), Headers: headers, BodyBase64: body,
					Event: event, Status: m.status(),
				})
			}
			done = true
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range batch {
			if len(r.Event) == 0 {
				r.Event = nil
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		if done || last == nil {
			return nil
		}
		// Resume strictly after the last key read.
		from = append(append([]byte(nil), last...), 0)
	}
}
