package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Ingest stores a new event, or counts a duplicate. A new event is
// acknowledged by JetStream twice before Ingest returns: its raw delivery in
// the raw stream (Nats-Msg-Id = event id), then the atomic create of its
// record (dedup key, summary and one pending outbox entry per target) in
// the events bucket. Whoever creates the record first wins: the same id
// ingested on several replicas at once is accepted once and counted as a
// duplicate by each other one, and a duplicate is answered only once the
// stream leader holds the first copy (SPEC 5: never a 503 because the
// first copy is still in process; a retryable 503 only when it does not
// become durable in time).
func (s *Store) Ingest(ctx context.Context, e *relay.NewEvent) (relay.IngestStatus, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 || !s.known(e.ID) {
			created, err := s.insert(ctx, e)
			if err != nil {
				return "", err
			}
			if created {
				crashPoint("record-created")
				if e.Unparsed {
					return relay.IngestUnparsed, nil
				}
				return relay.IngestAccepted, nil
			}
		}
		_, err := s.mutate(ctx, e.ID, 0, func(r *record) error {
			r.Duplicates++
			r.LastReceivedAt = nanos(e.Delivery.ReceivedAt)
			return nil
		})
		if relay.ErrorCode(err) == relay.ENOTFOUND {
			continue // the view knew an id that is gone now (purged): store it anew
		}
		if err != nil {
			return "", err
		}
		crashPoint("duplicate-counted")
		return relay.IngestDuplicate, nil
	}
	return "", relay.Errorf(relay.EUNAVAILABLE, "event %s is being stored and purged concurrently, try again", e.ID)
}

// Import stores an exported delivery unless its id exists.
func (s *Store) Import(ctx context.Context, e *relay.NewEvent) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	if s.known(e.ID) {
		return false, nil
	}
	return s.insert(ctx, e)
}

// known reports whether the view holds id (a fast duplicate answer; the
// record's create decides when it does not).
func (s *Store) known(id string) bool {
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	return s.view.events[id] != nil
}

// insert stores the raw delivery, then creates the record. It returns false
// when the record already exists: it was acknowledged (by another replica,
// or by an earlier delivery of the id), so the caller's duplicate is only
// answered once the first copy is durable.
func (s *Store) insert(ctx context.Context, e *relay.NewEvent) (bool, error) {
	if e.ID == "" {
		return false, relay.Errorf(relay.EINVALID, "event id: required")
	}
	for _, t := range e.Targets {
		if t.OrderKey != "" && t.OrderKey != e.Subject {
			return false, relay.Errorf(relay.EINVALID, "outbox target %s: order key %q is not the event's subject %q", t.Sink, t.OrderKey, e.Subject)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, inProcessWait)
	defer cancel()
	if err := s.putRaw(wctx, e); err != nil {
		err = s.inProcessError(ctx, wctx, e.ID, err)
		s.noteWrite(err)
		return false, err
	}
	crashPoint("raw-stored")
	buf, err := newRecord(e).encode()
	if err != nil {
		return false, err
	}
	created, err := s.createRecord(wctx, e.ID, buf)
	if err != nil {
		err = s.inProcessError(ctx, wctx, e.ID, err)
		s.noteWrite(err)
		return false, err
	}
	s.noteWrite(nil)
	return created, nil
}

// inProcessWait bounds how long an ingest waits for a copy of its id that
// another replica is storing at the same moment (JetStream answers "in
// process" until that copy is committed or fails): long enough for a
// commit on a busy cluster, short enough that the client's request ends
// with a retryable 503 instead of timing out when the copy never lands.
const inProcessWait = 5 * time.Second

// inProcessError is what insert answers when waiting for a concurrent copy
// ended: the caller's own cancellation as is, else a retryable 503.
func (s *Store) inProcessError(ctx, wctx context.Context, id string, err error) error {
	if ctx.Err() == nil && wctx.Err() != nil {
		return unavailable(fmt.Sprintf("event %s not stored within %v (NATS slow, or a concurrent copy of the id not yet durable); try again", id, inProcessWait), err)
	}
	return err
}

// createRecord creates the event record of id (ingest's commit point). It
// returns false when the record exists, confirmed by a read from the
// stream leader. While a concurrent create of the same key is still in
// process JetStream refuses this one as if the key existed, and that
// create may yet fail: so a refusal is retried until the leader holds the
// record (false) or this create succeeds (true).
func (s *Store) createRecord(ctx context.Context, id string, buf []byte) (bool, error) {
	key := eventKey(id)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		rev, err := s.events.Create(ctx, key, buf)
		if err == nil {
			s.noteOwn(rev)
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return false, unavailable("create event "+id, err)
		}
		cur, err := s.leaderKV(ctx, s.events, key)
		switch {
		case err == nil:
			return false, nil
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return false, unavailable("read event "+id, err)
		case cur != nil:
			// Deleted or purged (a purge marker): create over it. The
			// client's Create does the same, but after a direct read that
			// may not see the marker yet.
			rev, err := s.events.Update(ctx, key, buf, cur.Revision())
			if err == nil {
				s.noteOwn(rev)
				return true, nil
			}
			if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
				return false, unavailable("create event "+id, err)
			}
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return false, err
		}
	}
}

// noteWrite records an ingest write's result for Ready. A caller's own
// mistake (an *relay.Error other than EUNAVAILABLE) says nothing about the
// store.
func (s *Store) noteWrite(err error) {
	switch {
	case err == nil:
		s.writeFailedAt.Store(0)
	case relay.ErrorCode(err) == relay.EINTERNAL || relay.ErrorCode(err) == relay.EUNAVAILABLE:
		s.writeFailedAt.Store(time.Now().UnixNano())
	}
}

func (s *Store) rawSubject(id string) string { return s.rawPre + token(id) }

// putRaw stores the raw delivery of e unless one is stored for its id. It
// publishes with Nats-Msg-Id = event id (concurrent copies within the
// duplicate window are dropped by the server) and an expected last
// sequence of 0 for the subject (a copy already stored is never replaced,
// so the first delivery's headers are the ones kept). It returns once the
// stream leader holds a copy: when JetStream refuses this one because
// another copy is stored or still in process (another replica ingesting the
// same id at the same moment: "duplicate message id is in process", or a
// wrong last sequence), it waits for that copy, and publishes again if the
// other copy failed.
func (s *Store) putRaw(ctx context.Context, e *relay.NewEvent) error {
	subj := s.rawSubject(e.ID)
	_, _, rawName := Names(s.opts.Prefix)
	data := encodeRaw(&e.Delivery, e.Event)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		msg := &nats.Msg{Subject: subj, Data: data}
		ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID), jetstream.WithExpectLastSequencePerSubject(0))
		if err == nil && !ack.Duplicate {
			return nil
		}
		if err != nil && !isWrongLastSeq(err) && !isMsgIDInProcess(err) {
			return s.publishError(e.ID, len(data), err)
		}
		_, gerr := s.leaderMsg(ctx, rawName, subj)
		if gerr == nil {
			return nil // a copy is stored (this id's earlier or concurrent delivery)
		}
		if !errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return unavailable("read raw delivery "+e.ID, gerr)
		}
		if err == nil {
			// The id was stored within the duplicate window and purged
			// since: store it again without the id.
			msg = &nats.Msg{Subject: subj, Data: data}
			if _, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(0)); err == nil {
				return nil
			} else if !isWrongLastSeq(err) {
				return s.publishError(e.ID, len(data), err)
			}
		}
		// The other copy is still in process (or failed): wait and look again.
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Store) publishError(id string, size int, err error) error {
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		return fmt.Errorf("natsstore: store raw delivery %s: %d bytes exceed the NATS max_payload (%d): raise max_payload on the servers: %w",
			id, size, s.nc.MaxPayload(), err)
	}
	return unavailable("store raw delivery "+id, err)
}

// isMsgIDInProcess reports JetStream's "duplicate message id is in
// process" (10158): a message with the same Nats-Msg-Id is being committed.
func isMsgIDInProcess(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeDuplicateMsgIDInProcess
}

// jsErrCodeDuplicateMsgIDInProcess is the server's
// JSStreamDuplicateMessageConflict, which nats.go does not name.
const jsErrCodeDuplicateMsgIDInProcess jetstream.ErrorCode = 10158

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// crashHook, when set (tests only, before Open), is called at each named
// step of the ingest path (docs/WRITEPATH.md); the crash tests SIGKILL
// their child process there.
var crashHook func(point string)

func crashPoint(p string) {
	if h := crashHook; h != nil {
		h(p)
	}
}
