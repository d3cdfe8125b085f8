package natsstore_test

import (
	"context"
	"fmt"
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

// documentSink is a fake AccountingPlus: it creates one document per
// delivery it is sent and counts documents per subject and deliveries per
// event.
type documentSink struct {
	mu        sync.Mutex
	docs      map[string]int // subject → documents created
	delivered map[string]int // event id → deliveries
	n         int
}

func newDocumentSink() *documentSink {
	return &documentSink{docs: map[string]int{}, delivered: map[string]int{}}
}

func (s *documentSink) Deliver(_ context.Context, o *relay.Outbound) relay.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.docs[o.Subject]++
	s.delivered[o.EventID]++
	return relay.Delivered(200, map[string]string{"document_number": fmt.Sprintf("%05d/FPJ/11/26", s.n)})
}

// TestCluster_ReadYourWritesAndConcurrentDuplicates posts every event to
// the three replicas of a 3-node R3 cluster at the same moment while their
// dispatchers deliver at once to a create-once sink that reviews unknown
// outcomes (the AccountingPlus default). SPEC 5: one replica answers
// accepted and the others duplicate (never 503, "duplicate message id is
// in process" included); a replica that claims an event right after
// another ingested it reads the raw copy and the create-once record as
// written (never "raw delivery missing", never needs_review with nothing
// sent); every subject gets one document.
func TestCluster_ReadYourWritesAndConcurrentDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node cluster: skipped with -short")
	}
	stores := openClusterReplicas(t, startCluster(t, 3), "RW", 10*time.Second)
	sink := newDocumentSink()
	for _, st := range stores {
		specs := []*relay.SinkSpec{{Name: "ap", Kind: "accountingplus", Sink: sink, Concurrency: 4, Timeout: 5 * time.Second,
			Schedule: []time.Duration{50 * time.Millisecond}, ReviewUnknown: true, CreateOnce: true}}
		d := relay.NewDispatcher(st, specs, relay.DispatcherOptions{})
		st.SetNotify(d.Notify)
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Stop)
	}

	// Two events per subject: the second is skipped at the create-once
	// record the first one wrote. One id at a time (three copies at once):
	// a light load is what leaves followers behind the leader longest (a
	// follower applies a write when the leader's next append or heartbeat
	// says it was committed). Before the fix, in each of 6 runs, 1,200
	// events gave 1 to 14 needs_review with 0 attempts, 1,870 to 2,230 of
	// the 2,400 second and third answers were 503, and in some runs a
	// subject got a second document (a stale "no create-once record").
	n, width := 1200, 1
	if raceEnabled {
		n = 300
	}
	ctx := context.Background()
	var unavailable, otherErrs atomic.Int64
	var mu sync.Mutex
	var badAnswers []string
	start := time.Now()
	parallelRange(n, width, func(i int) {
		id := fmt.Sprintf("evt_%04d", i)
		subject := fmt.Sprintf("trx_%04d", i/2)
		var st [3]relay.IngestStatus
		var errs [3]error
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for r := range stores {
			e := storetest.NewEvent(id, start.Add(time.Duration(i)*time.Millisecond), relay.OutboxTarget{Sink: "ap", OrderKey: subject})
			e.Subject = subject
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				st[r], errs[r] = stores[r].Ingest(ctx, e)
			}()
		}
		close(gate)
		wg.Wait()
		accepted := 0
		for r := range stores {
			switch {
			case relay.ErrorCode(errs[r]) == relay.EUNAVAILABLE:
				unavailable.Add(1)
				t.Logf("%s at replica %d: 503: %v", id, r, errs[r])
			case errs[r] != nil:
				otherErrs.Add(1)
				t.Errorf("%s at replica %d: %v", id, r, errs[r])
			case st[r] == relay.IngestAccepted:
				accepted++
			case st[r] != relay.IngestDuplicate:
				t.Errorf("%s at replica %d: status %q", id, r, st[r])
			}
		}
		if accepted != 1 {
			mu.Lock()
			badAnswers = append(badAnswers, fmt.Sprintf("%s: %v %v", id, st, errs))
			mu.Unlock()
		}
	})
	t.Logf("%d events posted to 3 replicas each in %v: %d answered 503", n, time.Since(start).Round(time.Millisecond), unavailable.Load())

	// Settled: nothing in flight, and nothing pending but what waits behind
	// a needs_review first event of its subject.
	var stats relay.SinkStats
	testkit.Eventually(t, clusterDeadline, "every delivery settled", func() bool {
		st, err := stores[0].Stats(ctx, time.Now())
		stats = st.Sinks["ap"]
		if err != nil || stats.InFlight != 0 || stats.Delivered+stats.Skipped+stats.NeedsReview+stats.Dead+stats.Pending != int64(n) {
			return false
		}
		if stats.Pending == 0 {
			return true
		}
		page, err := stores[0].ListDeadLetters(ctx, relay.DeadLetterFilter{State: relay.StateNeedsReview, Limit: n})
		if err != nil {
			return false
		}
		blocking := int64(0)
		for _, dl := range page.DeadLetters {
			var i int
			if _, err := fmt.Sscanf(dl.EventID, "evt_%d", &i); err == nil && i%2 == 0 {
				blocking++
			}
		}
		return stats.Pending == blocking
	})
	t.Logf("settled %v after the start: %+v", time.Since(start).Round(time.Millisecond), stats)
	if unavailable.Load() != 0 {
		t.Errorf("%d ingests answered 503, want 0 (a concurrent copy is a duplicate)", unavailable.Load())
	}
	if len(badAnswers) > 0 {
		t.Errorf("%d events not accepted exactly once, e.g. %s", len(badAnswers), badAnswers[0])
	}
	if stats.NeedsReview != 0 || stats.Dead != 0 || stats.Delivered != int64(n/2) || stats.Skipped != int64(n/2) {
		t.Errorf("ap: %+v; want %d delivered, %d skipped, 0 needs_review, 0 dead", stats, n/2, n/2)
		page, err := stores[0].ListDeadLetters(ctx, relay.DeadLetterFilter{Limit: 5})
		if err == nil {
			for _, dl := range page.DeadLetters {
				t.Logf("dead letter %s: %s after %d attempts: %s", dl.EventID, dl.State, dl.Attempts, dl.Reason)
			}
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for subj, docs := range sink.docs {
		if docs != 1 {
			t.Errorf("subject %s: %d documents, want 1", subj, docs)
		}
	}
	for id, c := range sink.delivered {
		if c != 1 {
			t.Errorf("%s delivered %d times, want once", id, c)
		}
	}
	if len(sink.docs) != n/2 {
		t.Errorf("%d subjects have a document, want %d", len(sink.docs), n/2)
	}
}

// openClusterReplicas opens one store (R3) per node of servers under
// prefix, each preferring its own node and failing over to the others.
func openClusterReplicas(t *testing.T, servers []*server.Server, prefix string, ackWait time.Duration) []*natsstore.Store {
	t.Helper()
	all := make([]string, len(servers))
	for i, s := range servers {
		all[i] = s.ClientURL()
	}
	stores := make([]*natsstore.Store, len(servers))
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i := range stores {
		urls := append([]string{all[i]}, append(append([]string{}, all[:i]...), all[i+1:]...)...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), clusterDeadline)
			defer cancel()
			stores[i], errs[i] = natsstore.Open(ctx, natsstore.Options{
				URLs: strings.Join(urls, ","), Prefix: prefix, Replicas: 3, Name: fmt.Sprintf("relay-%d", i),
				AckWait: func(string) time.Duration { return ackWait }, Logger: testLogger(t),
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open replica %d on the cluster: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	return stores
}

// parallelRange runs fn(i) for i in [0, n) on width goroutines.
func parallelRange(n, width int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range width {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
