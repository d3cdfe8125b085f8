package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// commitLog records what Options.OnCommit reports.
type commitLog struct {
	mu   sync.Mutex
	ops  []int
	errs []error
}

func (l *commitLog) record(ops int, _ time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, ops)
	l.errs = append(l.errs, err)
}

// holdWriter parks the writer inside a transaction until the returned
// release is called, so that the operations queued meanwhile share the next
// batch.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	entered, hold, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.update(context.Background(), func(*bolt.Tx) error {
			close(entered)
			<-hold
			return nil
		})
	}()
	<-entered
	return func() {
		close(hold)
		if err := <-done; err != nil {
			t.Errorf("held op: %v", err)
		}
	}
}

// waitQueued waits until n operations wait for the writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.ops) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d operations queued, want %d", len(s.ops), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustOpen(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "relay.db"), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStore_GroupCommit checks that one failing operation of a batch fails
// only itself: its writes are rolled back, its neighbours commit.
func TestStore_GroupCommit(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		var log commitLog
		s := mustOpen(t, Options{OnCommit: log.record})
		ctx := context.Background()
		release := holdWriter(t, s)

		var wg sync.WaitGroup
		statuses := make([]relay.IngestStatus, 3)
		errs := make([]error, 3)
		for i, id := range []string{"evt_a", "evt_b", "evt_c"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], errs[i] = s.Ingest(ctx, storetest.NewEvent(id, t0, relay.OutboxTarget{Sink: "erp"}))
			}()
		}
		waitQueued(t, s, 3)
		release()
		wg.Wait()
		for i := range statuses {
			if errs[i] != nil || statuses[i] != relay.IngestAccepted {
				t.Errorf("Ingest %d = %q, %v", i, statuses[i], errs[i])
			}
		}
		log.mu.Lock()
		defer log.mu.Unlock()
		if len(log.ops) != 2 || log.ops[1] != 3 {
			t.Errorf("commits of %v operations, want the held one then one batch of 3", log.ops)
		}
	})

	t.Run("InternalErrorRollsBackOnlyItself", func(t *testing.T) {
		var log commitLog
		s := mustOpen(t, Options{OnCommit: log.record})
		ctx := context.Background()
		release := holdWriter(t, s)

		boom := errors.New("boom")
		var wg sync.WaitGroup
		var ingestErrs [2]error
		var badErr, finishErr error
		// Queued in this order: the ingests write, then the bad op fails.
		for i, id := range []string{"evt_a", "evt_b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ingestErrs[i] = s.Ingest(ctx, storetest.NewEvent(id, t0, relay.OutboxTarget{Sink: "erp"}))
			}()
		}
		waitQueued(t, s, 2)
		wg.Add(2)
		go func() {
			defer wg.Done()
			badErr = s.update(ctx, func(tx *bolt.Tx) error {
				if err := tx.Bucket(bktEvents).Put([]byte("half-written"), []byte("{}")); err != nil {
					return err
				}
				return boom
			})
		}()
		waitQueued(t, s, 3)
		go func() {
			defer wg.Done()
			// An application error: answered to its caller, the batch commits.
			finishErr = s.Finish(ctx, "erp", "evt_nope", relay.Attempt{At: t0}, relay.Transition{State: relay.StateDelivered})
		}()
		waitQueued(t, s, 4)
		release()
		wg.Wait()

		for i, err := range ingestErrs {
			if err != nil {
				t.Errorf("Ingest %d next to a failing op: %v", i, err)
			}
		}
		if !errors.Is(badErr, boom) {
			t.Errorf("failing op: %v, want boom", badErr)
		}
		if code := relay.ErrorCode(finishErr); code != relay.ECONFLICT {
			t.Errorf("Finish of an unknown delivery: %v, want %s", finishErr, relay.ECONFLICT)
		}
		for _, id := range []string{"evt_a", "evt_b"} {
			if _, err := s.GetEvent(ctx, id); err != nil {
				t.Errorf("GetEvent(%s): %v", id, err)
			}
		}
		_ = s.view(func(tx *bolt.Tx) error {
			if tx.Bucket(bktEvents).Get([]byte("half-written")) != nil {
				t.Error("the failing op's write was committed")
			}
			return nil
		})
		log.mu.Lock()
		defer log.mu.Unlock()
		if len(log.ops) < 2 || log.ops[1] != 4 || !errors.Is(log.errs[1], errRollback) {
			t.Errorf("commits %v %v, want the batch of 4 rolled back, then each alone", log.ops, log.errs)
		}
	})

	t.Run("CommitFailure", func(t *testing.T) {
		s := mustOpen(t, Options{})
		ctx := context.Background()
		// The file may not grow past its size now: a commit that needs
		// more pages fails in tx.Commit, after every op succeeded.
		// (Set before any op is queued: the queue orders it before the
		// writer's reads.)
		s.db.MaxSize = 64 << 10
		huge := storetest.NewEvent("evt_huge", t0, relay.OutboxTarget{Sink: "erp"})
		huge.Delivery.Body = make([]byte, 1<<20)

		release := holdWriter(t, s)
		var wg sync.WaitGroup
		var hugeErr error
		smallErrs := make([]error, 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, hugeErr = s.Ingest(ctx, huge)
		}()
		for i, id := range []string{"evt_a", "evt_b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, smallErrs[i] = s.Ingest(ctx, storetest.NewEvent(id, t0, relay.OutboxTarget{Sink: "erp"}))
			}()
		}
		waitQueued(t, s, 3)
		release()
		wg.Wait()

		if !errors.Is(hugeErr, bolterrors.ErrMaxSizeReached) {
			t.Errorf("Ingest past the size limit: %v, want ErrMaxSizeReached", hugeErr)
		}
		if code := relay.ErrorCode(hugeErr); code != relay.EINTERNAL {
			t.Errorf("commit failure code %q, want %q (the HTTP layer answers 503)", code, relay.EINTERNAL)
		}
		if _, err := s.GetEvent(ctx, "evt_huge"); relay.ErrorCode(err) != relay.ENOTFOUND {
			t.Errorf("GetEvent of the failed commit: %v, want not found", err)
		}
		for i, err := range smallErrs {
			if err != nil {
				t.Errorf("small Ingest %d in the same batch: %v", i, err)
			}
		}
	})
}

// TestStore_Purge_rerun checks that a Purge rolled back with its batch and
// rerun alone starts where it started the first time.
func TestStore_Purge_rerun(t *testing.T) {
	s := mustOpen(t, Options{})
	ctx := context.Background()
	for _, id := range []string{"evt_1", "evt_2"} {
		if _, err := s.Ingest(ctx, storetest.NewEvent(id, t0)); err != nil { // unrouted: purgeable
			t.Fatal(err)
		}
	}
	cutoff := t0.Add(time.Hour)
	release := holdWriter(t, s)
	var wg sync.WaitGroup
	var res relay.PurgeResult
	var purgeErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		res, purgeErr = s.Purge(ctx, cutoff, 1)
	}()
	waitQueued(t, s, 1)
	go func() {
		defer wg.Done()
		// Fails after the purge ran in the batch: the batch rolls back.
		_ = s.update(ctx, func(*bolt.Tx) error { return errors.New("boom") })
	}()
	waitQueued(t, s, 2)
	release()
	wg.Wait()
	if purgeErr != nil || res.Events != 1 {
		t.Fatalf("Purge = %+v, %v; want 1 event", res, purgeErr)
	}
	total := res.Events
	for i := 0; !res.Done; i++ {
		if i == 10 {
			t.Fatal("Purge not done after 10 calls")
		}
		if res, purgeErr = s.Purge(ctx, cutoff, 1); purgeErr != nil {
			t.Fatal(purgeErr)
		}
		total += res.Events
	}
	if total != 2 {
		t.Errorf("purged %d events before Done, want 2", total)
	}
	for _, id := range []string{"evt_1", "evt_2"} {
		if _, err := s.GetEvent(ctx, id); relay.ErrorCode(err) != relay.ENOTFOUND {
			t.Errorf("GetEvent(%s) after Done: %v, want not found", id, err)
		}
	}
}

// TestStore_Purge_searchKeys checks that retention leaves no search key
// behind: document number, counterparty and a payment's transaction id.
func TestStore_Purge_searchKeys(t *testing.T) {
	s := mustOpen(t, Options{})
	ctx := context.Background()
	trx := storetest.NewEvent("evt_t", t0)
	trx.DocumentNumber, trx.Counterparty = "INV-1", "PT Maju Jaya"
	pay := storetest.NewEvent("evt_p", t0)
	pay.Type, pay.Subject, pay.TransactionID = "payment.completed", "pay_1", trx.Subject
	for _, e := range []*relay.NewEvent{trx, pay} {
		if _, err := s.Ingest(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	searchKeys := func() int {
		n := 0
		if err := s.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bktSearch).Stats().KeyN; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := searchKeys(); n != 3 {
		t.Fatalf("%d search keys after ingest, want 3 (document number, counterparty, transaction id)", n)
	}
	for res := (relay.PurgeResult{}); !res.Done; {
		var err error
		if res, err = s.Purge(ctx, t0.Add(time.Hour), 10); err != nil {
			t.Fatal(err)
		}
	}
	if n := searchKeys(); n != 0 {
		t.Errorf("%d search keys left after retention removed every event", n)
	}
}
