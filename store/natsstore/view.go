package natsstore

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// view is this replica's in-memory index of the events bucket, built by a
// watch over it (every replica keeps its own). It answers what KV cannot:
// ordered walks (due entries, events by receive time, dead letters), the
// head of each subject's queue, counts. It is applied strictly in revision
// order, so after revision R it is exactly the bucket's state at R: a
// prefix of the history. That is what makes a claim decided on it safe (see
// doc.go, "Ordering across replicas").
type view struct {
	mu sync.RWMutex
	// self is this store's owner id: in-flight entries of others are
	// "foreign" and their lease expiry is a wake-up time.
	self string

	loaded  bool   // the initial values are in; the view is a prefix
	rev     uint64 // the last revision applied
	changed chan struct{}

	events       map[string]*eventEntry
	byTime       *ordset            // (received, 0, id)
	bySubject    map[string]*ordset // subject → (received, 0, id)
	dead         *ordset            // (dead at, 0, sink, id): dead and needs_review
	sinks        map[string]*sinkView
	statusCounts map[string]int64
	strs         map[string]string // interned strings
}

// eventEntry is what the view keeps of one event: its summary and the
// outbox fields of its deliveries, never the body or the attempt history.
type eventEntry struct {
	id, typ, subject string
	source           string // relay.StoredSource: "" for the environment's
	rev              uint64
	received         int64
	test, unparsed   bool
	doc, party       string
	txn              string // the transaction a payment belongs to
	// returned holds the document numbers its sinks returned
	// (relay.ReturnedNumbers), each followed by a 0 byte; "" when none.
	returned string
	status   string
	dels     []*delEntry
}

type delEntry struct {
	ev                 *eventEntry
	sink, state        string
	orderKey           string
	seq                uint64
	due, since, deadAt int64
	owner              string
	lease              int64
	attempts           int
	lastStatus         int
	reason             string
	inDue              bool
}

type sinkView struct {
	due      *ordset // pending heads: (due, seq, id)
	open     *ordset // pending and in flight: (since, seq, id)
	inflight *ordset // (lease, seq, id)
	queues   map[string][]*delEntry
	counts   map[string]int64
	// lastHour counts the attempts of the last hour (countAttempts).
	lastHour relay.MinuteRing
}

func newView(self string) *view {
	return &view{self: self, changed: make(chan struct{}), events: map[string]*eventEntry{}, byTime: newOrdset(),
		bySubject: map[string]*ordset{}, dead: newOrdset(), sinks: map[string]*sinkView{}, statusCounts: map[string]int64{},
		strs: map[string]string{}}
}

// reset empties the view for a rebuild (a new watch after the old one
// ended); until the initial values are in again it is not loaded.
func (v *view) reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.loaded, v.rev = false, 0
	v.events, v.byTime, v.bySubject, v.dead = map[string]*eventEntry{}, newOrdset(), map[string]*ordset{}, newOrdset()
	v.sinks, v.statusCounts = map[string]*sinkView{}, map[string]int64{}
}

func (v *view) sink(name string) *sinkView {
	sv := v.sinks[name]
	if sv == nil {
		sv = &sinkView{due: newOrdset(), open: newOrdset(), inflight: newOrdset(), queues: map[string][]*delEntry{}, counts: map[string]int64{}}
		v.sinks[name] = sv
	}
	return sv
}

// markLoaded records that the initial values are in.
func (v *view) markLoaded() {
	v.mu.Lock()
	v.loaded = true
	v.signal()
	v.mu.Unlock()
}

// signal wakes waitRev callers; v.mu must be held.
func (v *view) signal() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// waitRev waits until the view is loaded and has applied rev.
func (v *view) waitRev(ctx context.Context, rev uint64) error {
	for {
		v.mu.RLock()
		ok, ch := v.loaded && v.rev >= rev, v.changed
		v.mu.RUnlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return relay.Errorf(relay.EUNAVAILABLE, "natsstore: index not caught up with revision %d: %v", rev, ctx.Err())
		}
	}
}

// apply applies one change of the events bucket (the key, its revision,
// whether it was deleted, the value) and returns the sinks that gained a
// due entry or a foreign in-flight entry (the dispatcher should look).
func (v *view) apply(key string, rev uint64, deleted bool, value []byte) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if rev > v.rev {
		v.rev = rev
	}
	defer v.signal()
	if !strings.HasPrefix(key, eventKeyPrefix) {
		return nil, nil
	}
	id, err := untoken(key[len(eventKeyPrefix):])
	if err != nil {
		return nil, nil // not ours
	}
	var ne *eventEntry
	if !deleted {
		r, err := decodeRecord(value, rev)
		if err != nil {
			return nil, err
		}
		ne = v.entryOf(r, rev)
		v.countAttempts(v.events[id], r)
	}
	return v.replace(id, ne), nil
}

func (v *view) entryOf(r *record, rev uint64) *eventEntry {
	ev := &eventEntry{
		id: r.ID, typ: v.intern(r.Type), subject: r.Subject, source: v.intern(r.Source), rev: rev,
		received: r.ReceivedAt, test: r.Test, unparsed: r.Unparsed,
		doc: r.Doc, party: r.Counterparty, txn: r.Txn, status: r.status(),
	}
	for _, d := range r.Deliveries {
		de := &delEntry{ev: ev, sink: v.intern(d.Sink), state: v.intern(d.State), orderKey: d.OrderKey, seq: d.Seq, due: d.Due, since: d.Since,
			deadAt: d.DeadAt, owner: v.intern(d.Owner), lease: d.Lease, attempts: d.Attempts, lastStatus: d.LastStatus}
		if d.State == relay.StateDead || d.State == relay.StateNeedsReview {
			de.reason = d.Reason
			if de.reason == "" {
				de.reason = d.LastError
			}
		}
		ev.dels = append(ev.dels, de)
		for _, n := range relay.ReturnedNumbers(d.Result) {
			if !strings.Contains(ev.returned, n+"\x00") {
				ev.returned += n + "\x00"
			}
		}
	}
	return ev
}

// returnedContains reports whether one of the event's returned document
// numbers contains lowerSubstr, ignoring case.
func (ev *eventEntry) returnedContains(lowerSubstr string) bool {
	for rest := ev.returned; rest != ""; {
		var n string
		n, rest, _ = strings.Cut(rest, "\x00")
		if containsFold(n, lowerSubstr) {
			return true
		}
	}
	return false
}

// intern returns one shared copy of a low-cardinality string (types, sink
// names, states, owners), so a million events do not hold a million copies
// of "delivered". v.mu must be held.
func (v *view) intern(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := v.strs[s]; ok {
		return c
	}
	if len(v.strs) < 1<<16 {
		v.strs[s] = s
	}
	return s
}

// containsFold reports whether substr (lower case) is in s, ignoring case,
// without allocating.
func containsFold(s, lowerSubstr string) bool {
	n := len(lowerSubstr)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], lowerSubstr) {
			return true
		}
	}
	return false
}

type queueRef struct{ sink, key string }

// replace swaps the view's entry of id for ne (nil: the event is gone),
// keeping every index and count right. v.mu must be held.
func (v *view) replace(id string, ne *eventEntry) []string {
	old := v.events[id]
	// Queues touched, with their heads before the change.
	heads := map[queueRef]*delEntry{}
	for _, ev := range []*eventEntry{old, ne} {
		if ev == nil {
			continue
		}
		for _, d := range ev.dels {
			if d.orderKey == "" {
				continue
			}
			q := queueRef{d.sink, d.orderKey}
			if _, ok := heads[q]; !ok {
				var h *delEntry
				if l := v.sink(d.sink).queues[d.orderKey]; len(l) > 0 {
					h = l[0]
				}
				heads[q] = h
			}
		}
	}
	if old != nil {
		v.removeEvent(old)
	}
	var woke map[string]bool
	if ne != nil {
		woke = v.addEvent(ne)
	}
	for q, oldHead := range heads {
		sv := v.sink(q.sink)
		if oldHead != nil {
			v.refreshDue(sv, oldHead)
		}
		if l := sv.queues[q.key]; len(l) > 0 && v.refreshDue(sv, l[0]) {
			if woke == nil {
				woke = map[string]bool{}
			}
			woke[q.sink] = true
		}
	}
	out := make([]string, 0, len(woke))
	for s := range woke {
		out = append(out, s)
	}
	return out
}

func (v *view) removeEvent(ev *eventEntry) {
	delete(v.events, ev.id)
	v.byTime.Delete(ikey{at: ev.received, s1: ev.id})
	if ev.subject != "" {
		// An ordered set, not a list: a state change of one event of a
		// subject costs O(log n) in the subject's history, not O(n).
		if set := v.bySubject[ev.subject]; set != nil {
			set.Delete(ikey{at: ev.received, s1: ev.id})
			if set.Len() == 0 {
				delete(v.bySubject, ev.subject)
			}
		}
	}
	v.statusCounts[ev.status]--
	for _, d := range ev.dels {
		sv := v.sink(d.sink)
		sv.counts[d.state]--
		if d.inDue {
			sv.due.Delete(d.dueKey())
			d.inDue = false
		}
		switch d.state {
		case relay.StatePending, relay.StateInFlight:
			sv.open.Delete(ikey{at: d.since, seq: d.seq, s1: ev.id})
		}
		if d.state == relay.StateInFlight {
			sv.inflight.Delete(ikey{at: d.lease, seq: d.seq, s1: ev.id})
		}
		if d.state == relay.StateDead || d.state == relay.StateNeedsReview {
			v.dead.Delete(ikey{at: d.deadAt, s1: d.sink, s2: ev.id})
		}
		if d.orderKey != "" && !relay.Terminal(d.state) {
			l := sv.queues[d.orderKey]
			for i, e := range l {
				if e == d {
					l = append(l[:i], l[i+1:]...)
					break
				}
			}
			if len(l) == 0 {
				delete(sv.queues, d.orderKey)
			} else {
				sv.queues[d.orderKey] = l
			}
		}
	}
}

// addEvent indexes ev and returns the sinks that gained an unordered due
// entry or a foreign in-flight entry.
func (v *view) addEvent(ev *eventEntry) map[string]bool {
	var woke map[string]bool
	wake := func(s string) {
		if woke == nil {
			woke = map[string]bool{}
		}
		woke[s] = true
	}
	v.events[ev.id] = ev
	v.byTime.Insert(ikey{at: ev.received, s1: ev.id})
	if ev.subject != "" {
		set := v.bySubject[ev.subject]
		if set == nil {
			set = newOrdset()
			v.bySubject[ev.subject] = set
		}
		set.Insert(ikey{at: ev.received, s1: ev.id})
	}
	v.statusCounts[ev.status]++
	for _, d := range ev.dels {
		sv := v.sink(d.sink)
		sv.counts[d.state]++
		switch d.state {
		case relay.StatePending, relay.StateInFlight:
			sv.open.Insert(ikey{at: d.since, seq: d.seq, s1: ev.id})
		}
		if d.state == relay.StateInFlight {
			sv.inflight.Insert(ikey{at: d.lease, seq: d.seq, s1: ev.id})
			if d.owner != v.self {
				wake(d.sink)
			}
		}
		if d.state == relay.StateDead || d.state == relay.StateNeedsReview {
			v.dead.Insert(ikey{at: d.deadAt, s1: d.sink, s2: ev.id})
		}
		if d.orderKey == "" {
			if v.refreshDue(sv, d) {
				wake(d.sink)
			}
			continue
		}
		if !relay.Terminal(d.state) {
			l := sv.queues[d.orderKey]
			i := sort.Search(len(l), func(i int) bool { return l[i].seq > d.seq })
			l = append(l, nil)
			copy(l[i+1:], l[i:])
			l[i] = d
			sv.queues[d.orderKey] = l
		}
	}
	return woke
}

func (d *delEntry) dueKey() ikey { return ikey{at: d.due, seq: d.seq, s1: d.ev.id} }

// refreshDue puts d in the sink's due index exactly when it is pending and
// heads its queue (or is unordered), and reports whether it was added.
func (v *view) refreshDue(sv *sinkView, d *delEntry) bool {
	want := d.state == relay.StatePending
	if want && d.orderKey != "" {
		l := sv.queues[d.orderKey]
		want = len(l) > 0 && l[0] == d
	}
	switch {
	case want && !d.inDue:
		sv.due.Insert(d.dueKey())
		d.inDue = true
		return true
	case !want && d.inDue:
		sv.due.Delete(d.dueKey())
		d.inDue = false
	}
	return false
}

// isHead reports whether d is claimable by its queue position; v.mu held.
func (v *view) isHead(d *delEntry) bool {
	if d.orderKey == "" {
		return true
	}
	sv := v.sinks[d.sink]
	if sv == nil {
		return false
	}
	l := sv.queues[d.orderKey]
	return len(l) > 0 && l[0] == d
}

// del returns the view's delivery of id at sink; v.mu held.
func (v *view) del(id, sink string) *delEntry {
	ev := v.events[id]
	if ev == nil {
		return nil
	}
	for _, d := range ev.dels {
		if d.sink == sink {
			return d
		}
	}
	return nil
}

func (ev *eventEntry) summary() relay.EventSummary {
	return relay.EventSummary{
		ID: ev.id, Source: relay.EventSource(ev.source), Type: ev.typ, Subject: ev.subject, Status: ev.status, Test: ev.test,
		ReceivedAt: fromNanos(ev.received), DocumentNumber: ev.doc, Counterparty: ev.party,
	}
}
