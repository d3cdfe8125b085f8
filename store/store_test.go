package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestStore runs the relay.Store contract suite against bbolt.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) relay.Store { return testkit.OpenStore(t) })
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func erp() relay.OutboxTarget { return relay.OutboxTarget{Sink: "erp"} }

// within fails the test when fn does not return within d (a hang).
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func TestStore_Backup(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s := testkit.OpenStore(t)
		ctx := context.Background()

		var (
			mu    sync.Mutex
			acked []string
			seq   atomic.Int64
			wg    sync.WaitGroup
		)
		stop := make(chan struct{})
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					i := seq.Add(1)
					id := fmt.Sprintf("evt_%06d", i)
					st, err := s.Ingest(ctx, storetest.NewEvent(id, t0.Add(time.Duration(i)*time.Millisecond), erp()))
					if err != nil || st != relay.IngestAccepted {
						t.Errorf("Ingest(%s) = %q, %v", id, st, err)
						return
					}
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}()
		}
		count := func() int {
			mu.Lock()
			defer mu.Unlock()
			return len(acked)
		}
		testkit.Eventually(t, 0, "200 acked ingests", func() bool { return count() >= 200 })

		mu.Lock()
		before := append([]string(nil), acked...)
		mu.Unlock()
		path := filepath.Join(t.TempDir(), "backup.db")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Backup(ctx, f)
		if err != nil {
			t.Fatalf("Backup: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 0, "more ingests after the backup", func() bool { return count() >= len(before)+50 })
		close(stop)
		wg.Wait()

		if fi, err := os.Stat(path); err != nil || fi.Size() != n {
			t.Fatalf("backup file: %v, %v; want %d bytes", fi, err, n)
		}
		b, err := store.Open(path, store.Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("open the backup: %v", err)
		}
		defer b.Close()
		for _, id := range before {
			if _, err := b.GetEvent(ctx, id); err != nil {
				t.Fatalf("backup: GetEvent(%s) acked before the backup: %v", id, err)
			}
		}
		// One consistent snapshot: the counts agree with the listing.
		listed := 0
		f2 := relay.EventFilter{Limit: 1000}
		for {
			p, err := b.ListEvents(ctx, f2)
			if err != nil {
				t.Fatal(err)
			}
			listed += len(p.Events)
			if p.NextCursor == "" {
				break
			}
			f2.Cursor = p.NextCursor
		}
		st, err := b.Stats(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Events[relay.StatusPending]; got != int64(listed) || st.Sinks["erp"].Pending != int64(listed) {
			t.Errorf("backup: %d events listed, counts say %d events and %d pending deliveries", listed, got, st.Sinks["erp"].Pending)
		}
		if listed < len(before) {
			t.Errorf("backup lists %d events, %d were acked before it started", listed, len(before))
		}
	})
}

func TestStore_Open(t *testing.T) {
	t.Run("ErrLocked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "relay.db")
		testkit.OpenStoreAt(t, path, store.Options{})
		for _, ro := range []bool{false, true} {
			start := time.Now()
			s, err := store.Open(path, store.Options{LockTimeout: 100 * time.Millisecond, ReadOnly: ro})
			if !errors.Is(err, store.ErrLocked) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open(read-only %v) of a held file: %v, want ErrLocked", ro, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Open took %v with a 100ms lock timeout", d)
			}
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "relay.db")
		ctx := context.Background()
		s, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := s.Ingest(ctx, storetest.NewEvent(fmt.Sprintf("evt_%d", i), t0.Add(time.Duration(i)), erp())); err != nil {
				t.Fatal(err)
			}
		}
		claims, _, err := s.ClaimDue(ctx, "erp", t0.Add(time.Hour), 1)
		if err != nil || len(claims) != 1 {
			t.Fatalf("ClaimDue = %d claims, %v", len(claims), err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		// A restart: everything acked is there, the claim is resumable.
		s = testkit.OpenStoreAt(t, path, store.Options{})
		if st, err := s.Ingest(ctx, storetest.NewEvent("evt_0", t0, erp())); err != nil || st != relay.IngestDuplicate {
			t.Errorf("Ingest after reopen = %q, %v; want duplicate", st, err)
		}
		n, err := s.ResumeInFlight(ctx, "erp", false, t0.Add(2*time.Hour))
		if err != nil || n != 1 {
			t.Errorf("ResumeInFlight = %d, %v; want 1", n, err)
		}
		claims, _, err = s.ClaimDue(ctx, "erp", t0.Add(2*time.Hour), 10)
		if err != nil || len(claims) != 3 {
			t.Errorf("ClaimDue after restart = %d claims, %v; want 3", len(claims), err)
		}
	})

	t.Run("ReadOnly", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "relay.db")
		ctx := context.Background()
		s, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Ingest(ctx, storetest.NewEvent("evt_1", t0, erp())); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		r := testkit.OpenStoreAt(t, path, store.Options{ReadOnly: true})
		if _, err := r.GetEvent(ctx, "evt_1"); err != nil {
			t.Errorf("GetEvent on a read-only store: %v", err)
		}
		_, err = r.Ingest(ctx, storetest.NewEvent("evt_2", t0, erp()))
		if code := relay.ErrorCode(err); code != relay.EUNAVAILABLE {
			t.Errorf("Ingest on a read-only store: %v, want code %q", err, relay.EUNAVAILABLE)
		}
		// Two readers share the file.
		testkit.OpenStoreAt(t, path, store.Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond})
	})

	t.Run("ReadOnlyMissing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "relay.db")
		if s, err := store.Open(path, store.Options{ReadOnly: true}); err == nil {
			s.Close()
			t.Fatal("Open(read-only) of a missing file succeeded")
		}
		if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("read-only Open created %s: %v", filepath.Dir(path), err)
		}
	})
}

func TestStore_Close(t *testing.T) {
	t.Run("Idempotent", func(t *testing.T) {
		s, err := store.Open(filepath.Join(t.TempDir(), "relay.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := s.Close(); err != nil {
				t.Errorf("Close #%d: %v", i+1, err)
			}
		}
	})

	t.Run("WritesAfterClose", func(t *testing.T) {
		s, err := store.Open(filepath.Join(t.TempDir(), "relay.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := range 100 {
			var err error
			within(t, 5*time.Second, "Ingest after Close", func() {
				_, err = s.Ingest(ctx, storetest.NewEvent(fmt.Sprintf("evt_%d", i), t0, erp()))
			})
			if !errors.Is(err, store.ErrClosed) {
				t.Fatalf("Ingest after Close: %v, want ErrClosed", err)
			}
		}
	})

	t.Run("DuringWrites", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "relay.db")
		s, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var (
			mu    sync.Mutex
			acked []string
			seq   atomic.Int64
			wg    sync.WaitGroup
		)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					id := fmt.Sprintf("evt_%06d", seq.Add(1))
					_, err := s.Ingest(ctx, storetest.NewEvent(id, t0, erp()))
					if errors.Is(err, store.ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Ingest(%s): %v", id, err)
						return
					}
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}()
		}
		testkit.Eventually(t, 0, "100 acked ingests", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acked) >= 100
		})
		within(t, 10*time.Second, "Close during writes", func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		within(t, 10*time.Second, "writers after Close", wg.Wait)

		r := testkit.OpenStoreAt(t, path, store.Options{ReadOnly: true})
		for _, id := range acked {
			if _, err := r.GetEvent(ctx, id); err != nil {
				t.Fatalf("GetEvent(%s), acked before Close: %v", id, err)
			}
		}
	})
}

// BenchmarkIngest measures concurrent ingest with fsync: group commit is
// what lets parallel deliveries share one fsync.
func BenchmarkIngest(b *testing.B) {
	s := testkit.OpenStore(b)
	ctx := context.Background()
	tmpl := storetest.NewEvent("evt_template", t0, erp())
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := *tmpl
			e.ID = fmt.Sprintf("evt_%09d", seq.Add(1))
			if st, err := s.Ingest(ctx, &e); err != nil || st != relay.IngestAccepted {
				b.Errorf("Ingest = %q, %v", st, err)
				return
			}
		}
	})
}

// TestStore_ZeroTimes checks that a transition without NextAt, or an attempt
// without At, makes a delivery due at once rather than never.
func TestStore_ZeroTimes(t *testing.T) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	claim := func(t *testing.T, s *store.Store, want ...string) {
		t.Helper()
		claims, _, err := s.ClaimDue(ctx, "ap", now, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range claims {
			got = append(got, c.EventID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("claimed %v, want %v", got, want)
		}
	}
	ordered := relay.OutboxTarget{Sink: "ap", OrderKey: "trx_1"}

	t.Run("NextAt", func(t *testing.T) {
		s := testkit.OpenStore(t)
		// evt_2 is due later than now: ClaimDue stops at it.
		for i, e := range []*relay.NewEvent{
			storetest.NewEvent("evt_1", t0, relay.OutboxTarget{Sink: "ap"}),
			storetest.NewEvent("evt_2", now.Add(time.Hour), relay.OutboxTarget{Sink: "ap"}),
		} {
			if _, err := s.Ingest(ctx, e); err != nil {
				t.Fatal(i, err)
			}
		}
		claim(t, s, "evt_1")
		if err := s.Finish(ctx, "ap", "evt_1", relay.Attempt{At: now}, relay.Transition{State: relay.StatePending}); err != nil {
			t.Fatal(err)
		}
		claim(t, s, "evt_1")
	})

	t.Run("AttemptAt", func(t *testing.T) {
		s := testkit.OpenStore(t)
		sameSubject := func(e *relay.NewEvent) *relay.NewEvent { e.Subject = "trx_1"; return e }
		for i, e := range []*relay.NewEvent{
			sameSubject(storetest.NewEvent("evt_1", t0, ordered)),
			sameSubject(storetest.NewEvent("evt_2", t0.Add(time.Millisecond), ordered)),
			storetest.NewEvent("evt_3", now.Add(time.Hour), relay.OutboxTarget{Sink: "ap"}),
		} {
			if _, err := s.Ingest(ctx, e); err != nil {
				t.Fatal(i, err)
			}
		}
		claim(t, s, "evt_1")
		if err := s.Finish(ctx, "ap", "evt_1", relay.Attempt{}, relay.Transition{State: relay.StateDelivered}); err != nil {
			t.Fatal(err)
		}
		claim(t, s, "evt_2")
	})
}
