package onlinepajak

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// slowCommit makes the fake OnlinePajak commit slowly, as the real one was
// seen to: the first POST is read and validated, then the fake keeps the
// connection open until the relay gives up (its TIMEOUT) and only commits
// the invoice commitAfter (on the test clock) after the POST arrived. Until
// then every look-up answers 404. A negative commitAfter never commits
// (the POST did nothing). The commit happens lazily, when a request comes
// after its time, and at the end of the test (flush): the server does get
// there, whether anyone asks or not.
type slowCommit struct {
	f           *fakeOnlinePajak
	clock       *testkit.Clock
	commitAfter time.Duration

	// Variants: latency before every answer; every lookup429-th look-up is
	// answered 429 with Retry-After: 1; every POST after the first one is
	// answered 503 until post503 of them were.
	latency   time.Duration
	lookup429 int
	post503   int

	mu        sync.Mutex
	pending   *pendingCommit
	lookups   int
	answered  int // 503s so far
	postTimes []time.Time
}

type pendingCommit struct {
	number    string
	fields    map[string]json.RawMessage
	at        time.Time
	abandoned bool // the relay gave up on the POST
	done      bool
}

func newSlowCommit(tb testing.TB, clock *testkit.Clock, commitAfter time.Duration) *slowCommit {
	sc := &slowCommit{f: newFakeOnlinePajak(tb), clock: clock, commitAfter: commitAfter}
	sc.f.postHook = sc.post
	sc.f.getHook = sc.get
	return sc
}

func (sc *slowCommit) post(w http.ResponseWriter, r *http.Request, body []byte) bool {
	sc.pause()
	now := sc.clock.Now()
	sc.mu.Lock()
	sc.postTimes = append(sc.postTimes, now)
	first := len(sc.postTimes) == 1
	sc.mu.Unlock()
	sc.commitDue(now)
	if !first {
		sc.mu.Lock()
		busy := sc.answered < sc.post503
		if busy {
			sc.answered++
		}
		sc.mu.Unlock()
		if busy {
			apiError(w, http.StatusServiceUnavailable, "Service temporarily unavailable")
			return true
		}
		return false // the fake's own create: validates, creates, answers 200
	}
	if problems := validateInvoice(r, body); len(problems) > 0 {
		sc.f.mu.Lock()
		sc.f.rejections = append(sc.f.rejections, problems...)
		sc.f.mu.Unlock()
		apiError(w, http.StatusBadRequest, strings.Join(problems, "; "))
		return true
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(body, &fields)
	var number string
	_ = json.Unmarshal(fields["invoiceNumber"], &number)
	sc.mu.Lock()
	sc.pending = &pendingCommit{number: number, fields: fields, at: now.Add(sc.commitAfter)}
	sc.mu.Unlock()
	sc.f.stall(r) // until the relay's timeout closes the connection
	sc.mu.Lock()
	sc.pending.abandoned = true
	sc.mu.Unlock()
	return true
}

func (sc *slowCommit) get(w http.ResponseWriter, r *http.Request) bool {
	sc.pause()
	sc.commitDue(sc.clock.Now())
	sc.mu.Lock()
	sc.lookups++
	limited := sc.lookup429 > 0 && sc.lookups%sc.lookup429 == 0
	sc.mu.Unlock()
	if limited {
		w.Header().Set("Retry-After", "1")
		apiError(w, http.StatusTooManyRequests, "Too many requests")
		return true
	}
	return false // the fake's own look-up: 200 with the invoice, or 404
}

func (sc *slowCommit) pause() {
	if sc.latency > 0 {
		time.Sleep(sc.latency) // the counterpart's latency, not synchronization
	}
}

// commitDue commits the slow POST's invoice once its time has come.
func (sc *slowCommit) commitDue(now time.Time) {
	sc.mu.Lock()
	p := sc.pending
	due := p != nil && p.abandoned && !p.done && sc.commitAfter >= 0 && !now.Before(p.at)
	if due {
		p.done = true
	}
	sc.mu.Unlock()
	if !due {
		return
	}
	f := sc.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.invoices[p.number]; dup {
		f.duplicates++
	}
	f.invoices[p.number] = fakeInvoice{ID: f.nextID, Body: p.fields}
	f.nextID++
}

// abandoned reports whether the relay gave up on the slow POST.
func (sc *slowCommit) abandoned() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.pending != nil && sc.pending.abandoned
}

// flush lets the server finish whatever it was still committing.
func (sc *slowCommit) flush() {
	sc.mu.Lock()
	var at time.Time
	if sc.pending != nil {
		at = sc.pending.at
	}
	sc.mu.Unlock()
	sc.commitDue(at)
}

func (sc *slowCommit) posts() []time.Time {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return append([]time.Time(nil), sc.postTimes...)
}

// relayOver runs the real dispatcher over a real bbolt store with one
// OnlinePajak sink configured as the service configures it (create once,
// checks unknown outcomes, ON_UNKNOWN=review), all on clock. The sink's
// TIMEOUT is real time (the fake stalls the first POST past it); the
// dispatcher uses the largest jitter, so delays are their nominal values.
type relayOver struct {
	store *store.Store
	recv  *relay.Receiver
	disp  *relay.Dispatcher
	clock *testkit.Clock
}

func startRelay(tb testing.TB, sc *slowCommit, schedule string) *relayOver {
	tb.Helper()
	st, err := store.Open(filepath.Join(tb.TempDir(), "relay.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("store.Close: %v", err)
		}
	})
	sink, err := New("SINK_TAX_", Config{BaseURL: sc.f.srv.URL, APIKey: fakeAPIKey, UserID: fakeUserID},
		Deps{HTTP: sc.f.srv.Client(), Now: sc.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	sch, err := relay.ParseSchedule(schedule)
	if err != nil {
		tb.Fatal(err)
	}
	spec := &relay.SinkSpec{
		Name: "tax", Kind: "onlinepajak", Sink: sink,
		Route:       relay.Route{Sink: "tax", Events: []string{"transaction.sent"}, OrderBySubject: true},
		Concurrency: 4, Timeout: time.Second, Schedule: sch,
		ReviewUnknown: true, CreateOnce: true, ChecksUnknown: true,
	}
	d := relay.NewDispatcher(st, []*relay.SinkSpec{spec}, relay.DispatcherOptions{
		Clock: sc.clock, Rand: func(n int64) int64 { return n - 1 },
	})
	if err := d.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Stop)
	recv := &relay.Receiver{Store: st, Routes: []relay.Route{spec.Route}, Source: "tagihanai", Notify: d.Notify}
	return &relayOver{store: st, recv: recv, disp: d, clock: sc.clock}
}

// ingest receives the golden case's transaction as a transaction.sent
// webhook and returns the event id.
func (ro *relayOver) ingest(tb testing.TB, eventID string) string {
	tb.Helper()
	tx := mustRead(tb, filepath.Join(goldenDir, "line_items", "transaction.json"))
	body := fmt.Appendf(nil, `{"id":%q,"type":"transaction.sent","created_at":"2026-11-23T10:00:00Z","data":%s}`, eventID, tx)
	rc, err := ro.recv.Receive(context.Background(), relay.Delivery{
		ReceivedAt: ro.clock.Now(), Headers: map[string]string{"Content-Type": "application/json"}, Body: body,
	})
	if err != nil || rc.Status != relay.IngestAccepted || len(rc.Sinks) != 1 {
		tb.Fatalf("Receive: %+v, %v", rc, err)
	}
	return rc.ID
}

func (ro *relayOver) delivery(tb testing.TB, id string) relay.DeliveryState {
	tb.Helper()
	ev, err := ro.store.GetEvent(context.Background(), id)
	if err != nil || len(ev.Deliveries) != 1 {
		tb.Fatalf("GetEvent %s: %+v, %v", id, ev, err)
	}
	return ev.Deliveries[0]
}

// run drives the delivery of id to its end: after each recorded attempt it
// moves the clock to the next attempt's time and wakes the dispatcher.
// after is called once with the number of attempts recorded so far.
func (ro *relayOver) run(tb testing.TB, id string, after func(attempts int)) relay.DeliveryState {
	tb.Helper()
	attempts := 0
	for range 100 {
		var d relay.DeliveryState
		testkit.Eventually(tb, 20*time.Second, fmt.Sprintf("attempt %d of %s", attempts+1, id), func() bool {
			d = ro.delivery(tb, id)
			return d.Attempts > attempts && d.State != relay.StateInFlight
		})
		attempts = d.Attempts
		if after != nil {
			after(attempts)
		}
		if relay.Terminal(d.State) || d.State == relay.StateNeedsReview {
			return d
		}
		if d.NextAttemptAt == nil {
			tb.Fatalf("pending without a next attempt: %+v", d)
		}
		ro.clock.Set(*d.NextAttemptAt)
		ro.disp.Notify([]string{"tax"})
	}
	tb.Fatalf("delivery of %s did not end after 100 attempts", id)
	return relay.DeliveryState{}
}

// step is one attempt of the timeline: its action, outcome and when it
// began, after the unknown POST.
type step struct {
	Action, Outcome string
	At              time.Duration
}

func timeline(d relay.DeliveryState, t0 time.Time) []step {
	var out []step
	for _, a := range d.History {
		out = append(out, step{a.Action, a.Outcome, a.At.Sub(t0)})
	}
	return out
}

// TestSlowCommit: an OnlinePajak that creates the invoice only after the
// relay's timeout never gets a second invoice. The delivery of the real
// dispatcher, over a real bbolt store, ends with exactly one invoice at the
// fake; the timed-out POST shows as unknown, and the look-up that found the
// invoice as what delivered it.
func TestSlowCommit(t *testing.T) {
	const grace = DefaultLookupGrace
	unknown := step{"", "unknown", 0}
	recheck := func(at time.Duration) step { return step{"lookup", "recheck", at} }
	tests := []struct {
		name        string
		commitAfter time.Duration // after the POST arrived; < 0 never
		variant     func(*slowCommit)
		want        []step
		wantState   string
		wantPosts   int
		wantFound   bool // delivered with found_by lookup
	}{
		{
			// The case, slower: look-ups at 15s and 30s find nothing,
			// the one at 60s finds the invoice.
			name: "CommitsAfterTheTimeout", commitAfter: time.Minute,
			want:      []step{unknown, recheck(15 * time.Second), recheck(30 * time.Second), {"lookup", "delivered", time.Minute}},
			wantState: relay.StateDelivered, wantPosts: 1, wantFound: true,
		},
		{
			name: "CommitsJustBeforeTheGraceEnds", commitAfter: grace - time.Second,
			want: []step{unknown, recheck(15 * time.Second), recheck(30 * time.Second), recheck(time.Minute),
				{"lookup", "delivered", grace}},
			wantState: relay.StateDelivered, wantPosts: 1, wantFound: true,
		},
		{
			// Every second look-up is rate limited (Retry-After: 1): it
			// looks again, it never counts as "not found", and nothing is
			// posted twice.
			name: "LatencyAndRateLimitedLookups", commitAfter: 100 * time.Second,
			variant: func(sc *slowCommit) { sc.latency, sc.lookup429 = 20*time.Millisecond, 2 },
			// 404 at 15s, 429 at 30s, 404 at 60s, 429 at 2m (where a 404
			// would have led to a second POST), found at 2m15s.
			want: []step{unknown, recheck(15 * time.Second), recheck(30 * time.Second), recheck(60 * time.Second),
				recheck(grace), {"lookup", "delivered", grace + grace/8}},
			wantState: relay.StateDelivered, wantPosts: 1, wantFound: true,
		},
		{
			// The POST did nothing: after the grace, exactly one second POST
			// (on the retry schedule: 5s), and one invoice.
			name: "NeverCommits", commitAfter: -1,
			want: []step{unknown, recheck(15 * time.Second), recheck(30 * time.Second), recheck(time.Minute),
				{"lookup", "transient", grace}, {"", "delivered", grace + 5*time.Second}},
			wantState: relay.StateDelivered, wantPosts: 2,
		},
		{
			// The second POST meets a 503 first: retried on the schedule,
			// still one invoice.
			name: "NeverCommits_SecondPost503", commitAfter: -1,
			variant: func(sc *slowCommit) { sc.post503 = 1 },
			want: []step{unknown, recheck(15 * time.Second), recheck(30 * time.Second), recheck(time.Minute),
				{"lookup", "transient", grace}, {"", "transient", grace + 5*time.Second}, {"", "delivered", grace + 35*time.Second}},
			wantState: relay.StateDelivered, wantPosts: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
			sc := newSlowCommit(t, clock, tt.commitAfter)
			if tt.variant != nil {
				tt.variant(sc)
			}
			ro := startRelay(t, sc, "5s,30s,2m")
			t0 := clock.Now()
			id := ro.ingest(t, "evt_slow_"+strings.ToLower(tt.name))
			d := ro.run(t, id, func(n int) {
				if n == 1 {
					testkit.Eventually(t, 10*time.Second, "the fake to see the relay give up", sc.abandoned)
				}
			})
			sc.flush()

			if diff := cmp.Diff(tt.want, timeline(d, t0)); diff != "" {
				t.Errorf("timeline (-want +got):\n%s", diff)
			}
			if d.State != tt.wantState {
				t.Errorf("state %s (%s), want %s", d.State, d.LastError, tt.wantState)
			}
			if got := d.Result["found_by"] == "lookup"; got != tt.wantFound {
				t.Errorf("result %v: found by look-up %v, want %v", d.Result, got, tt.wantFound)
			}
			if d.Result["invoice_number"] != "INV-2026-0042" || d.Result["invoice_id"] == "" {
				t.Errorf("result %v, want the invoice's number and id", d.Result)
			}
			if h := d.History[0]; !strings.Contains(h.Error, "no answer after invoice") || !strings.Contains(h.Error, "deadline exceeded") {
				t.Errorf("the timed-out attempt's error %q, want no answer / deadline exceeded", h.Error)
			}
			c := sc.f.counts()
			if c.invoices != 1 || c.duplicates != 0 {
				t.Errorf("fake has %d invoices, %d duplicates; want exactly one invoice", c.invoices, c.duplicates)
			}
			posts := sc.posts()
			if len(posts) != tt.wantPosts {
				t.Errorf("%d POSTs, want %d", len(posts), tt.wantPosts)
			}
			for _, at := range posts[1:] {
				if at.Sub(t0) < grace {
					t.Errorf("a second POST %v after the unknown one, before LOOKUP_GRACE (%v)", at.Sub(t0), grace)
				}
			}
			if r := sc.f.rejected(); len(r) > 0 {
				t.Errorf("fake rejected: %v", r)
			}
			ev, err := ro.store.GetEvent(context.Background(), id)
			if err != nil || len(ev.Created) != 1 || ev.Created[0].DocumentNumber != "INV-2026-0042" {
				t.Errorf("create-once record %+v, %v; want INV-2026-0042", ev.Created, err)
			}
		})
	}
}

// TestSlowCommit_LookupFails: a look-up after the unknown POST that fails
// (5xx, an unreadable answer) puts the delivery in needs_review; nothing is
// posted again.
func TestSlowCommit_LookupFails(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   string
	}{
		{"500", func(w http.ResponseWriter) { apiError(w, 500, "The API encountered a fatal error") }, "HTTP 500: The API encountered a fatal error"},
		{"502", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, "HTTP 502"},
		{"Unreadable", func(w http.ResponseWriter) { w.WriteHeader(200); _, _ = w.Write([]byte("<html>maintenance</html>")) }, "HTTP 200: <html>maintenance</html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := testkit.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
			sc := newSlowCommit(t, clock, time.Minute)
			var lookups atomic.Int32
			sc.f.getHook = func(w http.ResponseWriter, _ *http.Request) bool {
				if lookups.Add(1) == 1 {
					return false // 404: not yet
				}
				tt.answer(w)
				return true
			}
			ro := startRelay(t, sc, "5s,30s,2m")
			id := ro.ingest(t, "evt_lookup_fails_"+strings.ToLower(tt.name))
			d := ro.run(t, id, func(n int) {
				if n == 1 {
					testkit.Eventually(t, 10*time.Second, "the fake to see the relay give up", sc.abandoned)
				}
			})
			if d.State != relay.StateNeedsReview || d.Attempts != 3 {
				t.Fatalf("delivery %s after %d attempts (%s), want needs_review after 3", d.State, d.Attempts, d.LastError)
			}
			if !strings.Contains(d.LastError, tt.want) || !strings.Contains(d.LastError, "look-up of invoice") {
				t.Errorf("last error %q, want the failed look-up with %q", d.LastError, tt.want)
			}
			if got := d.History[2].Action; got != "lookup" {
				t.Errorf("reviewed attempt's action %q, want lookup", got)
			}
			if n := len(sc.posts()); n != 1 {
				t.Errorf("%d POSTs, want 1", n)
			}
		})
	}
}
