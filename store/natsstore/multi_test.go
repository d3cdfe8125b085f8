package natsstore_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// replicas opens n stores on one fresh prefix of the shared server, as n
// relay replicas would.
func replicas(t *testing.T, n int, o natsstore.Options) []*natsstore.Store {
	t.Helper()
	if o.URLs == "" {
		o.URLs = shared.ClientURL()
	}
	if o.Prefix == "" {
		o.Prefix = freshPrefix(t, o.URLs)
	}
	out := make([]*natsstore.Store, n)
	for i := range out {
		oi := o
		oi.Name = fmt.Sprintf("replica-%d", i)
		out[i] = MustOpenStore(t, oi)
	}
	return out
}

func TestOpen(t *testing.T) {
	t.Run("ConcurrentProvisioning", func(t *testing.T) {
		url := shared.ClientURL()
		prefix := freshPrefix(t, url)
		const n = 6
		errs := make([]error, n)
		stores := make([]*natsstore.Store, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				stores[i], errs[i] = natsstore.Open(ctx, natsstore.Options{URLs: url, Prefix: prefix, Name: fmt.Sprint("r", i)})
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Open %d: %v", i, errs[i])
				continue
			}
			if !stores[i].Ready() {
				t.Errorf("store %d not ready after Open", i)
			}
			stores[i].Close()
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := natsstore.Open(ctx, natsstore.Options{URLs: "nats://" + addr})
		if err == nil {
			s.Close()
			t.Fatal("Open of an unreachable server succeeded")
		}
		if !strings.Contains(err.Error(), "connect to nats://"+addr) {
			t.Errorf("error %q does not say what it could not reach", err)
		}
		if ctx.Err() != nil {
			t.Errorf("Open failed only when its context ended (%v), want it to fail by itself", ctx.Err())
		}
	})

	t.Run("NoJetStream", func(t *testing.T) {
		srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go srv.Start()
		defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatal("server not ready")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := natsstore.Open(ctx, natsstore.Options{URLs: srv.ClientURL()})
		if err == nil {
			s.Close()
			t.Fatal("Open without JetStream succeeded")
		}
		if !strings.Contains(err.Error(), "JetStream") {
			t.Errorf("error %q does not name JetStream", err)
		}
	})

	t.Run("ErrBadPrefix", func(t *testing.T) {
		_, err := natsstore.Open(context.Background(), natsstore.Options{URLs: shared.ClientURL(), Prefix: "a.b"})
		if err == nil || !strings.Contains(err.Error(), "NATS_PREFIX") {
			t.Errorf("Open(prefix a.b) = %v, want a NATS_PREFIX error", err)
		}
	})
}

// TestReplicas_IngestSameID posts the same event to two replicas at the
// same moment, many times: exactly one is accepted.
func TestReplicas_IngestSameID(t *testing.T) {
	rs := replicas(t, 2, natsstore.Options{})
	ctx := context.Background()
	t0 := time.Now()
	for i := range 40 {
		id := fmt.Sprintf("evt_same_%d", i)
		var st [2]relay.IngestStatus
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for r := range 2 {
			e := storetest.NewEvent(id, t0.Add(time.Duration(r)*time.Millisecond), relay.OutboxTarget{Sink: "erp"})
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st[r], errs[r] = rs[r].Ingest(ctx, e)
			}()
		}
		close(start)
		wg.Wait()
		for r := range 2 {
			if errs[r] != nil {
				t.Fatalf("%s at replica %d: %v", id, r, errs[r])
			}
		}
		if !(st[0] == relay.IngestAccepted && st[1] == relay.IngestDuplicate || st[0] == relay.IngestDuplicate && st[1] == relay.IngestAccepted) {
			t.Fatalf("%s: statuses %v, want one accepted and one duplicate", id, st)
		}
		for r := range 2 {
			d, err := rs[r].GetEvent(ctx, id)
			if err != nil {
				t.Fatalf("GetEvent(%s) at replica %d: %v", id, r, err)
			}
			if d.Duplicates != 1 || len(d.Deliveries) != 1 {
				t.Fatalf("%s at replica %d: %d duplicates, %d deliveries; want 1, 1", id, r, d.Duplicates, len(d.Deliveries))
			}
		}
	}
	st, err := rs[1].Stats(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Sinks["erp"].Pending != 40 {
		t.Errorf("erp pending = %d, want 40 (one outbox entry per event)", st.Sinks["erp"].Pending)
	}
}

// TestReplicas_ClaimOnce has two replicas claim and finish concurrently:
// every entry is claimed exactly once, and within a subject never while an
// earlier one is in flight, and in order.
func TestReplicas_ClaimOnce(t *testing.T) {
	rs := replicas(t, 2, natsstore.Options{})
	ctx := context.Background()
	const n = 300
	const subjects = 12
	t0 := time.Now().Add(-time.Minute)
	order := map[string][]string{} // subject → ids in ingest order
	for i := range n {
		subj := fmt.Sprintf("trx_%d", i%subjects)
		id := fmt.Sprintf("evt_%03d", i)
		e := storetest.NewEvent(id, t0.Add(time.Duration(i)*time.Millisecond),
			relay.OutboxTarget{Sink: "ap", OrderKey: subj}, relay.OutboxTarget{Sink: "erp"})
		e.Subject = subj
		if _, err := rs[i%2].Ingest(ctx, e); err != nil {
			t.Fatal(err)
		}
		order[subj] = append(order[subj], id)
	}
	var mu sync.Mutex
	claimed := map[string]int{}        // sink/id → claims
	inFlight := map[string]string{}    // ap subject → id in flight
	delivered := map[string][]string{} // ap subject → ids in delivery order
	var violations []string
	var done atomic.Int64
	var wg sync.WaitGroup
	for r := range 2 {
		for _, sink := range []string{"ap", "erp"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for done.Load() < 2*n {
					claims, _, err := rs[r].ClaimDue(ctx, sink, time.Now(), 8)
					if err != nil {
						t.Errorf("ClaimDue: %v", err)
						return
					}
					if len(claims) == 0 {
						time.Sleep(2 * time.Millisecond)
						continue
					}
					for _, c := range claims {
						mu.Lock()
						claimed[sink+"/"+c.EventID]++
						if sink == "ap" {
							if other, ok := inFlight[c.Subject]; ok {
								violations = append(violations, fmt.Sprintf("%s claimed while %s of %s in flight", c.EventID, other, c.Subject))
							}
							inFlight[c.Subject] = c.EventID
						}
						mu.Unlock()
					}
					for _, c := range claims {
						if sink == "ap" {
							mu.Lock()
							delete(inFlight, c.Subject)
							delivered[c.Subject] = append(delivered[c.Subject], c.EventID)
							mu.Unlock()
						}
						if err := rs[r].Finish(ctx, sink, c.EventID, relay.Attempt{At: time.Now(), Outcome: "delivered"}, relay.Transition{State: relay.StateDelivered}); err != nil {
							t.Errorf("Finish(%s, %s): %v", sink, c.EventID, err)
						}
						done.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, v := range violations {
		t.Error(v)
	}
	if len(claimed) != 2*n {
		t.Errorf("%d entries claimed, want %d", len(claimed), 2*n)
	}
	for k, c := range claimed {
		if c != 1 {
			t.Errorf("%s claimed %d times", k, c)
		}
	}
	for subj, ids := range order {
		if got := strings.Join(delivered[subj], ","); got != strings.Join(ids, ",") {
			t.Errorf("subject %s delivered in order %s, want %s", subj, got, strings.Join(ids, ","))
		}
	}
	st, err := rs[0].Stats(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Events[relay.StatusDelivered] != n {
		t.Errorf("stats: %v, want %d delivered", st.Events, n)
	}
}

// TestReplicas_Takeover kills a replica holding a claim: another replica
// gets the entry once the claim's ack wait has passed, not before.
func TestReplicas_Takeover(t *testing.T) {
	const ackWait = 800 * time.Millisecond
	ctx := context.Background()
	for _, review := range []bool{false, true} {
		t.Run(fmt.Sprintf("review=%v", review), func(t *testing.T) {
			rs := replicas(t, 2, natsstore.Options{AckWait: func(string) time.Duration { return ackWait }})
			a, b := rs[0], rs[1]
			if _, err := a.Ingest(ctx, storetest.NewEvent("evt_1", time.Now(), relay.OutboxTarget{Sink: "ap"})); err != nil {
				t.Fatal(err)
			}
			claimedAt := time.Now() // the claim's lease starts after this
			claims, _, err := a.ClaimDue(ctx, "ap", time.Now(), 10)
			if err != nil || len(claims) != 1 {
				t.Fatalf("ClaimDue at a = %v, %v; want evt_1", claims, err)
			}
			claimedBy := time.Now() // and before this
			natsstore.Abandon(a)

			// b starting now resumes nothing: the claim is still running.
			if n, err := b.ResumeInFlight(ctx, "ap", review, time.Now()); err != nil || n != 0 {
				t.Fatalf("ResumeInFlight at b = %d, %v; want 0 while a's claim runs", n, err)
			}
			got, next, err := b.ClaimDue(ctx, "ap", time.Now(), 10)
			if err != nil || len(got) != 0 {
				t.Fatalf("ClaimDue at b before the ack wait = %v, %v; want nothing", got, err)
			}
			// The lease started while a's ClaimDue ran: between the two
			// readings of the clock, however slow the machine.
			if next.Before(claimedAt.Add(ackWait)) || next.After(claimedBy.Add(ackWait)) {
				t.Errorf("next = %v, want the claim's expiry, between %v and %v", next, claimedAt.Add(ackWait), claimedBy.Add(ackWait))
			}
			var claim *relay.Claim
			testkit.Eventually(t, 10*time.Second, "b to take the entry over", func() bool {
				got, _, err := b.ClaimDue(ctx, "ap", time.Now(), 10)
				if err != nil {
					t.Fatalf("ClaimDue at b: %v", err)
				}
				if len(got) > 0 {
					claim = &got[0]
				}
				if review {
					d, err := b.GetEvent(ctx, "evt_1")
					return err == nil && d.Deliveries[0].State == relay.StateNeedsReview
				}
				return claim != nil
			})
			if waited := time.Since(claimedAt); waited < ackWait {
				t.Errorf("taken over after %v, before the ack wait %v", waited, ackWait)
			}
			if review {
				if claim != nil {
					t.Fatalf("review sink: claim %v returned, want needs_review", claim.EventID)
				}
				return
			}
			if claim.EventID != "evt_1" || !claim.PriorUnknown || claim.Attempt != 1 {
				t.Errorf("claim = %s attempt %d prior unknown %v; want evt_1, 1, true", claim.EventID, claim.Attempt, claim.PriorUnknown)
			}
			// The takeover's time stands for when the unknown attempt began:
			// never earlier than a's claim, so a look-up grace is never cut.
			if claim.PriorUnknownAt.Before(claimedAt) {
				t.Errorf("claim PriorUnknownAt = %v, before a's claim at %v", claim.PriorUnknownAt, claimedAt)
			}
			if err := b.Finish(ctx, "ap", "evt_1", relay.Attempt{At: time.Now(), Outcome: "delivered"}, relay.Transition{State: relay.StateDelivered}); err != nil {
				t.Fatalf("Finish at b: %v", err)
			}
		})
	}

	t.Run("ErrConflictAfterTakeover", func(t *testing.T) {
		rs := replicas(t, 2, natsstore.Options{AckWait: func(string) time.Duration { return 300 * time.Millisecond }})
		a, b := rs[0], rs[1]
		if _, err := a.Ingest(ctx, storetest.NewEvent("evt_1", time.Now(), relay.OutboxTarget{Sink: "erp"})); err != nil {
			t.Fatal(err)
		}
		if c, _, err := a.ClaimDue(ctx, "erp", time.Now(), 1); err != nil || len(c) != 1 {
			t.Fatalf("ClaimDue at a = %v, %v", c, err)
		}
		// a is slow, not dead: b takes over after the ack wait.
		testkit.Eventually(t, 10*time.Second, "b to take over", func() bool {
			c, _, err := b.ClaimDue(ctx, "erp", time.Now(), 1)
			return err == nil && len(c) == 1
		})
		err := a.Finish(ctx, "erp", "evt_1", relay.Attempt{At: time.Now(), Outcome: "delivered"}, relay.Transition{State: relay.StateDelivered})
		if relay.ErrorCode(err) != relay.ECONFLICT {
			t.Errorf("late Finish at a = %v, want ECONFLICT", err)
		}
		if err := b.Finish(ctx, "erp", "evt_1", relay.Attempt{At: time.Now(), Outcome: "delivered"}, relay.Transition{State: relay.StateDelivered}); err != nil {
			t.Errorf("Finish at b: %v", err)
		}
	})
}

// countingSink records deliveries; block, when set, makes Deliver wait
// until it is closed (a replica stuck mid-delivery).
type countingSink struct {
	mu       sync.Mutex
	got      map[string]int
	priorUnk map[string]bool
	block    chan struct{}
	started  atomic.Int64
}

func newCountingSink() *countingSink {
	return &countingSink{got: map[string]int{}, priorUnk: map[string]bool{}}
}

func (s *countingSink) Deliver(ctx context.Context, o *relay.Outbound) relay.Result {
	s.started.Add(1)
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
		}
		return relay.Unknown("blocked")
	}
	s.mu.Lock()
	s.got[o.Sink+"/"+o.EventID]++
	if o.PriorUnknown {
		s.priorUnk[o.EventID] = true
	}
	s.mu.Unlock()
	return relay.Delivered(200, nil)
}

func (s *countingSink) count() (total int, dup []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.got {
		total++
		if n > 1 {
			dup = append(dup, k)
		}
	}
	return total, dup
}

// startRelay runs a dispatcher over st with sinks erp (unordered) and ap
// (ordered by subject), both delivering to sink, and wires the store's
// notifications to it.
func startRelay(t *testing.T, st *natsstore.Store, sink relay.Sink, timeout time.Duration) *relay.Dispatcher {
	t.Helper()
	specs := []*relay.SinkSpec{
		{Name: "erp", Kind: "http", Sink: sink, Concurrency: 4, Timeout: timeout, Schedule: []time.Duration{50 * time.Millisecond}},
		{Name: "ap", Kind: "http", Sink: sink, Concurrency: 4, Timeout: timeout, Schedule: []time.Duration{50 * time.Millisecond}},
	}
	d := relay.NewDispatcher(st, specs, relay.DispatcherOptions{})
	st.SetNotify(d.Notify)
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d
}

// event returns a fixture event of subject, routed to erp (unordered) and
// ap (ordered by subject).
func event(id string, at time.Time, subject string) *relay.NewEvent {
	e := storetest.NewEvent(id, at, relay.OutboxTarget{Sink: "erp"}, relay.OutboxTarget{Sink: "ap", OrderKey: subject})
	e.Subject = subject
	return e
}

// TestReplicas_Dispatchers runs two relays (dispatchers) on one prefix,
// with events ingested at both: every event reaches each sink once.
func TestReplicas_Dispatchers(t *testing.T) {
	rs := replicas(t, 2, natsstore.Options{})
	sink := newCountingSink()
	for _, st := range rs {
		startRelay(t, st, sink, 2*time.Second)
	}
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; i < n; i += 2 {
				e := event(fmt.Sprintf("evt_%03d", i), time.Now(), fmt.Sprintf("trx_%d", i%10))
				if _, err := rs[r].Ingest(ctx, e); err != nil {
					t.Errorf("Ingest: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	testkit.Eventually(t, 30*time.Second, "every event at both sinks", func() bool {
		total, _ := sink.count()
		return total == 2*n
	})
	if total, dup := sink.count(); total != 2*n || len(dup) > 0 {
		t.Errorf("delivered %d of %d, more than once: %v", total, 2*n, dup)
	}
	testkit.Eventually(t, 10*time.Second, "all delivered in stats", func() bool {
		st, err := rs[0].Stats(ctx, time.Now())
		return err == nil && st.Events[relay.StatusDelivered] == n
	})
}

// TestReplicas_KilledMidDelivery kills a replica while its deliveries hang:
// the other replica delivers them after the ack wait, and loses nothing.
func TestReplicas_KilledMidDelivery(t *testing.T) {
	const timeout = 500 * time.Millisecond
	ackWait := func(string) time.Duration { return timeout + 1500*time.Millisecond }
	prefix := freshPrefix(t, shared.ClientURL())
	a := MustOpenStore(t, natsstore.Options{URLs: shared.ClientURL(), Prefix: prefix, Name: "a", AckWait: ackWait})
	stuck := newCountingSink()
	stuck.block = make(chan struct{})
	da := startRelay(t, a, stuck, time.Minute)
	ctx := context.Background()
	const n = 40
	start := time.Now() // a's claims, and their leases, start after this
	for i := range n {
		e := event(fmt.Sprintf("evt_%02d", i), time.Now(), fmt.Sprintf("trx_%d", i%5))
		if _, err := a.Ingest(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 10*time.Second, "a to have deliveries in flight", func() bool { return stuck.started.Load() >= 8 })
	natsstore.Abandon(a) // killed: its claims stay in flight

	b := MustOpenStore(t, natsstore.Options{URLs: shared.ClientURL(), Prefix: prefix, Name: "b", AckWait: ackWait})
	good := newCountingSink()
	startRelay(t, b, good, timeout)
	testkit.Eventually(t, 30*time.Second, "b to deliver everything", func() bool {
		total, _ := good.count()
		return total == 2*n
	})
	if total, dup := good.count(); total != 2*n || len(dup) > 0 {
		t.Errorf("b delivered %d of %d, more than once: %v", total, 2*n, dup)
	}
	good.mu.Lock()
	resumed := len(good.priorUnk)
	good.mu.Unlock()
	if resumed == 0 {
		t.Error("no delivery came back with PriorUnknown; want a's in-flight ones")
	}
	if d := time.Since(start); d < ackWait("") {
		t.Errorf("everything delivered %v after a's claims, before the ack wait", d)
	}
	// Let a's stuck workers end (their Finish fails: the store is gone).
	close(stuck.block)
	da.Stop()
}
