package natsstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Cursors are the last listed key, opaque to clients: a time (8 bytes,
// big endian) then strings separated by 0 (the same shape as the bbolt
// store's, so a client cannot tell the backends apart).
func encodeCursor(at int64, parts ...string) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(at))
	b = append(b, strings.Join(parts, "\x00")...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, nparts int) (*ikey, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 8 {
		return nil, relay.Errorf(relay.EINVALID, "cursor: not a cursor this server issued")
	}
	k := &ikey{at: int64(binary.BigEndian.Uint64(b[:8]))}
	rest := b[8:]
	if nparts == 2 {
		sink, id, ok := bytes.Cut(rest, []byte{0})
		if !ok {
			return nil, relay.Errorf(relay.EINVALID, "cursor: not a cursor this server issued")
		}
		k.s1, k.s2 = string(sink), string(id)
	} else {
		k.s1 = string(rest)
	}
	return k, nil
}

// ListEvents returns events newest first (by receive time, then id), from
// this replica's index after it caught up with every write acknowledged
// before the call. With Q it matches the event id or subject exactly and
// document numbers and counterparty names as case-insensitive substrings,
// and with a transaction so found the events that belong to it (payments,
// by their data.transaction_id).
func (s *Store) ListEvents(ctx context.Context, f relay.EventFilter) (relay.EventPage, error) {
	page := relay.EventPage{Events: []relay.EventSummary{}}
	limit := relay.ClampLimit(f.Limit)
	after, err := decodeCursor(f.Cursor, 1)
	if err != nil {
		return page, err
	}
	if err := s.sync(ctx); err != nil {
		return page, err
	}
	q := strings.TrimSpace(f.Q)
	lq := strings.ToLower(q)
	var sinceN, untilN int64
	if !f.Since.IsZero() {
		sinceN = f.Since.UnixNano()
	}
	if !f.Until.IsZero() {
		untilN = f.Until.UnixNano()
	}
	direct := func(ev *eventEntry) bool {
		return ev.id == q || ev.subject == q || containsFold(ev.doc, lq) || containsFold(ev.party, lq) || ev.returnedContains(lq)
	}
	// A payment matches when its transaction does: by id, or by what one
	// of the transaction's events carries (its document number).
	ofTransaction := func(ev *eventEntry) bool {
		if ev.txn == "" {
			return false
		}
		if ev.txn == q || containsFold(ev.txn, lq) {
			return true
		}
		found := false
		if set := s.view.bySubject[ev.txn]; set != nil {
			set.Ascend(nil, func(k ikey) bool {
				t := s.view.events[k.s1]
				found = t != nil && strings.HasPrefix(t.typ, "transaction.") && direct(t)
				return !found
			})
		}
		return found
	}
	match := func(ev *eventEntry) bool {
		if q != "" && !direct(ev) && !ofTransaction(ev) {
			return false
		}
		if f.Type != "" && !relay.MatchGlob(f.Type, ev.typ) {
			return false
		}
		if f.Status != "" && ev.status != f.Status {
			return false
		}
		if f.Subject != "" && ev.subject != f.Subject {
			return false
		}
		if f.Source != "" && relay.EventSource(ev.source) != f.Source {
			return false
		}
		if sinceN != 0 && ev.received < sinceN {
			return false
		}
		if untilN != 0 && ev.received > untilN {
			return false
		}
		return true
	}
	var last *eventEntry
	emit := func(ev *eventEntry) bool {
		if !match(ev) {
			return true
		}
		if len(page.Events) == limit {
			page.NextCursor = encodeCursor(last.received, last.id)
			return false
		}
		last = ev
		page.Events = append(page.Events, ev.summary())
		return true
	}
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	if f.Subject != "" {
		if set := s.view.bySubject[f.Subject]; set != nil {
			set.Descend(after, func(k ikey) bool {
				ev := s.view.events[k.s1]
				return ev == nil || emit(ev)
			})
		}
		return page, nil
	}
	below := after
	if below == nil && untilN != 0 {
		below = &ikey{at: untilN + 1}
	}
	s.view.byTime.Descend(below, func(k ikey) bool {
		if sinceN != 0 && k.at < sinceN {
			return false
		}
		ev := s.view.events[k.s1]
		return ev == nil || emit(ev)
	})
	return page, nil
}

// GetEvent returns everything stored about one event, read from the
// events bucket and the raw stream (not the index): any replica answers
// for every event.
func (s *Store) GetEvent(ctx context.Context, id string) (*relay.EventDetail, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var r *record
	for attempt := 0; ; attempt++ {
		e, err := s.leaderKV(ctx, s.events, eventKey(id))
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
			return nil, relay.Errorf(relay.ENOTFOUND, "event %s not found", id)
		}
		if err != nil {
			return nil, unavailable("read event "+id, err)
		}
		// Read from the stream leader, which holds every acknowledged write;
		// only a leader elected a moment ago may still be applying some.
		if e.Revision() < s.indexRev(id) && attempt < 50 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if r, err = decodeRecord(e.Value(), e.Revision()); err != nil {
			return nil, err
		}
		break
	}
	headers, body, ce, err := s.getRaw(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &relay.EventDetail{
		EventSummary:   r.summary(),
		Duplicates:     r.Duplicates,
		LastReceivedAt: fromNanos(r.LastReceivedAt),
		ParseError:     r.ParseError,
		Raw:            relay.RawDelivery{Headers: headers, BodyBase64: body},
		Event:          ce,
		Deliveries:     []relay.DeliveryState{},
		Operations:     r.Ops,
	}
	if json.Valid(body) {
		d.Raw.Body = body
	}
	if err := s.syncForWaiting(ctx, r); err != nil {
		return nil, err
	}
	s.view.mu.RLock()
	// The head of a waiting delivery's queue is what it waits behind:
	// one look-up, whatever the subject's history.
	blockers := map[string][2]string{} // sink → event id, state
	for _, dl := range r.Deliveries {
		if vd := s.view.del(id, dl.Sink); dl.State == relay.StatePending && vd != nil && vd.seq == dl.Seq && !s.view.isHead(vd) {
			if q := s.view.sinks[vd.sink].queues[vd.orderKey]; len(q) > 0 {
				blockers[dl.Sink] = [2]string{q[0].ev.id, q[0].state}
			}
		}
	}
	s.view.mu.RUnlock()
	for _, dl := range r.Deliveries {
		b := blockers[dl.Sink] // what it waits behind; none when it does not wait
		d.Deliveries = append(d.Deliveries, dl.Display(false, b[0], b[1]))
		if r.Subject != "" {
			cd, err := s.getCreated(ctx, dl.Sink, r.Subject)
			if err != nil {
				return nil, err
			}
			if cd != nil {
				d.Created = append(d.Created, *cd)
			}
		}
	}
	return d, nil
}

// syncForWaiting brings the view up to every write acknowledged before
// the call (sync) when r has an ordered pending delivery, whose waiting the
// view answers: what it names r waiting behind is then no older than the
// call, whichever replica wrote it.
func (s *Store) syncForWaiting(ctx context.Context, r *record) error {
	for _, d := range r.Deliveries {
		if d.OrderKey != "" && d.State == relay.StatePending {
			return s.sync(ctx)
		}
	}
	return nil
}

// Stats counts events by status and each sink's deliveries by state, from
// this replica's index after it caught up.
func (s *Store) Stats(ctx context.Context, now time.Time) (relay.Stats, error) {
	st := relay.Stats{Events: map[string]int64{}, Sinks: map[string]relay.SinkStats{}}
	if err := s.sync(ctx); err != nil {
		return st, err
	}
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	for k, n := range s.view.statusCounts {
		if n != 0 {
			st.Events[k] = n
		}
	}
	for name, sv := range s.view.sinks {
		ss := relay.SinkStats{
			Pending:     sv.counts[relay.StatePending],
			InFlight:    sv.counts[relay.StateInFlight],
			Delivered:   sv.counts[relay.StateDelivered],
			Skipped:     sv.counts[relay.StateSkipped],
			Dead:        sv.counts[relay.StateDead],
			NeedsReview: sv.counts[relay.StateNeedsReview],
		}
		ss.DeliveredLastHour, ss.FailedLastHour = sv.lastHour.Sum(now)
		if k, ok := sv.open.Min(); ok {
			if age := now.Sub(time.Unix(0, k.at)).Seconds(); age > 0 {
				ss.OldestPendingAge = age
			}
		}
		if ss == (relay.SinkStats{}) {
			continue
		}
		st.Sinks[name] = ss
	}
	return st, nil
}
