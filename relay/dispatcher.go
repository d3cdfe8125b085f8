package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// SinkSpec is one configured sink and how the dispatcher drives it.
type SinkSpec struct {
	Name        string
	Kind        string
	Sink        Sink
	Route       Route
	Concurrency int
	Timeout     time.Duration
	Schedule    []time.Duration
	// ReviewUnknown sends an unknown outcome to needs_review instead of
	// retrying (SINK_<NAME>_ON_UNKNOWN=review).
	ReviewUnknown bool
	// CreateOnce marks a non-idempotent sink that creates one document per
	// subject: a subject with a created document is skipped.
	CreateOnce bool
	// ChecksUnknown marks a sink that looks up whether an earlier attempt
	// took effect (Outbound.PriorUnknown): after a crash its in-flight
	// entries are retried (the sink checks first) rather than reviewed.
	ChecksUnknown bool
}

// DispatchObserver receives one call per finished attempt (metrics).
type DispatchObserver func(sink string, r Result, d time.Duration)

// Dispatcher delivers outbox entries: per sink, one claimer and Concurrency
// workers. It never holds an entry only in memory: an entry is claimed
// (in_flight, on disk) before it is sent and its attempt is recorded after.
// It wakes on Notify and on the next due time; it does not poll.
type Dispatcher struct {
	store   Store
	log     *slog.Logger
	observe DispatchObserver
	clock   Clock
	rnd     func(int64) int64
	// wake is the running sinks' wake-up channels by name, replaced (never
	// changed in place) when sinks come and go, so Notify on the ingest
	// path takes no lock.
	wake     atomic.Pointer[map[string]chan struct{}]
	byName   atomic.Pointer[map[string]*SinkSpec] // published with wake
	mu       sync.Mutex
	specs    []*SinkSpec          // the sinks, in order (guarded by mu)
	running  map[string]*sinkLoop // by name, once started (guarded by mu)
	ctx      context.Context      // the loops' context, once started
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	started  bool
	stopped  bool
	stopOnce sync.Once
}

// sinkLoop is one running sink: its spec, how to stop it and when it has.
type sinkLoop struct {
	spec   *SinkSpec
	wake   chan struct{}
	cancel context.CancelFunc
}

// DispatcherOptions are the dispatcher's optional parts.
type DispatcherOptions struct {
	Logger  *slog.Logger
	Observe DispatchObserver
	// Clock is the dispatcher's time: attempts' times, due times and the
	// sleep until the next due entry. nil means the wall clock.
	Clock Clock
	// Rand returns a uniform int64 in [0, n) (jitter); default math/rand/v2.
	Rand func(n int64) int64
}

// NewDispatcher returns a dispatcher for specs over store.
func NewDispatcher(store Store, specs []*SinkSpec, o DispatcherOptions) *Dispatcher {
	d := &Dispatcher{store: store, log: o.Logger, observe: o.Observe, clock: o.Clock, rnd: o.Rand,
		running: make(map[string]*sinkLoop, len(specs))}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.clock == nil {
		d.clock = WallClock{}
	}
	d.wake.Store(&map[string]chan struct{}{})
	for _, s := range specs {
		withDefaults(s)
		d.specs = append(d.specs, s)
	}
	d.publishWake()
	return d
}

func withDefaults(s *SinkSpec) {
	if s.Concurrency <= 0 {
		s.Concurrency = 1
	}
	if s.Timeout <= 0 {
		s.Timeout = 30 * time.Second
	}
}

// Notify wakes the named sinks' claimers (new or redriven entries).
func (d *Dispatcher) Notify(sinks []string) {
	wake := *d.wake.Load()
	for _, s := range sinks {
		if ch, ok := wake[s]; ok {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// NotifyAll wakes every sink.
func (d *Dispatcher) NotifyAll() {
	for _, ch := range *d.wake.Load() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Spec returns the running (or, before Start, configured) sink called
// name. It takes no lock (a store may ask while sinks change).
func (d *Dispatcher) Spec(name string) (*SinkSpec, bool) {
	s, ok := (*d.byName.Load())[name]
	return s, ok
}

// SetSinks starts the sinks of add and stops those named in remove, while
// the dispatcher runs (or, before Start, changes what Start starts). A sink
// of add whose name is already running replaces it: the old loop stops
// claiming and finishes and records, in the background, the attempts it
// began with its own configuration (SPEC 6: an attempt in flight finishes
// with what it started with), while the new one claims the next
// deliveries at once. The entries the old loop holds are in flight on disk,
// so the new loop cannot claim them twice; for the same reason a
// replacement does not resume in-flight entries (only a sink this process
// has not run yet does, as at Start). Stop waits for the old loops too.
func (d *Dispatcher) SetSinks(ctx context.Context, add []*SinkSpec, remove []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return errors.New("relay: dispatcher stopped")
	}
	gone := make(map[string]bool, len(add)+len(remove))
	for _, name := range remove {
		gone[name] = true
	}
	for _, s := range add {
		gone[s.Name] = true
	}
	kept := d.specs[:0:0]
	for _, s := range d.specs {
		if !gone[s.Name] {
			kept = append(kept, s)
		}
	}
	replaced := make(map[string]bool, len(gone))
	for name := range gone {
		if l := d.running[name]; l != nil {
			l.cancel()
			delete(d.running, name)
			replaced[name] = true
		}
	}
	for _, s := range add {
		withDefaults(s)
		kept = append(kept, s)
	}
	d.specs = kept
	d.publishWake()
	if !d.started {
		return nil
	}
	var errs []error
	for _, s := range add {
		if !replaced[s.Name] {
			if err := d.resume(ctx, s); err != nil {
				errs = append(errs, err)
			}
		}
		d.startLoop(s)
	}
	return errors.Join(errs...)
}

// publishWake replaces the wake-up map with one channel per sink; a sink
// that had one keeps it, so a replacing loop hears what was meant for the
// old one (called with mu held).
func (d *Dispatcher) publishWake() {
	old := *d.wake.Load()
	wake := make(map[string]chan struct{}, len(d.specs))
	byName := make(map[string]*SinkSpec, len(d.specs))
	for _, s := range d.specs {
		ch := old[s.Name]
		if ch == nil {
			ch = make(chan struct{}, 1)
		}
		wake[s.Name] = ch
		byName[s.Name] = s
	}
	d.byName.Store(&byName)
	d.wake.Store(&wake)
}

// resume returns what an earlier process left in flight at s to pending
// (or review) and tells the store the sink's unknown-outcome policy.
func (d *Dispatcher) resume(ctx context.Context, s *SinkSpec) error {
	review := s.ReviewUnknown && !s.ChecksUnknown
	n, err := d.store.ResumeInFlight(ctx, s.Name, review, d.clock.Now())
	if err != nil {
		return fmt.Errorf("relay: resume in-flight deliveries of %s: %w", s.Name, err)
	}
	if n > 0 {
		d.log.Warn("resumed deliveries left in flight by a stop", "sink", s.Name, "count", n, "to_review", review)
	}
	return nil
}

// startLoop starts s's claimer and workers (called with mu held, after
// Start).
func (d *Dispatcher) startLoop(s *SinkSpec) {
	ctx, cancel := context.WithCancel(d.ctx)
	l := &sinkLoop{spec: s, wake: (*d.wake.Load())[s.Name], cancel: cancel}
	d.running[s.Name] = l
	d.wg.Add(1)
	go d.runSink(ctx, s, l.wake)
}

// Start resumes what a crash left in flight and starts the sinks' loops.
// The loops run until Stop (ctx only bounds the resume step): a dispatcher
// is stopped deliberately, after the listeners, so it can finish and record
// the attempts already sent.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return errors.New("relay: dispatcher already started")
	}
	if d.stopped {
		// Stop has run (its once is spent): goroutines started now would
		// never be stopped.
		return errors.New("relay: dispatcher already stopped")
	}
	d.started = true
	for _, s := range d.specs {
		if err := d.resume(ctx, s); err != nil {
			return err
		}
	}
	d.ctx, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, s := range d.specs {
		d.startLoop(s)
	}
	return nil
}

// Stop stops claiming, lets in-flight deliveries finish (each bounded by its
// sink's timeout) and records them, then returns. Idempotent; safe before
// Start.
func (d *Dispatcher) Stop() {
	d.stopOnce.Do(func() {
		d.mu.Lock()
		cancel := d.cancel
		d.stopped = true
		d.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		d.wg.Wait()
	})
}

// Prefetch depth: how many claims a sink keeps ready beyond its workers.
// A claim costs a commit of the single writer, which under ingest load
// takes milliseconds, so a sink that claims only a few entries per commit
// cannot keep pace with ingest (docs/WRITEPATH.md, "Delivery keeping
// pace"). A sink whose unknown outcomes are simply retried (file, stdout,
// http) keeps up to prefetchPerWorker×CONCURRENCY claims ready; a sink
// that looks up an unknown outcome before retrying (OnlinePajak) keeps
// CONCURRENCY, since each claim a crash leaves behind costs it a look-up;
// a sink that sends unknown outcomes to review keeps none, since a claim
// never sent would land in needs_review after a crash.
//
// The claims waiting for a worker hold their bodies in memory: once they
// hold prefetchBytes, the claimer claims nothing more until workers have
// taken some, so a sink holds at most about prefetchBytes plus one claim
// batch (which never exceeds the free slots).
const (
	prefetchPerWorker = 8
	prefetchBytes     = 8 << 20
)

func prefetchDepth(s *SinkSpec) int {
	switch {
	case s.ReviewUnknown && !s.ChecksUnknown:
		return 0
	case s.ChecksUnknown:
		return s.Concurrency
	default:
		return prefetchPerWorker * s.Concurrency
	}
}

// claimLimit is how many due entries the claimer asks for with idle free
// slots while the claims waiting for a worker hold queued bytes: none once
// they hold prefetchBytes (the workers taking them frees slots and wakes
// the claimer again).
func claimLimit(idle int, queued int64) int {
	if queued >= prefetchBytes {
		return 0
	}
	return idle
}

// claimBytes is what a claim holds in memory until it is sent.
func claimBytes(c *Claim) int64 {
	return int64(len(c.Delivery.Body) + len(c.Event))
}

// runSink is one sink's claimer: it claims as many due entries as it has
// free workers (plus a prefetch, prefetchDepth) and sleeps until a
// wake-up, a worker coming free or the next due time (on the dispatcher's
// clock).
func (d *Dispatcher) runSink(ctx context.Context, s *SinkSpec, wake <-chan struct{}) {
	defer d.wg.Done()
	prefetch := prefetchDepth(s)
	work := make(chan Claim, prefetch)
	free := make(chan struct{}, s.Concurrency+prefetch)
	var queued atomic.Int64 // bytes of the claims in work
	spawn, stop := d.startWorkers(s, work, free, &queued)
	defer stop()
	idle := s.Concurrency + prefetch
	backoff := time.Duration(0)
	for {
		// Collect workers that came free.
	collect:
		for {
			select {
			case <-free:
				idle++
			default:
				break collect
			}
		}
		var next time.Time
		now := d.clock.Now()
		if limit := claimLimit(idle, queued.Load()); limit > 0 {
			claims, n, err := d.store.ClaimDue(ctx, s.Name, now, limit)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				backoff = min(max(backoff*2, 100*time.Millisecond), 5*time.Second)
				d.log.Error("claim due deliveries", "sink", s.Name, "error", err, "retry_in", backoff)
				next = now.Add(backoff)
			} else {
				backoff = 0
				next = n
				for _, c := range claims {
					idle--
					spawn()
					queued.Add(claimBytes(&c))
					work <- c
				}
				if len(claims) > 0 && idle > 0 && !n.IsZero() && !n.After(now) {
					continue // more are due already
				}
			}
		}
		var timerC <-chan time.Time
		if !next.IsZero() && idle > 0 {
			// Wake at next, measured on the clock the claim used; at least
			// a millisecond after it, so an answer "due now" cannot spin.
			timerC = d.clock.Until(maxTime(next, now.Add(time.Millisecond)))
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-free:
			idle++
		case <-timerC:
		}
	}
}

// startWorkers prepares the sink's workers, which deliver the claims sent
// on work and report on free when they can take another. Workers start on
// demand — spawn, called before each claim is sent, starts one while fewer
// than Concurrency run — so a relay with thousands of idle sinks (sources)
// holds no idle workers. The returned stop closes work and waits for the
// workers and for the records of their attempts.
func (d *Dispatcher) startWorkers(s *SinkSpec, work chan Claim, free chan<- struct{}, queued *atomic.Int64) (spawn, stop func()) {
	// A worker hands its attempt to be recorded and takes the next claim
	// at once: the records of several workers then share one commit
	// instead of each worker waiting for its own fsync. recording bounds
	// how many attempts may wait to be recorded.
	recording := make(chan struct{}, max(4*s.Concurrency, 2*(s.Concurrency+prefetchDepth(s))))
	var records sync.WaitGroup
	var workers sync.WaitGroup
	started := 0
	worker := func() {
		defer workers.Done()
		for c := range work {
			queued.Add(-claimBytes(&c))
			a, t := d.deliver(s, c)
			recording <- struct{}{}
			records.Add(1)
			go func() {
				defer records.Done()
				d.record(s, c.EventID, a, t)
				<-recording
				// The record may have made something due (a retry,
				// the next event of the subject): look again.
				d.Notify([]string{s.Name})
			}()
			free <- struct{}{}
		}
	}
	spawn = func() {
		if started < s.Concurrency {
			started++
			workers.Add(1)
			go worker()
		}
	}
	return spawn, func() {
		close(work)
		workers.Wait()
		records.Wait()
	}
}

// deliver runs one attempt and returns it with the transition to record.
// It uses its own context bounded by the sink's timeout, so a stopping
// relay finishes and records what it already sent instead of abandoning it.
// Until the record is committed the entry stays in flight on disk: a crash
// in between resumes it like any interrupted attempt.
func (d *Dispatcher) deliver(s *SinkSpec, c Claim) (Attempt, Transition) {
	start := d.clock.Now()
	var res Result
	if s.CreateOnce && c.Created != nil {
		res = Skipped(fmt.Sprintf("document %s already created for %s by event %s", docOrDash(c.Created.DocumentNumber), c.Subject, c.Created.EventID))
	} else {
		res = d.call(s, c)
	}
	elapsed := d.clock.Now().Sub(start)
	if d.observe != nil {
		d.observe(s.Name, res, elapsed)
	}
	t := d.transition(s, c, res, start, start.Add(elapsed))
	a := Attempt{At: start.UTC(), Duration: elapsed, Outcome: res.Outcome.String(), StatusCode: res.StatusCode, Error: res.Reason}
	if res.Lookup {
		a.Action = "lookup"
	}
	a.Request, a.RequestTruncated = RequestRecord(res.Request)
	if res.Outcome == OutcomeDelivered || res.Outcome == OutcomeSkipped {
		a.Error = ""
		if res.Outcome == OutcomeSkipped {
			a.Error = res.Reason
		}
	}
	level := slog.LevelInfo
	if t.State == StateDead || t.State == StateNeedsReview {
		level = slog.LevelWarn
	}
	d.log.Log(context.Background(), level, "delivery", "event_id", c.EventID, "sink", s.Name, "attempt", c.Attempt,
		"outcome", res.Outcome.String(), "status", res.StatusCode, "state", t.State, "duration_ms", elapsed.Milliseconds(),
		"reason", res.Reason)
	return a, t
}

// record commits an attempt and its transition; it retries a failing store
// a few times. If it never succeeds the entry stays in_flight on disk and
// is resumed on restart.
func (d *Dispatcher) record(s *SinkSpec, eventID string, a Attempt, t Transition) {
	for i := 0; ; i++ {
		err := d.store.Finish(context.Background(), s.Name, eventID, a, t)
		if err == nil || ErrorCode(err) != EINTERNAL && ErrorCode(err) != EUNAVAILABLE || i == 4 {
			if err != nil {
				d.log.Error("record delivery attempt", "event_id", LogText(eventID), "sink", s.Name, "error", err)
			}
			return
		}
		time.Sleep(time.Duration(i+1) * 200 * time.Millisecond)
	}
}

// call runs one Deliver bounded by the sink's timeout. A panicking sink is
// an attempt with an unknown outcome (it may have sent), not a dead process.
func (d *Dispatcher) call(s *SinkSpec, c Claim) (res Result) {
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("sink panicked", "sink", s.Name, "event_id", LogText(c.EventID), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = Unknown(fmt.Sprintf("sink %s panicked: %v", s.Name, p))
		}
	}()
	return s.Sink.Deliver(ctx, &c.Outbound)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func docOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// transition decides the delivery's next state from an attempt that began
// at start and ended at now.
//
// Unknown outcomes at a sink that checks them (ChecksUnknown) are settled
// by look-ups, not by an operator: the unknown send goes back to pending
// (PriorUnknown, PriorUnknownAt = when it began) due after the sink's
// RetryAfter; each look-up that cannot settle it yet (OutcomeRecheck) does
// the same; neither counts against the retry schedule. The send is counted
// once a look-up settles it: found is Delivered, "it did nothing" is a
// Transient look-up that takes the send's place in the schedule (and may
// spend it). Only a look-up that fails is reviewed (ReviewUnknown).
func (d *Dispatcher) transition(s *SinkSpec, c Claim, res Result, start, now time.Time) Transition {
	// When the latest unknown attempt began: this one, if it is a send with
	// an unknown outcome; else the one the claim carries (this attempt's
	// start when the record predates the field: later, so never shorter).
	unknownAt := c.PriorUnknownAt
	if res.Outcome == OutcomeUnknown && !res.Lookup || unknownAt.IsZero() {
		unknownAt = start.UTC()
	}
	switch res.Outcome {
	case OutcomeDelivered:
		t := Transition{State: StateDelivered, Result: res.Result}
		if s.CreateOnce && c.Subject != "" {
			doc := res.Result["document_number"]
			if doc == "" {
				doc = res.Result["invoice_number"]
			}
			t.Created = &CreatedDocument{Sink: s.Name, Subject: c.Subject, EventID: c.EventID, DocumentNumber: doc, CreatedAt: now.UTC()}
		}
		return t
	case OutcomeSkipped:
		return Transition{State: StateSkipped, Reason: res.Reason, Result: res.Result}
	case OutcomePermanent:
		return Transition{State: StateDead, Reason: res.Reason}
	case OutcomeUnknown:
		checks := s.ChecksUnknown && !res.Lookup
		if s.ReviewUnknown && !checks {
			return Transition{State: StateNeedsReview, Reason: "outcome unknown: " + res.Reason}
		}
		if checks {
			delay := min(res.RetryAfter, MaxRetryAfter)
			if delay <= 0 {
				delay, _ = NextDelay(s.Schedule, c.ScheduleAttempt, 0, d.rnd)
			}
			return Transition{State: StatePending, NextAt: now.Add(delay), Reason: res.Reason,
				PriorUnknown: true, PriorUnknownAt: unknownAt, KeepSchedule: true}
		}
	case OutcomeRecheck:
		if c.PriorUnknown {
			return Transition{State: StatePending, NextAt: now.Add(min(max(res.RetryAfter, 0), MaxRetryAfter)), Reason: res.Reason,
				PriorUnknown: true, PriorUnknownAt: unknownAt, KeepSchedule: true}
		}
		// Nothing to check: a sink's mistake, retried on the schedule.
	case OutcomeTransient:
	default:
		return Transition{State: StateDead, Reason: fmt.Sprintf("sink returned an invalid outcome %d", res.Outcome)}
	}
	delay, ok := NextDelay(s.Schedule, c.ScheduleAttempt, res.RetryAfter, d.rnd)
	if !ok {
		return Transition{State: StateDead, Reason: fmt.Sprintf("retry schedule exhausted after %d attempts: %s", c.ScheduleAttempt, res.Reason)}
	}
	// An unknown outcome stays known until the delivery finishes: a later
	// transient failure does not prove the earlier attempt did nothing. A
	// transient look-up does: it settled that the earlier attempt did
	// nothing.
	prior := (res.Outcome == OutcomeUnknown || c.PriorUnknown) && !(res.Lookup && res.Outcome == OutcomeTransient)
	t := Transition{State: StatePending, NextAt: now.Add(delay), Reason: res.Reason, PriorUnknown: prior}
	if prior {
		t.PriorUnknownAt = unknownAt
	}
	return t
}
