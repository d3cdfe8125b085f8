package natsstore

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// exportChunk is how many events one step of an export reads from the
// index before fetching their raw deliveries.
const exportChunk = 256

// Export calls fn for each stored delivery matching f, oldest first (by
// receive time, then id). It walks this replica's index in chunks and
// reads each raw delivery from the raw stream; fn runs outside any lock.
func (s *Store) Export(ctx context.Context, f relay.ExportFilter, fn func(*relay.ExportRecord) error) error {
	if err := s.sync(ctx); err != nil {
		return err
	}
	var from, resumeAfter *ikey
	if !f.Since.IsZero() {
		from = &ikey{at: f.Since.UnixNano()}
	}
	type item struct {
		id, source string
		received   int64
		status     string
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var batch []item
		var last ikey
		done := true
		s.view.mu.RLock()
		s.view.byTime.Ascend(from, func(k ikey) bool {
			if resumeAfter != nil && k.cmp(*resumeAfter) <= 0 {
				return true // read by the previous chunk
			}
			if !f.Until.IsZero() && k.at > f.Until.UnixNano() {
				return false
			}
			if len(batch) == exportChunk {
				done = false
				return false
			}
			last = k
			ev := s.view.events[k.s1]
			if ev == nil || (f.Type != "" && !relay.MatchGlob(f.Type, ev.typ)) {
				return true
			}
			batch = append(batch, item{id: ev.id, source: ev.source, received: ev.received, status: ev.status})
			return true
		})
		s.view.mu.RUnlock()
		recs := make([]*relay.ExportRecord, len(batch))
		errs := make([]error, len(batch))
		parallel(len(batch), 16, func(i int) {
			it := batch[i]
			headers, body, ce, err := s.getRaw(ctx, it.id)
			if err != nil {
				errs[i] = err
				return
			}
			recs[i] = &relay.ExportRecord{
				ID: it.id, Source: it.source, ReceivedAt: fromNanos(it.received), Headers: headers, BodyBase64: body, Event: ce, Status: it.status,
			}
		})
		for i := range batch {
			if errs[i] != nil {
				return errs[i]
			}
			if err := fn(recs[i]); err != nil {
				return err
			}
		}
		if done || last.s1 == "" {
			return nil
		}
		l := last
		from, resumeAfter = &l, &l
	}
}

// Backup writes a JSON-lines snapshot of every stored event, one export
// record a line (the format of Export and Import), and returns the bytes
// written. It is a logical snapshot, event by event, not a point-in-time
// copy of the streams: hot copies of the streams and buckets themselves
// are NATS's job (`nats stream backup`, see docs/SCALING.md).
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	enc := json.NewEncoder(bw)
	err := s.Export(ctx, relay.ExportFilter{}, func(r *relay.ExportRecord) error {
		return enc.Encode(r)
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return cw.n, fmt.Errorf("natsstore: backup: %w", err)
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// BackupContentType tells the admin API that Backup writes an NDJSON
// snapshot in the export format (restore it with import), not a database
// file. Hot copies of the streams themselves are NATS's job
// (`nats stream backup`).
func (s *Store) BackupContentType() string { return "application/x-ndjson" }
