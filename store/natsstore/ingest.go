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
// ingested on two replicas at once is accepted once and counted as a
// duplicate once.
func (s *Store) Ingest(ctx context.Context, e *relay.NewEvent) (relay.IngestStatus, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	if !s.known(e.ID) {
		created, err := s.insert(ctx, e)
		if err != nil {
			return "", err
		}
		if created {
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
		// The view knew an id that is gone now (purged): store it anew.
		created, err := s.insert(ctx, e)
		switch {
		case err != nil:
			return "", err
		case !created:
			return "", relay.Errorf(relay.EUNAVAILABLE, "event %s is being stored concurrently, try again", e.ID)
		case e.Unparsed:
			return relay.IngestUnparsed, nil
		}
		return relay.IngestAccepted, nil
	}
	if err != nil {
		return "", err
	}
	return relay.IngestDuplicate, nil
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
// when the record already exists.
func (s *Store) insert(ctx context.Context, e *relay.NewEvent) (bool, error) {
	if e.ID == "" {
		return false, relay.Errorf(relay.EINVALID, "event id: required")
	}
	for _, t := range e.Targets {
		if t.OrderKey != "" && t.OrderKey != e.Subject {
			return false, relay.Errorf(relay.EINVALID, "outbox target %s: order key %q is not the event's subject %q", t.Sink, t.OrderKey, e.Subject)
		}
	}
	if err := s.putRaw(ctx, e); err != nil {
		s.noteWrite(err)
		return false, err
	}
	buf, err := newRecord(e).encode()
	if err != nil {
		return false, err
	}
	rev, err := s.events.Create(ctx, eventKey(e.ID), buf)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		s.noteWrite(err)
		return false, unavailable("create event "+e.ID, err)
	}
	s.noteWrite(nil)
	s.noteOwn(rev)
	return true, nil
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
// so the first delivery's headers are the ones kept).
func (s *Store) putRaw(ctx context.Context, e *relay.NewEvent) error {
	subj := s.rawSubject(e.ID)
	msg := &nats.Msg{Subject: subj, Data: encodeRaw(&e.Delivery, e.Event)}
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID), jetstream.WithExpectLastSequencePerSubject(0))
	if isWrongLastSeq(err) {
		return nil // stored already: by a duplicate, a concurrent ingest or an ingest that failed later
	}
	if err != nil {
		return s.publishError(e.ID, len(msg.Data), err)
	}
	if !ack.Duplicate {
		return nil
	}
	// The id was published within the duplicate window. Normally that copy
	// is there; after a purge in the same window it is not, so store it
	// again without the id.
	if _, err := s.raw.GetLastMsgForSubject(ctx, subj); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return unavailable("read raw delivery "+e.ID, err)
	}
	msg = &nats.Msg{Subject: subj, Data: msg.Data}
	if _, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(0)); err != nil && !isWrongLastSeq(err) {
		return s.publishError(e.ID, len(msg.Data), err)
	}
	return nil
}

func (s *Store) publishError(id string, size int, err error) error {
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		return fmt.Errorf("natsstore: store raw delivery %s: %d bytes exceed the NATS max_payload (%d): raise max_payload on the servers: %w",
			id, size, s.nc.MaxPayload(), err)
	}
	return unavailable("store raw delivery "+id, err)
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}
