package relay_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// TestDispatcher_ExactlyOnce: N events, ingested concurrently, each reach
// the target once, signed, with the stored CloudEvent as the body.
func TestDispatcher_ExactlyOnce(t *testing.T) {
	const n = 50
	tg := newTarget(t, nil)
	h := startHarness(t, spec(t, "erp", newHTTPSink(t, tg.URL), "20ms,20ms,20ms"))

	ids := make([]string, n)
	bodies := make([][]byte, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("evt_once_%02d", i)
		b, err := fixtures.Body("transaction.paid", eventOpts(ids[i], ""))
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = b
	}
	// Concurrent deliveries, as TagihanAI sends them: they share commits.
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 10 {
				rc, err := h.recv.Receive(context.Background(), relay.Delivery{ReceivedAt: time.Now(), Body: bodies[i]})
				if err == nil && (rc.Status != relay.IngestAccepted || rc.ID != ids[i]) {
					err = fmt.Errorf("Receive %s: %+v", ids[i], rc)
				}
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// TagihanAI's retries of the same events add nothing to deliver.
	for i := 0; i < n; i += 5 {
		rc, err := h.recv.Receive(context.Background(), relay.Delivery{ReceivedAt: time.Now(), Body: bodies[i]})
		if err != nil || rc.Status != relay.IngestDuplicate {
			t.Fatalf("resend of %s: %+v, %v", ids[i], rc, err)
		}
	}

	for _, id := range ids {
		h.waitState(t, 10*time.Second, id, "erp", relay.StateDelivered)
	}
	got := map[string]int{}
	sent := map[string][]byte{}
	for _, r := range tg.requests() {
		got[r.ID]++
		sent[r.ID] = r.Body
	}
	want := map[string]int{}
	for _, id := range ids {
		want[id] = 1
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests per webhook-id (-want +got):\n%s", diff)
	}
	tg.checkSignatures(t)
	for _, id := range ids {
		ev, err := h.store.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status != relay.StatusDelivered {
			t.Errorf("event %s status %q", id, ev.Status)
		}
		if d := ev.Deliveries[0]; d.Attempts != 1 || d.LastStatus != http.StatusNoContent {
			t.Errorf("event %s: %d attempts, last status %d", id, d.Attempts, d.LastStatus)
		}
		if !bytes.Equal(sent[id], ev.Event) {
			t.Errorf("event %s: sent %s, stored CloudEvent %s", id, sent[id], ev.Event)
		}
	}
}

// TestDispatcher_TransientRetried: 503, 503, 200 is delivered on the third
// attempt with every attempt in the history.
func TestDispatcher_TransientRetried(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, r request) {
		if r.N <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := startHarness(t, spec(t, "erp", newHTTPSink(t, tg.URL), "20ms,20ms,20ms"))
	id := h.ingest(t, "transaction.sent", eventOpts("evt_retry", ""))

	d := h.waitState(t, 5*time.Second, id, "erp", relay.StateDelivered)
	if d.Attempts != 3 {
		t.Errorf("Attempts = %d, want 3", d.Attempts)
	}
	type attempt struct {
		Outcome string
		Status  int
	}
	var got []attempt
	for _, a := range d.History {
		got = append(got, attempt{a.Outcome, a.StatusCode})
	}
	want := []attempt{{"transient", 503}, {"transient", 503}, {"delivered", 200}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if !strings.Contains(d.History[0].Error, "warming up") {
		t.Errorf("first attempt's error %q lacks the response body", d.History[0].Error)
	}
	if d.LastError != "" || d.NextAttemptAt != nil {
		t.Errorf("delivered record keeps LastError %q, NextAttemptAt %v", d.LastError, d.NextAttemptAt)
	}
	reqs := tg.requests()
	if len(reqs) != 3 {
		t.Fatalf("target got %d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.ID != id {
			t.Errorf("webhook-id %q, want %q", r.ID, id)
		}
	}
	tg.checkSignatures(t)
}

// TestDispatcher_PermanentThenRedrive: a 400 is a dead letter at once with
// the response's text; after the target is fixed a redrive delivers it
// under the same event id.
func TestDispatcher_PermanentThenRedrive(t *testing.T) {
	var fixed atomic.Bool
	tg := newTarget(t, func(w http.ResponseWriter, r request) {
		if !fixed.Load() {
			http.Error(w, `{"error":"customer_code unknown"}`, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	h := startHarness(t, spec(t, "erp", newHTTPSink(t, tg.URL), "20ms,20ms,20ms"))
	id := h.ingest(t, "transaction.sent", eventOpts("evt_dead", ""))
	ctx := context.Background()

	d := h.waitState(t, 5*time.Second, id, "erp", relay.StateDead)
	if d.Attempts != 1 || tg.count() != 1 {
		t.Fatalf("dead after %d attempts and %d requests, want 1 and 1", d.Attempts, tg.count())
	}
	page, err := h.ops.ListDeadLetters(ctx, relay.DeadLetterFilter{Sink: "erp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.DeadLetters) != 1 {
		t.Fatalf("dead letters: %+v", page.DeadLetters)
	}
	dl := page.DeadLetters[0]
	if dl.EventID != id || dl.State != relay.StateDead || dl.LastStatus != 400 || dl.Attempts != 1 || dl.Type != "transaction.sent" {
		t.Errorf("dead letter %+v", dl)
	}
	if !strings.Contains(dl.Reason, "customer_code unknown") || !strings.Contains(dl.Reason, "400") {
		t.Errorf("dead letter reason %q lacks the status and response text", dl.Reason)
	}
	if ev, _ := h.store.GetEvent(ctx, id); ev.Status != relay.StatusDead {
		t.Errorf("event status %q, want dead", ev.Status)
	}

	fixed.Store(true)
	n, err := h.ops.Redrive(ctx, relay.Redrive{IDs: []string{id}}, "tester")
	if err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v; want 1", n, err)
	}
	d = h.waitState(t, 5*time.Second, id, "erp", relay.StateDelivered)
	if d.Attempts != 2 || d.LastStatus != http.StatusAccepted {
		t.Errorf("after redrive: %d attempts, last status %d", d.Attempts, d.LastStatus)
	}
	reqs := tg.requests()
	if len(reqs) != 2 || reqs[0].ID != id || reqs[1].ID != id {
		t.Fatalf("requests %+v, want two with webhook-id %s", reqs, id)
	}
	tg.checkSignatures(t)
	page, err = h.ops.ListDeadLetters(ctx, relay.DeadLetterFilter{})
	if err != nil || len(page.DeadLetters) != 0 {
		t.Errorf("dead letters after redrive: %+v, %v", page.DeadLetters, err)
	}
	ev, err := h.store.GetEvent(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Operations) != 1 || ev.Operations[0].Action != "redrive" || ev.Operations[0].Operator != "tester" {
		t.Errorf("operations %+v, want one redrive by tester", ev.Operations)
	}
}

// TestDispatcher_RetryAfter: a Retry-After longer than the schedule's next
// delay is honoured, on the record and on the wire. The dispatcher runs on
// a test clock, so the second attempt waits for the clock, not for a
// second of real time.
func TestDispatcher_RetryAfter(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, r request) {
		if r.N == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	clock := testkit.NewClock(time.Now().UTC())
	h := newHarnessOn(t, clock, spec(t, "erp", newHTTPSink(t, tg.URL), "20ms,20ms,20ms"))
	if err := h.disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := h.ingestAt(t, "payment.completed", eventOpts("evt_retry_after", ""), clock.Now())

	var pending relay.DeliveryState
	testkit.Eventually(t, 0, "the first attempt to be recorded", func() bool {
		pending = h.delivery(t, id, "erp")
		return pending.Attempts >= 1
	})
	if pending.State != relay.StatePending || pending.NextAttemptAt == nil || pending.LastStatus != 429 {
		t.Fatalf("after the 429: %+v", pending)
	}
	if wait := pending.NextAttemptAt.Sub(pending.History[0].At); wait < time.Second || wait > 2*time.Second {
		t.Errorf("NextAttemptAt is %v after the attempt, want Retry-After's 1s", wait)
	}
	// The claimer sleeps on the clock until the retry is due.
	testkit.Eventually(t, 0, "the dispatcher to wait for the retry", func() bool {
		n, first := clock.Timers()
		return n > 0 && !first.Before(*pending.NextAttemptAt)
	})
	clock.Set(pending.NextAttemptAt.Add(-time.Millisecond))
	if n := tg.count(); n != 1 {
		t.Fatalf("target got %d requests before the Retry-After was over, want 1", n)
	}
	clock.Set(*pending.NextAttemptAt)

	d := h.waitState(t, 0, id, "erp", relay.StateDelivered)
	reqs := tg.requests()
	if len(reqs) != 2 {
		t.Fatalf("target got %d requests, want 2", len(reqs))
	}
	if len(d.History) < 2 {
		t.Fatalf("history %+v, want two attempts", d.History)
	}
	if gap := d.History[len(d.History)-1].At.Sub(d.History[0].At); gap < time.Second {
		t.Errorf("second attempt %v after the first on the dispatcher's clock, want >= 1s", gap)
	}
	tg.checkSignatures(t)
}

// TestDispatcher_ScheduleExhausted: two delays mean three attempts, then a
// dead letter.
func TestDispatcher_ScheduleExhausted(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, r request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	})
	h := startHarness(t, spec(t, "erp", newHTTPSink(t, tg.URL), "10ms,10ms"))
	id := h.ingest(t, "transaction.paid", eventOpts("evt_exhausted", ""))

	d := h.waitState(t, 5*time.Second, id, "erp", relay.StateDead)
	if d.Attempts != 3 || len(d.History) != 3 {
		t.Errorf("dead after %d attempts (%d in history), want 3", d.Attempts, len(d.History))
	}
	if got := tg.count(); got != 3 {
		t.Errorf("target got %d requests, want 3", got)
	}
	page, err := h.ops.ListDeadLetters(context.Background(), relay.DeadLetterFilter{State: relay.StateDead})
	if err != nil || len(page.DeadLetters) != 1 {
		t.Fatalf("dead letters %+v, %v", page.DeadLetters, err)
	}
	if r := page.DeadLetters[0].Reason; !strings.Contains(r, "exhausted") || !strings.Contains(r, "down for maintenance") {
		t.Errorf("reason %q", r)
	}
}

// TestDispatcher_OrderBySubject: one subject's events go one at a time in
// ingest order, while another subject is not held up.
func TestDispatcher_OrderBySubject(t *testing.T) {
	const slowTrx = "11111111-1111-4111-8111-111111111111"
	var (
		mu       sync.Mutex
		inFlight int
		maxIn    int
	)
	tg := newTarget(t, func(w http.ResponseWriter, r request) {
		if r.Subject == slowTrx {
			mu.Lock()
			inFlight++
			maxIn = max(maxIn, inFlight)
			mu.Unlock()
			// A slow destination, not synchronization.
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			inFlight--
			mu.Unlock()
			// The head fails once: its successors wait while it waits to
			// retry.
			if r.ID == "evt_slow_0" && r.N == 1 {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})
	sp := spec(t, "erp", newHTTPSink(t, tg.URL), "20ms,20ms,20ms")
	sp.Route.OrderBySubject = true
	sp.Concurrency = 8
	h := startHarness(t, sp)

	var slow []string
	for i, typ := range []string{"transaction.created", "transaction.submitted", "transaction.approved", "transaction.sent", "transaction.viewed"} {
		slow = append(slow, h.ingest(t, typ, eventOpts(fmt.Sprintf("evt_slow_%d", i), slowTrx)))
	}
	other := h.ingest(t, "transaction.sent", eventOpts("evt_other", "22222222-2222-4222-8222-222222222222"))

	for _, id := range append(slow, other) {
		h.waitState(t, 5*time.Second, id, "erp", relay.StateDelivered)
	}
	var order []string
	otherSeq, lastSlowSeq := 0, 0
	for _, r := range tg.requests() {
		switch r.Subject {
		case slowTrx:
			if r.N == 1 {
				order = append(order, r.ID)
			}
			lastSlowSeq = r.Seq
		default:
			otherSeq = r.Seq
		}
	}
	if diff := cmp.Diff(slow, order); diff != "" {
		t.Errorf("arrival order of one subject (-ingest +arrival):\n%s", diff)
	}
	reqs := tg.requests()
	if len(reqs) != 7 {
		t.Errorf("%d requests, want 7 (one retry)", len(reqs))
	}
	// The head's retry came before any later event of its subject.
	var slowSeqs []string
	for _, r := range reqs {
		if r.Subject == slowTrx {
			slowSeqs = append(slowSeqs, fmt.Sprintf("%s#%d", r.ID, r.N))
		}
	}
	wantSeqs := []string{"evt_slow_0#1", "evt_slow_0#2", "evt_slow_1#1", "evt_slow_2#1", "evt_slow_3#1", "evt_slow_4#1"}
	if diff := cmp.Diff(wantSeqs, slowSeqs); diff != "" {
		t.Errorf("requests of one subject (-want +got):\n%s", diff)
	}
	if maxIn != 1 {
		t.Errorf("%d deliveries of one subject in flight at once, want 1", maxIn)
	}
	if otherSeq == 0 || otherSeq > lastSlowSeq {
		t.Errorf("the other subject arrived as request %d, after the slow subject's last (%d): held up", otherSeq, lastSlowSeq)
	}
	tg.checkSignatures(t)
}

// TestDispatcher_FailingSinkIsolated: a sink whose destination hangs does
// not hold up ingest or another sink's deliveries. The bad destination
// holds every request until the test ends, so everything the good sink
// delivers is delivered while the bad sink's workers are all stuck: no
// timing is needed to tell.
func TestDispatcher_FailingSinkIsolated(t *testing.T) {
	const n = 30
	release := make(chan struct{})
	var hanging atomic.Int64
	bad := newTarget(t, func(w http.ResponseWriter, r request) {
		hanging.Add(1)
		<-release // a destination that hangs, then fails
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	good := newTarget(t, nil)
	badSpec := spec(t, "bad", newHTTPSink(t, bad.URL), strings.Repeat("10ms,", 50)+"10ms")
	badSpec.Concurrency = 2
	badSpec.Timeout = time.Hour // the attempt hangs for as long as the test runs
	h := startHarness(t, badSpec, spec(t, "good", newHTTPSink(t, good.URL), "20ms,20ms,20ms"))
	t.Cleanup(func() { close(release) }) // runs before the dispatcher stops

	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, h.ingest(t, "transaction.paid", eventOpts(fmt.Sprintf("evt_iso_%02d", i), "")))
	}
	testkit.Eventually(t, 0, "both bad workers to hang", func() bool { return hanging.Load() == 2 })
	for _, id := range ids {
		h.waitState(t, 0, id, "good", relay.StateDelivered)
	}
	if got := hanging.Load(); got != 2 || bad.count() != 2 {
		t.Errorf("bad sink: %d requests hanging, %d received; want 2 and 2 (its workers stuck throughout)", got, bad.count())
	}
	for _, id := range ids {
		if d := h.delivery(t, id, "bad"); relay.Terminal(d.State) {
			t.Errorf("bad sink delivery of %s is %s", id, d.State)
		}
	}
	good.checkSignatures(t)
}

// TestDispatcher_UnknownOutcome: an unknown outcome goes to needs_review at
// a reviewing sink and is retried, flagged PriorUnknown, at another.
func TestDispatcher_UnknownOutcome(t *testing.T) {
	t.Run("Review", func(t *testing.T) {
		var calls counter
		sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			calls.inc()
			return relay.Unknown("timeout after the request was sent")
		}}
		sp := spec(t, "acc", sink, "10ms,10ms")
		sp.ReviewUnknown = true
		h := startHarness(t, sp)
		id := h.ingest(t, "transaction.sent", eventOpts("evt_unknown_review", ""))

		d := h.waitState(t, 5*time.Second, id, "acc", relay.StateNeedsReview)
		if d.Attempts != 1 || calls.get() != 1 || d.NextAttemptAt != nil {
			t.Errorf("needs_review after %d attempts, %d calls, next %v", d.Attempts, calls.get(), d.NextAttemptAt)
		}
		page, err := h.ops.ListDeadLetters(context.Background(), relay.DeadLetterFilter{State: relay.StateNeedsReview})
		if err != nil || len(page.DeadLetters) != 1 {
			t.Fatalf("needs-review list %+v, %v", page.DeadLetters, err)
		}
		if r := page.DeadLetters[0].Reason; !strings.Contains(r, "timeout after the request was sent") {
			t.Errorf("reason %q", r)
		}
		if ev, _ := h.store.GetEvent(context.Background(), id); ev.Status != relay.StatusNeedsReview {
			t.Errorf("event status %q", ev.Status)
		}
	})

	t.Run("Retry", func(t *testing.T) {
		type call struct {
			Attempt      int
			PriorUnknown bool
		}
		var mu sync.Mutex
		var calls []call
		sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			mu.Lock()
			calls = append(calls, call{o.Attempt, o.PriorUnknown})
			n := len(calls)
			mu.Unlock()
			if n == 1 {
				return relay.Unknown("timeout after the request was sent")
			}
			return relay.Delivered(200, nil)
		}}
		sp := spec(t, "http", sink, "10ms,10ms")
		sp.ReviewUnknown = false
		h := startHarness(t, sp)
		id := h.ingest(t, "transaction.sent", eventOpts("evt_unknown_retry", ""))

		d := h.waitState(t, 5*time.Second, id, "http", relay.StateDelivered)
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff([]call{{1, false}, {2, true}}, calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if d.PriorUnknown {
			t.Error("delivered record still marked PriorUnknown")
		}
		if got := d.History[0].Outcome; got != "unknown" {
			t.Errorf("first attempt outcome %q", got)
		}
	})

	// While one delivery of a subject waits in needs_review, later events
	// of that subject wait behind it; resolving it lets them go.
	t.Run("ReviewHoldsSubject", func(t *testing.T) {
		const trx = "33333333-3333-4333-8333-333333333333"
		var calls counter
		sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			if calls.inc() == 1 {
				return relay.Unknown("no answer")
			}
			return relay.Delivered(201, map[string]string{"document_number": "DOC-2"})
		}}
		sp := spec(t, "acc", sink, "10ms")
		sp.ReviewUnknown = true
		sp.Route.OrderBySubject = true
		h := startHarness(t, sp)
		first := h.ingest(t, "transaction.sent", eventOpts("evt_hold_1", trx))
		h.waitState(t, 5*time.Second, first, "acc", relay.StateNeedsReview)
		second := h.ingest(t, "transaction.paid", eventOpts("evt_hold_2", trx))

		// The second is queued behind the first, not due at all.
		if d := h.delivery(t, second, "acc"); d.State != relay.StatePending || d.NextAttemptAt != nil || d.Attempts != 0 {
			t.Fatalf("second event while the first needs review: %+v", d)
		}
		err := h.ops.Resolve(context.Background(), first, relay.Resolution{Sink: "acc", Outcome: "delivered",
			Result: map[string]string{"document_number": "DOC-1"}}, "tester")
		if err != nil {
			t.Fatal(err)
		}
		h.waitState(t, 5*time.Second, second, "acc", relay.StateDelivered)
		if calls.get() != 2 {
			t.Errorf("sink called %d times, want 2", calls.get())
		}
	})
}

// TestDispatcher_CreateOnce: a create-once sink never creates a second
// document for a subject; the second event is skipped without a call.
func TestDispatcher_CreateOnce(t *testing.T) {
	const trx = "44444444-4444-4444-8444-444444444444"
	var calls counter
	sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
		calls.inc()
		return relay.Delivered(201, map[string]string{"document_number": "00004/FPJ/07/29"})
	}}
	sp := spec(t, "acc", sink, "10ms")
	sp.CreateOnce = true
	sp.Route.OrderBySubject = true
	h := startHarness(t, sp)
	ctx := context.Background()

	first := h.ingest(t, "transaction.sent", eventOpts("evt_create_1", trx))
	d := h.waitState(t, 5*time.Second, first, "acc", relay.StateDelivered)
	if d.Result["document_number"] != "00004/FPJ/07/29" {
		t.Errorf("result %v", d.Result)
	}
	ev, err := h.store.GetEvent(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Created) != 1 || ev.Created[0].DocumentNumber != "00004/FPJ/07/29" || ev.Created[0].EventID != first || ev.Created[0].Subject != trx {
		t.Errorf("created records %+v", ev.Created)
	}

	second := h.ingest(t, "transaction.revised", eventOpts("evt_create_2", trx))
	d = h.waitState(t, 5*time.Second, second, "acc", relay.StateSkipped)
	if calls.get() != 1 {
		t.Errorf("sink called %d times, want 1", calls.get())
	}
	if !strings.Contains(d.LastError, "00004/FPJ/07/29") || !strings.Contains(d.LastError, first) {
		t.Errorf("skip reason %q does not name the document and the event that created it", d.LastError)
	}
	if ev, _ := h.store.GetEvent(ctx, second); ev.Status != relay.StatusDelivered {
		t.Errorf("skipped event status %q, want delivered (finished)", ev.Status)
	}

	// Another subject is created as usual.
	third := h.ingest(t, "transaction.sent", eventOpts("evt_create_3", "55555555-5555-4555-8555-555555555555"))
	h.waitState(t, 5*time.Second, third, "acc", relay.StateDelivered)
	if calls.get() != 2 {
		t.Errorf("sink called %d times, want 2", calls.get())
	}
}

// TestDispatcher_Stop: Stop lets an in-flight delivery finish and records
// it; it is idempotent and safe before Start.
func TestDispatcher_Stop(t *testing.T) {
	t.Run("WaitsForInFlight", func(t *testing.T) {
		entered := make(chan struct{})
		var returned, canceled atomic.Bool
		sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			close(entered)
			select { // a slow destination
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				canceled.Store(true)
			}
			returned.Store(true)
			return relay.Delivered(200, nil)
		}}
		h := startHarness(t, spec(t, "erp", sink, "10ms"))
		id := h.ingest(t, "transaction.sent", eventOpts("evt_stop", ""))
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("delivery never started")
		}

		h.disp.Stop()
		if !returned.Load() {
			t.Fatal("Stop returned while a delivery was in flight")
		}
		if canceled.Load() {
			t.Error("Stop canceled the in-flight delivery")
		}
		// Recorded before Stop returned: no waiting here.
		if d := h.delivery(t, id, "erp"); d.State != relay.StateDelivered || d.Attempts != 1 {
			t.Errorf("after Stop: %+v", d)
		}

		done := make(chan struct{})
		go func() {
			h.disp.Stop()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("second Stop blocked")
		}
	})

	t.Run("NotifyAfterStop", func(t *testing.T) {
		var calls counter
		sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			calls.inc()
			return relay.Delivered(200, nil)
		}}
		h := startHarness(t, spec(t, "erp", sink, "10ms"))
		h.disp.Stop()
		id := h.ingest(t, "transaction.sent", eventOpts("evt_after_stop", ""))
		h.disp.NotifyAll()
		if d := h.delivery(t, id, "erp"); d.State != relay.StatePending {
			t.Errorf("delivery after Stop: %+v", d)
		}
		if calls.get() != 0 {
			t.Errorf("sink called %d times after Stop", calls.get())
		}
	})

	t.Run("BeforeStart", func(t *testing.T) {
		var calls counter
		sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			calls.inc()
			return relay.Delivered(200, nil)
		}}
		h := newHarness(t, spec(t, "erp", sink, "10ms"))
		h.disp.Stop()
		h.disp.Stop()
		// A stopped dispatcher does not start again: its goroutines would
		// outlive every Stop (goleak would report them).
		if err := h.disp.Start(context.Background()); err == nil {
			t.Error("Start after Stop succeeded")
		}
	})

	t.Run("StartTwice", func(t *testing.T) {
		h := startHarness(t, spec(t, "erp", &fakeSink{DeliverFn: func(context.Context, *relay.Outbound) relay.Result {
			return relay.Delivered(200, nil)
		}}, "10ms"))
		if err := h.disp.Start(context.Background()); err == nil {
			t.Error("second Start succeeded")
		}
	})

	t.Run("ResumesInFlightAfterRestart", func(t *testing.T) {
		// A claim left in flight (the process died mid-request) is retried,
		// flagged PriorUnknown, at a sink that does not review.
		st := testkit.OpenStore(t)
		ctx := context.Background()
		recv := &relay.Receiver{Store: st, Routes: []relay.Route{{Sink: "erp", Events: []string{"*"}}}, Source: "tagihanai"}
		body := []byte(`{"id":"evt_crash","type":"transaction.sent","data":{"id":"trx_1"}}`)
		if _, err := recv.Receive(ctx, relay.Delivery{ReceivedAt: time.Now(), Body: body}); err != nil {
			t.Fatal(err)
		}
		claims, _, err := st.ClaimDue(ctx, "erp", time.Now(), 10)
		if err != nil || len(claims) != 1 {
			t.Fatalf("ClaimDue = %d claims, %v", len(claims), err)
		}
		got := make(chan relay.Outbound, 1)
		sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			got <- *o
			return relay.Delivered(200, nil)
		}}
		d := relay.NewDispatcher(st, []*relay.SinkSpec{spec(t, "erp", sink, "10ms")}, relay.DispatcherOptions{})
		t.Cleanup(d.Stop)
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case o := <-got:
			// The interrupted attempt counts: this is the second.
			if !o.PriorUnknown || o.EventID != "evt_crash" || o.Attempt != 2 {
				t.Errorf("resumed outbound: id %s attempt %d PriorUnknown %v", o.EventID, o.Attempt, o.PriorUnknown)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("in-flight delivery not resumed")
		}
	})
}

// TestDispatcher_ChecksUnknown: at a sink that checks unknown outcomes by
// looking up (ChecksUnknown), the unknown send and the look-ups that cannot
// settle it yet (Recheck) do not spend the retry schedule and keep when the
// unknown send began; a Transient look-up settles it and takes its place in
// the schedule; only a failed look-up is reviewed.
func TestDispatcher_ChecksUnknown(t *testing.T) {
	type call struct {
		Attempt      int
		PriorUnknown bool
		SinceSend    bool // PriorUnknownAt is the unknown send's start
	}
	// script answers attempt n (from 1) with results[n-1] and records what
	// the sink was told.
	script := func(results ...relay.Result) (*fakeSink, func() []call, func(relay.DeliveryState)) {
		var mu sync.Mutex
		var calls []call
		var priors []time.Time
		sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, call{Attempt: o.Attempt, PriorUnknown: o.PriorUnknown})
			priors = append(priors, o.PriorUnknownAt)
			if len(calls) > len(results) {
				return relay.Permanent(0, "unexpected attempt")
			}
			return results[len(calls)-1]
		}}
		get := func() []call {
			mu.Lock()
			defer mu.Unlock()
			return append([]call(nil), calls...)
		}
		// fill marks the calls whose PriorUnknownAt is the start of the
		// first attempt (the unknown send), from the recorded history.
		fill := func(d relay.DeliveryState) {
			mu.Lock()
			defer mu.Unlock()
			for i := range calls {
				calls[i].SinceSend = !priors[i].IsZero() && priors[i].Equal(d.History[0].At)
			}
		}
		return sink, get, fill
	}
	soon := time.Millisecond
	unknownSend := relay.Result{Outcome: relay.OutcomeUnknown, RetryAfter: soon, Reason: "no answer after the invoice was sent"}
	notYet := relay.Recheck(404, soon, "not found yet")
	settled := relay.Result{Outcome: relay.OutcomeTransient, StatusCode: 404, Lookup: true, Reason: "not found after the grace"}
	actions := func(d relay.DeliveryState) []string {
		var out []string
		for _, a := range d.History {
			out = append(out, a.Action+":"+a.Outcome)
		}
		return out
	}

	t.Run("LookupsDoNotSpendTheSchedule", func(t *testing.T) {
		// Schedule "1ms": two sends. Four look-ups in between change nothing.
		sink, calls, fill := script(unknownSend, notYet, notYet, notYet, settled, relay.Transient(503, 0, "busy"))
		sp := spec(t, "tax", sink, "1ms")
		sp.ReviewUnknown, sp.ChecksUnknown, sp.CreateOnce = true, true, true
		h := startHarness(t, sp)
		id := h.ingest(t, "transaction.sent", eventOpts("evt_checks_schedule", ""))
		d := h.waitState(t, 10*time.Second, id, "tax", relay.StateDead)
		fill(d)
		want := []call{{1, false, false}, {2, true, true}, {3, true, true}, {4, true, true}, {5, true, true}, {6, false, false}}
		if diff := cmp.Diff(want, calls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		wantHistory := []string{":unknown", "lookup:recheck", "lookup:recheck", "lookup:recheck", "lookup:transient", ":transient"}
		if diff := cmp.Diff(wantHistory, actions(d)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		if !strings.Contains(d.LastError, "busy") || d.PriorUnknown {
			t.Errorf("dead delivery: last error %q, prior unknown %v", d.LastError, d.PriorUnknown)
		}
		if dl, err := h.ops.ListDeadLetters(context.Background(), relay.DeadLetterFilter{}); err != nil || len(dl.DeadLetters) != 1 ||
			!strings.Contains(dl.DeadLetters[0].Reason, "retry schedule exhausted after 2 attempts") {
			t.Errorf("dead letters %+v, %v; want one, schedule exhausted after 2 attempts", dl.DeadLetters, err)
		}
	})

	t.Run("ExhaustedScheduleStillLooksUp", func(t *testing.T) {
		// No retries at all: the unknown send is still looked up, and only
		// the look-up that settles it ends the delivery, with no second send.
		sink, calls, _ := script(unknownSend, notYet, settled)
		sp := spec(t, "tax", sink, "")
		sp.ReviewUnknown, sp.ChecksUnknown = true, true
		h := startHarness(t, sp)
		id := h.ingest(t, "transaction.sent", eventOpts("evt_checks_exhausted", ""))
		d := h.waitState(t, 10*time.Second, id, "tax", relay.StateDead)
		if got := len(calls()); got != 3 {
			t.Errorf("%d calls, want 3 (one send, two look-ups)", got)
		}
		if diff := cmp.Diff([]string{":unknown", "lookup:recheck", "lookup:transient"}, actions(d)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})

	t.Run("FoundByLookup", func(t *testing.T) {
		found := relay.Delivered(200, map[string]string{"invoice_number": "INV-2026-0042", "found_by": "lookup"})
		found.Lookup = true
		sink, _, _ := script(unknownSend, notYet, found)
		sp := spec(t, "tax", sink, "1ms")
		sp.ReviewUnknown, sp.ChecksUnknown, sp.CreateOnce = true, true, true
		h := startHarness(t, sp)
		id := h.ingest(t, "transaction.sent", eventOpts("evt_checks_found", "44444444-4444-4444-8444-444444444444"))
		d := h.waitState(t, 10*time.Second, id, "tax", relay.StateDelivered)
		if diff := cmp.Diff([]string{":unknown", "lookup:recheck", "lookup:delivered"}, actions(d)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		if d.Result["found_by"] != "lookup" || d.PriorUnknown || !d.PriorUnknownAt.IsZero() {
			t.Errorf("delivered: result %v, prior unknown %v at %v", d.Result, d.PriorUnknown, d.PriorUnknownAt)
		}
		ev, err := h.store.GetEvent(context.Background(), id)
		if err != nil || len(ev.Created) != 1 || ev.Created[0].DocumentNumber != "INV-2026-0042" {
			t.Errorf("created %+v, %v; want INV-2026-0042", ev.Created, err)
		}
	})

	t.Run("FailedLookupIsReviewed", func(t *testing.T) {
		failed := relay.Result{Outcome: relay.OutcomeUnknown, StatusCode: 502, Lookup: true, Reason: "look-up failed: HTTP 502"}
		sink, _, _ := script(unknownSend, notYet, failed)
		sp := spec(t, "tax", sink, "1ms")
		sp.ReviewUnknown, sp.ChecksUnknown = true, true
		h := startHarness(t, sp)
		id := h.ingest(t, "transaction.sent", eventOpts("evt_checks_review", ""))
		d := h.waitState(t, 10*time.Second, id, "tax", relay.StateNeedsReview)
		if d.Attempts != 3 || !strings.Contains(d.LastError, "HTTP 502") {
			t.Errorf("needs_review after %d attempts, last error %q; want 3, the look-up's", d.Attempts, d.LastError)
		}
	})

	t.Run("RecheckWithoutUnknownIsTransient", func(t *testing.T) {
		// A Recheck with nothing to check is a sink's mistake: it spends the
		// schedule like a transient failure instead of looping for ever.
		sink, calls, _ := script(notYet, notYet)
		sp := spec(t, "tax", sink, "1ms")
		sp.ChecksUnknown = true
		h := startHarness(t, sp)
		id := h.ingest(t, "transaction.sent", eventOpts("evt_checks_mistake", ""))
		h.waitState(t, 10*time.Second, id, "tax", relay.StateDead)
		if got := len(calls()); got != 2 {
			t.Errorf("%d calls, want 2", got)
		}
	})
}

// TestDispatcher_Prefetch: a sink whose workers are busy keeps claims
// ready for them (in_flight on disk): prefetchPerWorker per worker at a
// sink that simply retries an unknown outcome, one per worker at a sink
// that looks one up first, none at a sink that reviews it. Released, every
// event is delivered once.
func TestDispatcher_Prefetch(t *testing.T) {
	const events, workers = 30, 2
	cases := []struct {
		name         string
		checks, rev  bool
		wantInFlight int64
	}{
		{"retried", false, false, workers + workers*8},
		{"checks_unknown", true, false, workers + workers},
		{"review", false, true, workers},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			var mu sync.Mutex
			sent := map[string]int{}
			sink := &fakeSink{DeliverFn: func(ctx context.Context, o *relay.Outbound) relay.Result {
				select {
				case <-release:
				case <-ctx.Done():
					return relay.Transient(0, 0, ctx.Err().Error())
				}
				mu.Lock()
				sent[o.EventID]++
				mu.Unlock()
				return relay.Delivered(200, nil)
			}}
			sp := spec(t, "erp", sink, "10ms")
			sp.Concurrency, sp.ChecksUnknown, sp.ReviewUnknown = workers, c.checks, c.rev
			h := newHarness(t, sp)
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { close(release) }) })
			for i := range events {
				h.ingest(t, "transaction.sent", eventOpts(fmt.Sprintf("evt_pre_%02d", i), ""))
			}
			if err := h.disp.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			inFlight := func() int64 {
				st, err := h.store.Stats(context.Background(), time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return st.Sinks["erp"].InFlight
			}
			testkit.Eventually(t, 10*time.Second, fmt.Sprintf("%d claimed", c.wantInFlight), func() bool {
				return inFlight() >= c.wantInFlight
			})
			if got := inFlight(); got != c.wantInFlight {
				t.Errorf("in flight with both workers busy = %d, want %d", got, c.wantInFlight)
			}
			once.Do(func() { close(release) })
			for i := range events {
				h.waitState(t, 10*time.Second, fmt.Sprintf("evt_pre_%02d", i), "erp", relay.StateDelivered)
			}
			mu.Lock()
			defer mu.Unlock()
			for id, n := range sent {
				if n != 1 {
					t.Errorf("%s sent %d times", id, n)
				}
			}
			if len(sent) != events {
				t.Errorf("%d events sent, want %d", len(sent), events)
			}
		})
	}
}
