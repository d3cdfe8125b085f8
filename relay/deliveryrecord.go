package relay

import (
	"fmt"
	"time"
)

// MaxHistory bounds the attempts kept per delivery: the first 10 and the
// latest ones, which are what an operator reads. The record is rewritten on
// every state change, so it must stay small.
const MaxHistory = 50

// DeliveryRecord is the stored state of one event's delivery at one sink,
// as both backends keep it: what GetEvent shows (DeliveryState) plus what
// the state machine needs. Its methods are the delivery state machine
// (SPEC 4.1): each changes the record and returns a Change saying what else
// the store must persist or index. They read no store and never fail on
// I/O; a store loads the record, calls one, and writes the record and the
// Change in one unit (the river model: the core computes the state change,
// drivers persist it).
type DeliveryRecord struct {
	DeliveryState
	// OrderKey is the subject the delivery is ordered by at its sink
	// (ORDERING=subject); "" when unordered.
	OrderKey string `json:"order_key,omitempty"`
	// ScheduleStart is the attempt count when the retry schedule last
	// started (creation, redrive, replay, resolve-retry).
	ScheduleStart int `json:"schedule_start,omitempty"`
	// Reason says why the delivery is in its state (shown as the last error
	// when there is none, and as a dead letter's reason).
	Reason string `json:"reason,omitempty"`
}

// Change is what a state change of a DeliveryRecord asks of its store,
// besides writing the record.
type Change struct {
	From, To string
	// At is when the change happened.
	At time.Time
	// Due is, when To is pending, when the delivery may be claimed. A
	// store that orders by subject may keep an Enqueue'd one waiting.
	Due time.Time
	// Enqueue: the delivery joins the back of its subject's queue (new,
	// redriven or replayed from a final state); it is due at Due unless an
	// earlier delivery of its subject at the sink is open. Without it a
	// pending delivery keeps its place (a retry, a resolve-retry: still the
	// head of its queue).
	Enqueue bool
	// Release: the delivery left its subject's queue (a final state): the
	// next waiting delivery of the subject at the sink becomes due at At.
	Release bool
	// Closed: the delivery is no longer open (final or needs_review); it
	// leaves the index of open deliveries (oldest pending age).
	Closed bool
	// DeadLetter: listed as a dead letter from At (dead, needs_review).
	// Undead: no longer listed (it was, and it is redriven or resolved).
	DeadLetter, Undead bool
	// Created is the create-once record to write with the change; a store
	// writes it no later than the record (SPEC 3: a document is created
	// once per subject).
	Created *CreatedDocument
}

// NewDeliveryRecord is the record of a new delivery to t.Sink: pending,
// due at now (Change.Enqueue: a store that orders by subject places it).
func NewDeliveryRecord(t OutboxTarget, now time.Time) (*DeliveryRecord, Change) {
	r := &DeliveryRecord{DeliveryState: DeliveryState{Sink: t.Sink, State: StatePending, UpdatedAt: now.UTC()}, OrderKey: t.OrderKey}
	at := now.UTC()
	r.NextAttemptAt = &at
	return r, Change{To: StatePending, At: now, Due: now, Enqueue: true}
}

// Finish records attempt a of an in-flight delivery and moves it to
// t.State (pending to retry at t.NextAt, delivered, skipped, dead,
// needs_review).
func (r *DeliveryRecord) Finish(a Attempt, t Transition) (Change, error) {
	r.Attempts++
	r.History = AppendAttempt(r.History, a, MaxHistory)
	r.LastError = a.Error
	r.LastStatus = a.StatusCode
	r.PriorUnknown, r.PriorUnknownAt = t.PriorUnknown, t.PriorUnknownAt
	if t.KeepSchedule {
		r.ScheduleStart++
	}
	if t.Result != nil {
		r.Result = t.Result
	}
	r.State = StateInFlight
	ch, err := r.moveTo(t.State, t.NextAt, t.Reason, a.At)
	if err != nil {
		return ch, err
	}
	if Terminal(t.State) {
		ch.Created = t.Created
	}
	return ch, nil
}

// CountInterrupted records the attempt a crash interrupted (its outcome is
// unknown), so a delivery that keeps killing the process still reaches the
// end of its schedule.
func (r *DeliveryRecord) CountInterrupted(now time.Time) {
	r.Attempts++
	r.History = AppendAttempt(r.History, Attempt{At: now.UTC(), Outcome: OutcomeUnknown.String(),
		Error: "interrupted: the relay stopped while this attempt was in flight"}, MaxHistory)
}

// Resume settles a delivery whose claimer is gone while it was in flight
// (the outcome of its attempt is unknown): needs_review with lastError when
// review is set (a sink that must not be sent twice), else pending, due at
// now, PriorUnknown, with reason.
func (r *DeliveryRecord) Resume(now time.Time, review bool, lastError, reason string) Change {
	r.State = StateInFlight
	var ch Change
	if review {
		r.LastError = lastError
		ch, _ = r.moveTo(StateNeedsReview, time.Time{}, lastError, now)
		return ch
	}
	r.PriorUnknown, r.PriorUnknownAt = true, now.UTC()
	ch, _ = r.moveTo(StatePending, now, reason, now)
	return ch
}

// DeadUnsent moves a claimed delivery that was never sent (its stored
// event cannot be read, and will not be next time) to dead, without an
// attempt, with reason as its last error.
func (r *DeliveryRecord) DeadUnsent(reason string, now time.Time) Change {
	r.State = StateInFlight
	r.LastError = reason
	ch, _ := r.moveTo(StateDead, time.Time{}, reason, now)
	return ch
}

// Reopen moves a final or needs_review delivery back to pending with a
// fresh schedule, keeping its history: a needs_review one keeps its place
// at the head of its subject's queue, a final one joins the back.
func (r *DeliveryRecord) Reopen(now time.Time) Change {
	from := r.State
	r.ScheduleStart = r.Attempts
	r.PriorUnknown, r.PriorUnknownAt = false, time.Time{}
	r.Reason = ""
	r.State = StatePending
	r.UpdatedAt = now.UTC()
	at := now.UTC()
	r.NextAttemptAt = &at
	return Change{From: from, To: StatePending, At: now, Due: now, Enqueue: from != StateNeedsReview,
		Undead: from == StateDead || from == StateNeedsReview}
}

// Redrive reopens a dead delivery; ok is false (nothing changed) when the
// delivery is not dead.
func (r *DeliveryRecord) Redrive(now time.Time) (ch Change, ok bool) {
	if r == nil || r.State != StateDead {
		return Change{}, false
	}
	return r.Reopen(now), true
}

// CheckOutcome validates a resolution's outcome: delivered or retry.
func CheckOutcome(outcome string) error {
	if outcome != "delivered" && outcome != "retry" {
		return Errorf(EINVALID, "outcome: must be delivered or retry, not %q", outcome)
	}
	return nil
}

// CheckResolve reports why r (event eventID's delivery at res.Sink, nil
// when there is none) cannot be resolved with res, or nil when it can.
func (r *DeliveryRecord) CheckResolve(eventID string, res Resolution) error {
	if err := CheckOutcome(res.Outcome); err != nil {
		return err
	}
	if r == nil {
		return Errorf(ENOTFOUND, "event %s has no delivery to sink %q", eventID, res.Sink)
	}
	if r.State != StateNeedsReview {
		return Errorf(ECONFLICT, "delivery of %s to %s is %s, not needs_review", eventID, res.Sink, r.State)
	}
	return nil
}

// Resolve settles a needs_review delivery of event eventID (of subject):
// retry reopens it (still the head of its queue); delivered records what
// the operator found, and, when that names a document, the subject's
// create-once record (Change.Created). It returns the operator action to
// record with the change.
func (r *DeliveryRecord) Resolve(eventID, subject string, res Resolution, now time.Time) (Change, HistoryEntry, error) {
	if err := r.CheckResolve(eventID, res); err != nil {
		return Change{}, HistoryEntry{}, err
	}
	op := HistoryEntry{At: now.UTC(), Operator: res.Operator, Action: "resolve:" + res.Outcome, Sink: res.Sink}
	if res.Outcome == "retry" {
		return r.Reopen(now), op, nil
	}
	if res.Result != nil {
		r.Result = res.Result
		op.Detail = res.Result["document_number"]
	}
	r.LastError = ""
	ch, err := r.moveTo(StateDelivered, time.Time{}, "resolved by operator", now)
	if err != nil {
		return ch, op, err
	}
	ch.Undead = true
	ch.Created = ResolvedDocument(eventID, subject, res, now)
	return ch, op, nil
}

// ResolvedDocument is the create-once record a delivered resolution of
// event eventID (of subject) makes: nil unless it names a document number
// and the event has a subject.
func ResolvedDocument(eventID, subject string, res Resolution, now time.Time) *CreatedDocument {
	doc := res.Result["document_number"]
	if res.Outcome != "delivered" || doc == "" || subject == "" {
		return nil
	}
	return &CreatedDocument{Sink: res.Sink, Subject: subject, EventID: eventID, DocumentNumber: doc, CreatedAt: now.UTC()}
}

// ReplayEvent is what a replay decision needs of the stored event.
type ReplayEvent struct {
	ID       string
	Subject  string
	Unparsed bool
}

// ReplayPlan is what a replay does: Result as answered, the operator action
// to record, and the delivery record to store — r itself (changed), or,
// when the event was never routed to the sink, a new one (New set).
type ReplayPlan struct {
	Result ReplayResult
	Op     HistoryEntry
	Record *DeliveryRecord
	New    bool
	// Change is what the store must index; zero for a skipped replay
	// (nothing queued, the state kept).
	Change Change
	Queued bool
}

// PlanReplay decides a replay of ev to req.Target.Sink, where r is the
// event's delivery there (nil when none) and cd the sink's create-once
// record of the subject (nil when none, or when the sink is not
// create-once): refused (unparsed, wrong order key, delivery still open),
// skipped (the document exists), or queued (a new delivery, or r
// reopened at the back of its queue).
func PlanReplay(ev ReplayEvent, r *DeliveryRecord, req ReplayRequest, cd *CreatedDocument, now time.Time) (ReplayPlan, error) {
	t := req.Target
	if ev.Unparsed {
		return ReplayPlan{}, Errorf(EINVALID, "event %s is unparsed and cannot be sent to a sink", ev.ID)
	}
	if t.OrderKey != "" && t.OrderKey != ev.Subject {
		return ReplayPlan{}, Errorf(EINVALID, "order key %q is not the event's subject %q", t.OrderKey, ev.Subject)
	}
	if r != nil && !Terminal(r.State) {
		return ReplayPlan{}, Errorf(ECONFLICT, "delivery of %s to %s is %s; replay it once it is finished", ev.ID, t.Sink, r.State)
	}
	var own *DeliveryState
	if r != nil {
		own = &r.DeliveryState
	}
	if reason := ReplaySkip(req, cd, own); reason != "" {
		p := ReplayPlan{Result: ReplayResult{Skipped: 1, Reason: reason}, Record: r}
		if r == nil {
			// Never routed there: the delivery is recorded as skipped,
			// with the replay as its history.
			p.Record = &DeliveryRecord{DeliveryState: DeliveryState{Sink: t.Sink, State: StateSkipped, LastError: reason}, OrderKey: t.OrderKey, Reason: reason}
			p.New = true
		}
		p.Op = SkipReplay(&p.Record.DeliveryState, req, reason, now, MaxHistory)
		return p, nil
	}
	p := ReplayPlan{Result: ReplayResult{Queued: 1}, Queued: true, Record: r,
		Op: HistoryEntry{At: now.UTC(), Operator: req.Operator, Action: "replay", Sink: t.Sink}}
	if r == nil {
		p.Record, p.Change = NewDeliveryRecord(t, now)
		p.New = true
		return p, nil
	}
	r.OrderKey = t.OrderKey
	p.Change = r.Reopen(now)
	return p, nil
}

// Display is the record as GetEvent shows it: in flight when the store
// holds its claim (inFlight), its reason as the last error when it has none
// and is not delivered, and, when it waits behind an earlier event of its
// subject (waitingFor, that delivery's state), no next attempt time.
func (r *DeliveryRecord) Display(inFlight bool, waitingFor, waitingForState string) DeliveryState {
	st := r.DeliveryState
	if inFlight {
		st.State = StateInFlight
		st.NextAttemptAt = nil
	}
	if st.LastError == "" && r.Reason != "" && st.State != StateDelivered {
		st.LastError = r.Reason
	}
	if waitingFor != "" {
		st.NextAttemptAt = nil
		st.WaitingFor, st.WaitingForState = waitingFor, waitingForState
	}
	return st
}

// moveTo sets the record's state after a change at now and returns the
// Change (From is the state before).
func (r *DeliveryRecord) moveTo(state string, nextAt time.Time, reason string, now time.Time) (Change, error) {
	ch := Change{From: r.State, To: state, At: now}
	switch state {
	case StatePending:
		at := nextAt.UTC()
		r.NextAttemptAt = &at
		ch.Due = nextAt
	case StateDelivered, StateSkipped, StateDead:
		r.NextAttemptAt = nil
		ch.Release, ch.Closed = true, true
		ch.DeadLetter = state == StateDead
	case StateNeedsReview:
		r.NextAttemptAt = nil
		ch.Closed, ch.DeadLetter = true, true
	default:
		return Change{}, fmt.Errorf("relay: invalid transition of the delivery to %s to %q", r.Sink, state)
	}
	r.State = state
	r.Reason = reason
	r.UpdatedAt = now.UTC()
	return ch, nil
}
