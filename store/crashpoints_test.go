package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// The write path's crash points (docs/WRITEPATH.md), each with the
// commit the child is killed at: inside the bbolt transaction after every
// operation of the batch ran (before tx.Commit), after the commit returned
// (durable, nobody answered yet), and after the batch's callers were
// answered.
var crashPoints = []struct {
	point string
	nth   int
}{
	{"commit-in-tx", 40},
	{"committed", 40},
	{"answered", 40},
}

const (
	crashChildEnv  = "STORE_CRASH_CHILD" // the child's database path
	crashAtEnv     = "STORE_CRASH_AT"    // point:nth
	crashWorkers   = 8
	crashPerWorker = 4000
)

// TestCrashPoints kills a child process (SIGKILL, from inside, at the
// exact step) while eight goroutines ingest ordered and unordered
// deliveries, some twice; then opens the file and checks that nothing
// acknowledged is missing, no event has a second outbox entry, the subject
// queues have one head each, every acknowledged id answers duplicate, and
// a duplicate's count is neither lost nor doubled.
func TestCrashPoints(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("child")
	}
	for _, cp := range crashPoints {
		t.Run(cp.point, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "relay.db")
			acked := runCrashChild(t, path, cp.point, cp.nth)
			n := checkAfterCrash(t, path, acked)
			if again := len(listStored(t, path)); again != n {
				t.Errorf("a second open lists %d events, the first %d", again, n)
			}
		})
	}
}

// crashAck is what the child printed for one answered Ingest.
type crashAck struct {
	id     string
	status relay.IngestStatus
}

func runCrashChild(t *testing.T, path, point string, nth int) []crashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, fmt.Sprintf("%s=%s:%d", crashAtEnv, point, nth))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acks []crashAck
	sc := bufio.NewScanner(out)
	reached := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "ack":
			acks = append(acks, crashAck{f[1], relay.IngestStatus(f[2])})
		case len(f) == 1 && f[0] == "crashing":
			reached = true
		}
	}
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !reached || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL at %s #%d (reached %v): %v", point, nth, reached, err)
	}
	if len(acks) == 0 {
		t.Fatal("child acknowledged nothing before the crash")
	}
	return acks
}

// TestCrashChild is the child of TestCrashPoints.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("run by TestCrashPoints")
	}
	point, nthStr, _ := strings.Cut(os.Getenv(crashAtEnv), ":")
	nth, _ := strconv.Atoi(nthStr)
	var hits atomic.Int64
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	crashHook = func(p string) {
		if p == point && hits.Add(1) == int64(nth) {
			say("crashing")
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range crashPerWorker {
				e := crashEvent(w, i)
				st, err := s.Ingest(ctx, e)
				if err != nil {
					t.Errorf("Ingest(%s): %v", e.ID, err)
					return
				}
				say("ack %s %s", e.ID, st)
				if i%5 == 4 { // every fifth delivery comes again
					if st, err = s.Ingest(ctx, crashEvent(w, i)); err == nil {
						say("ack %s %s", e.ID, st)
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Error("crash point never reached")
}

// crashEvent is worker w's i-th delivery: every ten of a worker's events
// share a subject (ordered at erp), each also goes unordered to fwd.
func crashEvent(w, i int) *relay.NewEvent {
	e := storetest.NewEvent(fmt.Sprintf("evt_%d_%d", w, i), t0.Add(time.Duration(i)*time.Millisecond))
	e.Subject = fmt.Sprintf("trx_%d_%d", w, i/10)
	e.Targets = []relay.OutboxTarget{{Sink: "erp", OrderKey: e.Subject}, {Sink: "fwd"}}
	return e
}

// listStored opens path and returns every stored event.
func listStored(t *testing.T, path string) map[string]*relay.EventDetail {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	return allEvents(t, s)
}

func allEvents(t *testing.T, s *Store) map[string]*relay.EventDetail {
	t.Helper()
	ctx := context.Background()
	stored := map[string]*relay.EventDetail{}
	var cursor string
	for {
		p, err := s.ListEvents(ctx, relay.EventFilter{Limit: 500, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			d, err := s.GetEvent(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			stored[e.ID] = d
		}
		if cursor = p.NextCursor; cursor == "" {
			return stored
		}
	}
}

// checkAfterCrash checks the file the child left and returns how many
// events it holds.
func checkAfterCrash(t *testing.T, path string, acks []crashAck) int {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open after the crash: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	ctx := context.Background()
	stored := allEvents(t, s)
	dupAcked := map[string]int{}
	for _, a := range acks {
		if stored[a.id] == nil {
			t.Errorf("%s acknowledged (%s) before the crash, missing after it", a.id, a.status)
		}
		if a.status == relay.IngestDuplicate {
			dupAcked[a.id]++
		}
	}
	for id, d := range stored {
		if len(d.Deliveries) != 2 {
			t.Errorf("%s has %d deliveries, want erp and fwd", id, len(d.Deliveries))
		}
		if d.Duplicates < dupAcked[id] || d.Duplicates > 1 {
			t.Errorf("%s counts %d duplicates; %d acknowledged, at most 1 sent", id, d.Duplicates, dupAcked[id])
		}
	}
	st, err := s.Stats(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"erp", "fwd"} {
		if got := st.Sinks[sink].Pending; got != int64(len(stored)) {
			t.Errorf("%s has %d pending outbox entries for %d events", sink, got, len(stored))
		}
	}
	// Each subject's queue at erp has exactly one head: its oldest event.
	claims, _, err := s.ClaimDue(ctx, "erp", t0.Add(time.Hour), len(stored)+1)
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string]string{}
	for _, c := range claims {
		d := stored[c.EventID]
		if d == nil {
			t.Fatalf("claimed %s, not listed", c.EventID)
		}
		if prev, ok := heads[d.Subject]; ok {
			t.Errorf("subject %s has two heads: %s and %s", d.Subject, prev, c.EventID)
		}
		heads[d.Subject] = c.EventID
	}
	for id, d := range stored {
		if h := heads[d.Subject]; h == "" {
			t.Errorf("subject %s of %s has no head", d.Subject, id)
		}
	}
	// Dedup is exact across the crash.
	for _, a := range acks {
		if a.status != relay.IngestAccepted {
			continue
		}
		var w, i int
		if _, err := fmt.Sscanf(a.id, "evt_%d_%d", &w, &i); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Ingest(ctx, crashEvent(w, i)); err != nil || got != relay.IngestDuplicate {
			t.Errorf("Ingest(%s) after the crash = %q, %v; want duplicate", a.id, got, err)
		}
	}
	return len(stored)
}
