package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// candidate is an entry ClaimDue will try to take.
type candidate struct {
	id       string
	seq      uint64
	takeover bool // an in-flight entry whose lease expired
}

// ClaimDue marks up to max due entries of sink in_flight, leased to this
// store for the sink's ack wait, and returns them with the due time of the
// next entry not yet due (zero when none). Due entries are the pending
// heads of their subject queues whose due time is not after now, and
// in-flight entries whose lease expired (their claimer died: they come back
// with PriorUnknown, or go to needs_review when ResumeInFlight was told to
// review this sink). Each claim is a compare-and-set on the event record,
// so two replicas never hold the same entry. A claimed entry whose raw
// copy or create-once record cannot be read (from the stream leader) is
// released at once: pending again, no attempt counted (dead, still without
// an attempt, when what was read cannot be decoded).
func (s *Store) ClaimDue(ctx context.Context, sink string, now time.Time, max int) ([]relay.Claim, time.Time, error) {
	if err := s.check(); err != nil {
		return nil, time.Time{}, err
	}
	if err := s.waitOwn(ctx); err != nil {
		return nil, time.Time{}, err
	}
	if max <= 0 {
		return nil, time.Time{}, nil
	}
	wall := s.clock().UnixNano()
	// Up to 2*max candidates: when another replica takes some of the first
	// max (they race for the same heads), the rest are tried instead.
	limit := 2 * max
	// While replicas have been racing for the same heads, each starts at a
	// random place among the first few due entries instead of the first:
	// order across subjects is by due time only roughly then (order within
	// a subject is kept: only a subject's head is ever due).
	window := limit
	contended := wall < s.contendedUntil.Load()
	if contended {
		window = 4 * max
	}
	cands, next, moreDue := s.candidates(sink, now, wall, limit, window)
	if contended && len(cands) > limit {
		var cut bool
		cands, cut = shuffleDue(cands, limit)
		moreDue = moreDue || cut
	}
	claims, tried, conflict, firstErr := s.claimAll(ctx, sink, cands, now, wall, max)
	if len(claims) == 0 && firstErr != nil {
		return nil, time.Time{}, firstErr
	}
	var nextAt time.Time
	if next != 0 {
		nextAt = time.Unix(0, next)
	}
	if conflict || tried > max {
		s.contendedUntil.Store(wall + int64(5*time.Second))
	}
	if moreDue || tried < len(cands) || conflict || firstErr != nil {
		// More is due, someone else changed a candidate or a read failed:
		// look again now instead of sleeping until the next due time.
		nextAt = now
	}
	return claims, nextAt, nil
}

// candidates reads from the view the entries to try, in order: in-flight
// entries whose lease ran out (up to limit), then due heads (up to window
// in all). next is the earliest later wake-up (a foreign lease's expiry or
// a due time, unix ns; 0 for none) and moreDue whether due entries were
// left out.
func (s *Store) candidates(sink string, now time.Time, wall int64, limit, window int) (cands []candidate, next int64, moreDue bool) {
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	sv := s.view.sinks[sink]
	if sv == nil {
		return nil, 0, false
	}
	sv.inflight.Ascend(nil, func(k ikey) bool {
		if k.at > wall {
			// The first foreign lease still running is a wake-up time;
			// this store's own leases are not (it finishes them itself).
			if d := s.view.del(k.s1, sink); d != nil && d.owner != s.owner {
				next = k.at
				return false
			}
			return true
		}
		if len(cands) < limit {
			cands = append(cands, candidate{id: k.s1, seq: k.seq, takeover: true})
		}
		return true
	})
	sv.due.Ascend(nil, func(k ikey) bool {
		if k.at > now.UnixNano() {
			if next == 0 || k.at < next {
				next = k.at
			}
			return false
		}
		if len(cands) >= window {
			moreDue = true
			return false
		}
		cands = append(cands, candidate{id: k.s1, seq: k.seq})
		return true
	})
	return cands, next, moreDue
}

// shuffleDue starts the due candidates (after the take-overs) at a random
// one, then cuts the list to limit; cut says whether it cut any.
func shuffleDue(cands []candidate, limit int) ([]candidate, bool) {
	takeovers := 0
	for takeovers < len(cands) && cands[takeovers].takeover {
		takeovers++
	}
	due := cands[takeovers:]
	if len(due) > 1 {
		r := rand.IntN(len(due))
		due = append(due[r:len(due):len(due)], due[:r]...)
		cands = append(cands[:takeovers:takeovers], due...)
	}
	if len(cands) > limit {
		return cands[:limit], true
	}
	return cands, false
}

// claimAll claims candidates in parallel batches until max are claimed;
// after a batch with a conflict (another replica took one) it tries the
// next candidates. tried is how many it tried, firstErr the first read or
// write error.
func (s *Store) claimAll(ctx context.Context, sink string, cands []candidate, now time.Time, wall int64, max int) (claims []relay.Claim, tried int, conflict bool, firstErr error) {
	for tried < len(cands) && len(claims) < max && (tried == 0 || conflict) {
		batch := cands[tried:min(len(cands), tried+max-len(claims))]
		tried += len(batch)
		results := make([]*relay.Claim, len(batch))
		errs := make([]error, len(batch))
		conflicts := make([]bool, len(batch))
		parallel(len(batch), 16, func(i int) {
			results[i], conflicts[i], errs[i] = s.claim(ctx, sink, batch[i], now, wall)
		})
		conflict = false
		for i := range batch {
			switch {
			case errs[i] != nil:
				if firstErr == nil {
					firstErr = errs[i]
				}
			case results[i] != nil:
				claims = append(claims, *results[i])
			case conflicts[i]:
				conflict = true
			}
		}
	}
	return claims, tried, conflict, firstErr
}

// claim takes one candidate: it reports a nil claim with conflict set when
// the entry is no longer what the view said (someone else took or changed
// it).
func (s *Store) claim(ctx context.Context, sink string, c candidate, now time.Time, wall int64) (*relay.Claim, bool, error) {
	review := s.reviews(sink)
	var rec *record
	var took bool
	leaseUntil := wall + int64(s.ackWait(sink))
	rev, err := s.mutate(ctx, c.id, s.indexRev(c.id), func(r *record) error {
		d := r.delivery(sink)
		if d == nil || d.Seq != c.seq {
			return errNoChange
		}
		if c.takeover {
			if d.State != relay.StateInFlight || d.Lease > wall {
				return errNoChange
			}
			if review {
				why := "outcome unknown: the replica delivering it stopped (its claim expired)"
				took = false
				d.apply(d.Resume(now, true, why, why))
				return nil
			}
			d.PriorUnknown, d.PriorUnknownAt = true, now.UTC()
			d.Reason = "resumed: the replica delivering it stopped (its claim expired)"
		} else {
			// Same seq and still pending: still the head of its queue (a
			// head can only lose its place by being finished and enqueued
			// again, which changes its seq).
			if d.State != relay.StatePending || d.Due > now.UnixNano() {
				return errNoChange
			}
		}
		d.State = relay.StateInFlight
		d.Owner, d.Lease = s.owner, leaseUntil
		d.UpdatedAt = now.UTC()
		took = true
		rec = r
		return nil
	})
	if err != nil {
		if relay.ErrorCode(err) == relay.ENOTFOUND {
			return nil, true, nil
		}
		return nil, false, err
	}
	if rev == 0 || !took {
		return nil, rev == 0, nil
	}
	if buf, err := rec.encode(); err == nil {
		s.claimMu.Lock()
		s.claims[claimRef{sink, c.id}] = held{rev: rev, rec: buf}
		s.claimMu.Unlock()
	}
	cl, err := s.loadClaim(ctx, sink, rec)
	if err != nil {
		// Nothing was sent: the entry goes back to pending, without an
		// attempt, rather than wait in flight for its lease to expire and
		// come back as an unknown outcome (needs_review at a sink that
		// reviews them). SPEC 5. Stored data that was read but cannot be
		// decoded will not decode next time either: that entry is dead
		// (nothing sent, so not needs_review), for an operator to see.
		reason := "claim released: the event could not be loaded: " + err.Error()
		to := func(d *delivery) error {
			d.State = relay.StatePending
			d.Owner, d.Lease = "", 0
			d.setDue(now.Add(releaseDelay))
			d.Reason = reason
			d.UpdatedAt = now.UTC()
			return nil
		}
		if errors.Is(err, errCorruptRaw) || errors.Is(err, errUnreadable) {
			reason = "the stored event cannot be read: " + err.Error()
			to = func(d *delivery) error {
				d.apply(d.DeadUnsent(reason, now))
				return nil
			}
		}
		if rerr := s.release(ctx, sink, c.id, rev, rec, to); rerr != nil {
			s.log.Error("natsstore: release a claim that could not be loaded", "event_id", c.id, "sink", sink, "error", rerr)
		}
		return nil, false, err
	}
	return cl, false, nil
}

// errUnreadable marks stored data that was read but cannot be decoded.
var errUnreadable = errors.New("stored data cannot be decoded")

// releaseDelay is how long a released claim waits before it is due again:
// its event could not be loaded, so NATS is failing; the claimer should
// not spin on it.
const releaseDelay = 500 * time.Millisecond

// releaseWait bounds how long release keeps trying.
const releaseWait = 10 * time.Second

// release moves an entry this store claimed (at revision rev, as rec) but
// never sent out of flight with to: back to pending (keeping its place at
// the head of its queue, its attempts and whether an earlier outcome is
// unknown), or dead. It retries for a while (NATS failing is why it is
// called). Its compare-and-set requires the entry still in flight under
// this store's claim, so it never undoes another replica's takeover; an
// expired lease nobody took over yet is still released (nothing was sent).
func (s *Store) release(ctx context.Context, sink, id string, rev uint64, rec *record, to func(d *delivery) error) error {
	rctx, cancel := context.WithTimeout(ctx, releaseWait)
	defer cancel()
	hint, hintRev := rec, rev
	var err error
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		_, err = s.mutateFrom(rctx, id, rev, hint, hintRev, func(r *record) error {
			d := r.delivery(sink)
			if d == nil || d.State != relay.StateInFlight || d.Owner != s.owner {
				return errNoChange
			}
			return to(d)
		})
		hint = nil
		if err == nil || relay.ErrorCode(err) == relay.ENOTFOUND {
			s.claimMu.Lock()
			delete(s.claims, claimRef{sink, id})
			s.claimMu.Unlock()
			return nil
		}
		if sleepCtx(rctx, wait) != nil {
			return err
		}
	}
}

// loadClaim reads what a worker needs for a claimed record: the raw
// delivery and the sink's create-once record of the subject.
func (s *Store) loadClaim(ctx context.Context, sink string, r *record) (*relay.Claim, error) {
	d := r.delivery(sink)
	var (
		headers  map[string]string
		body     []byte
		ce       json.RawMessage
		rawErr   error
		created  *relay.CreatedDocument
		crErr    error
		fetchRaw = func() {
			headers, body, ce, rawErr = s.getRaw(ctx, r.ID)
		}
	)
	if r.Subject != "" {
		done := make(chan struct{})
		go func() {
			defer close(done)
			fetchRaw()
		}()
		created, crErr = s.getCreated(ctx, sink, r.Subject)
		<-done
	} else {
		fetchRaw()
	}
	if rawErr != nil {
		return nil, rawErr
	}
	if crErr != nil {
		return nil, crErr
	}
	data, err := relay.EventData(ce, r.DataOffset)
	if err != nil {
		return nil, fmt.Errorf("natsstore: event %s: %w: %w", r.ID, errUnreadable, err)
	}
	return &relay.Claim{
		Outbound: relay.Outbound{
			EventID: r.ID, Sink: sink, Type: r.Type, Subject: r.Subject, Test: r.Test,
			Event: ce, Data: data,
			Delivery:       relay.Delivery{ReceivedAt: fromNanos(r.ReceivedAt), Headers: headers, Body: body},
			Attempt:        d.Attempts + 1,
			PriorUnknown:   d.PriorUnknown,
			PriorUnknownAt: d.PriorUnknownAt,
			Created:        created,
		},
		ScheduleAttempt: d.Attempts - d.ScheduleStart + 1,
	}, nil
}

// getRaw reads the raw delivery of id.
func (s *Store) getRaw(ctx context.Context, id string) (map[string]string, []byte, json.RawMessage, error) {
	_, _, rawName := Names(s.opts.Prefix)
	m, err := s.leaderMsg(ctx, rawName, s.rawSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil, nil, fmt.Errorf("natsstore: raw delivery of %s missing", id)
	}
	if err != nil {
		return nil, nil, nil, unavailable("read raw delivery "+id, err)
	}
	h, body, ce, err := decodeRaw(m.Data)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("natsstore: raw delivery of %s: %w", id, err)
	}
	return h, body, ce, nil
}

func (s *Store) getCreated(ctx context.Context, sink, subject string) (*relay.CreatedDocument, error) {
	e, err := s.leaderKV(ctx, s.create, createdKey(sink, subject))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read create-once record", err)
	}
	var cd relay.CreatedDocument
	if err := json.Unmarshal(e.Value(), &cd); err != nil {
		return nil, fmt.Errorf("natsstore: create-once record %s/%s: %w: %w", sink, subject, errUnreadable, err)
	}
	return &cd, nil
}

// putCreated writes a create-once record: an atomic create, or (the sink
// created a document again, or an operator resolved one) an update by the
// revision read, so concurrent writers never lose each other's write
// unnoticed.
func (s *Store) putCreated(ctx context.Context, cd *relay.CreatedDocument) error {
	buf, err := json.Marshal(cd)
	if err != nil {
		return err
	}
	key := createdKey(cd.Sink, cd.Subject)
	for range 20 {
		_, err := s.create.Create(ctx, key, buf)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return unavailable("create create-once record", err)
		}
		e, err := s.leaderKV(ctx, s.create, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return unavailable("read create-once record", err)
		}
		if _, err := s.create.Update(ctx, key, buf, e.Revision()); err == nil {
			return nil
		} else if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return unavailable("update create-once record", err)
		}
	}
	return relay.Errorf(relay.EUNAVAILABLE, "create-once record %s/%s: too many concurrent writers", cd.Sink, cd.Subject)
}

// Finish records an attempt of an entry this store claimed and moves it to
// t.State. A create-once record in t is written first: if the process dies
// in between, the entry is resumed and its next claim already carries the
// record, so the document is not created twice. It fails with ECONFLICT
// when the entry is not in flight under this store's claim (never claimed,
// finished already, or taken over by another replica after its lease
// expired).
func (s *Store) Finish(ctx context.Context, sink, eventID string, a relay.Attempt, t relay.Transition) error {
	if err := s.check(); err != nil {
		return err
	}
	ref := claimRef{sink, eventID}
	s.claimMu.Lock()
	h := s.claims[ref]
	s.claimMu.Unlock()
	claimRev := h.rev
	var hint *record
	if h.rec != nil {
		hint, _ = decodeRecord(h.rec, h.rev)
	}
	notInFlight := func(d *delivery) error {
		state := "missing"
		if d != nil {
			state = d.State
			if d.State == relay.StateInFlight {
				state = "in flight at another replica"
			}
		}
		return relay.Errorf(relay.ECONFLICT, "delivery %s to %s is not in flight here (%s)", eventID, sink, state)
	}
	check := func(r *record) (*delivery, error) {
		d := r.delivery(sink)
		if d == nil || d.State != relay.StateInFlight || d.Owner != s.owner {
			return d, notInFlight(d)
		}
		return d, nil
	}
	if t.Created != nil {
		// Check the claim before writing the record.
		e, err := s.leaderKV(ctx, s.events, eventKey(eventID))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return relay.Errorf(relay.ECONFLICT, "delivery %s to %s is not in flight: no such event", eventID, sink)
		}
		if err != nil {
			return unavailable("read event "+eventID, err)
		}
		r, err := decodeRecord(e.Value(), e.Revision())
		if err != nil {
			return err
		}
		if e.Revision() >= claimRev {
			if _, err := check(r); err != nil {
				return err
			}
			hint, claimRev = r, e.Revision()
		}
		if err := s.putCreated(ctx, t.Created); err != nil {
			return err
		}
	}
	_, err := s.mutateFrom(ctx, eventID, claimRev, hint, claimRev, func(r *record) error {
		d, err := check(r)
		if err != nil {
			return err
		}
		ch, err := d.Finish(a, t)
		if err != nil {
			return fmt.Errorf("natsstore: %s: %w", eventID, err)
		}
		d.apply(ch)
		return nil
	})
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return relay.Errorf(relay.ECONFLICT, "delivery %s to %s is not in flight: no such event", eventID, sink)
	}
	if err == nil || relay.ErrorCode(err) == relay.ECONFLICT {
		s.claimMu.Lock()
		delete(s.claims, ref)
		s.claimMu.Unlock()
	}
	return err
}

// reviews returns the review flag ResumeInFlight recorded for sink.
func (s *Store) reviews(sink string) bool {
	s.policyMu.Lock()
	defer s.policyMu.Unlock()
	return s.review[sink]
}

// ResumeInFlight handles in-flight entries of sink whose claimer is gone:
// this store's own (a restart of the dispatcher) and those whose lease
// expired (a replica that died). Entries another live replica is
// delivering are left alone; ClaimDue takes them over if their lease
// expires. review moves them to needs_review (unknown outcome at a
// non-idempotent sink), else back to pending, due at now, PriorUnknown.
// The flag is remembered for ClaimDue's takeovers of this sink.
func (s *Store) ResumeInFlight(ctx context.Context, sink string, review bool, now time.Time) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	s.policyMu.Lock()
	s.review[sink] = review
	s.policyMu.Unlock()
	if err := s.sync(ctx); err != nil {
		return 0, err
	}
	wall := s.clock().UnixNano()
	type target struct {
		id  string
		seq uint64
	}
	var targets []target
	s.view.mu.RLock()
	if sv := s.view.sinks[sink]; sv != nil {
		sv.inflight.Ascend(nil, func(k ikey) bool {
			if d := s.view.del(k.s1, sink); d != nil && (d.owner == s.owner || d.lease <= wall) {
				targets = append(targets, target{k.s1, k.seq})
			}
			return true
		})
	}
	s.view.mu.RUnlock()
	n := 0
	for _, tg := range targets {
		rev, err := s.mutate(ctx, tg.id, 0, func(r *record) error {
			d := r.delivery(sink)
			if d == nil || d.Seq != tg.seq || d.State != relay.StateInFlight || (d.Owner != s.owner && d.Lease > wall) {
				return errNoChange
			}
			d.apply(d.Resume(now, review, "outcome unknown: the relay stopped while this delivery was in flight", "resumed after restart"))
			return nil
		})
		if relay.ErrorCode(err) == relay.ENOTFOUND {
			continue
		}
		if err != nil {
			return n, err
		}
		if rev != 0 {
			n++
			s.claimMu.Lock()
			delete(s.claims, claimRef{sink, tg.id})
			s.claimMu.Unlock()
		}
	}
	return n, nil
}

// Replay queues a new delivery of a stored event to a sink: a new entry,
// or its finished one enqueued again (history kept, fresh schedule). At a
// create-once sink whose subject already has a document it queues nothing
// and records the replay as skipped. The create-once record is read after
// the event record and the write is a compare-and-set on the revision read
// first: a document is recorded before the delivery that created it is
// marked delivered, so a delivery the replay saw finished has its record
// visible by then; one created later by another event's delivery is caught
// at claim time like any later event of the subject.
func (s *Store) Replay(ctx context.Context, eventID string, req relay.ReplayRequest, now time.Time) (relay.ReplayResult, error) {
	t := req.Target
	var res relay.ReplayResult
	_, err := s.mutate(ctx, eventID, s.indexRev(eventID), func(r *record) error {
		var cd *relay.CreatedDocument
		if req.CreateOnce && r.Subject != "" {
			var err error
			if cd, err = s.getCreated(ctx, t.Sink, r.Subject); err != nil {
				return err
			}
		}
		d := r.delivery(t.Sink)
		var own *relay.DeliveryRecord
		if d != nil {
			own = &d.DeliveryRecord
		}
		p, err := relay.PlanReplay(relay.ReplayEvent{ID: eventID, Subject: r.Subject, Unparsed: r.Unparsed}, own, req, cd, now)
		if err != nil {
			return err
		}
		res = p.Result
		switch {
		case p.New && p.Queued:
			r.Deliveries = append(r.Deliveries, newDelivery(t, now))
		case p.New:
			r.Deliveries = append(r.Deliveries, &delivery{DeliveryRecord: *p.Record})
		case p.Queued:
			d.apply(p.Change)
		}
		r.addOp(p.Op)
		return nil
	})
	if err != nil {
		return relay.ReplayResult{}, err
	}
	return res, nil
}

// Resolve settles a needs_review delivery: delivered (with what the
// operator found, recorded as the subject's create-once record when it
// names a document) or retry (pending again, still the head of its queue).
func (s *Store) Resolve(ctx context.Context, eventID string, res relay.Resolution, now time.Time) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := relay.CheckOutcome(res.Outcome); err != nil {
		return err
	}
	validate := func(r *record) (*delivery, error) {
		d := r.delivery(res.Sink)
		var rec *relay.DeliveryRecord
		if d != nil {
			rec = &d.DeliveryRecord
		}
		return d, rec.CheckResolve(eventID, res)
	}
	if doc := res.Result["document_number"]; res.Outcome == "delivered" && doc != "" {
		// Validate first, then write the create-once record, then settle.
		e, err := s.leaderKV(ctx, s.events, eventKey(eventID))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return relay.Errorf(relay.ENOTFOUND, "event %s not found", eventID)
		}
		if err != nil {
			return unavailable("read event "+eventID, err)
		}
		r, err := decodeRecord(e.Value(), e.Revision())
		if err != nil {
			return err
		}
		if _, err := validate(r); err != nil {
			return err
		}
		if cd := relay.ResolvedDocument(eventID, r.Subject, res, now); cd != nil {
			if err := s.putCreated(ctx, cd); err != nil {
				return err
			}
		}
	}
	_, err := s.mutate(ctx, eventID, s.indexRev(eventID), func(r *record) error {
		d, err := validate(r)
		if err != nil {
			return err
		}
		ch, op, err := d.Resolve(eventID, r.Subject, res, now)
		if err != nil {
			return err
		}
		d.apply(ch)
		r.addOp(op)
		return nil
	})
	return err
}
