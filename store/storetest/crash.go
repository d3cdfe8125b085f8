package storetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Crash points: a backend's test runs CrashWorkload in a child process
// (the test binary re-run with RunCrashChild) with a CrashHook installed
// at each step of its write path, and checks what the child left with
// CheckAfterCrash. See docs/WRITEPATH.md.

// CrashAck is one Ingest the child saw answered before it was killed.
type CrashAck struct {
	ID     string
	Status relay.IngestStatus
}

// crash workload size: eight workers, each up to crashPerWorker events
// (the child is killed long before).
const (
	crashWorkers   = 8
	crashPerWorker = 4000
)

var crashOut sync.Mutex

func crashSay(format string, args ...any) {
	crashOut.Lock()
	defer crashOut.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// CrashHook returns a write-path hook that SIGKILLs the process the nth
// time it is called at point (after saying so on stdout).
func CrashHook(point string, nth int) func(string) {
	var hits atomic.Int64
	return func(p string) {
		if p == point && hits.Add(1) == int64(nth) {
			crashSay("crashing")
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}

// CrashEvent is worker w's i-th delivery: every ten of a worker's events
// share a subject (ordered at erp); each also goes unordered to fwd.
func CrashEvent(w, i int) *relay.NewEvent {
	e := NewEvent(fmt.Sprintf("evt_%d_%d", w, i), t0.Add(time.Duration(i)*time.Millisecond))
	e.Subject = fmt.Sprintf("trx_%d_%d", w, i/10)
	e.Targets = []relay.OutboxTarget{{Sink: "erp", OrderKey: e.Subject}, {Sink: "fwd"}}
	return e
}

// crashIndex is the worker and index of a CrashEvent's id.
func crashIndex(t *testing.T, id string) (w, i int) {
	t.Helper()
	if _, err := fmt.Sscanf(id, "evt_%d_%d", &w, &i); err != nil {
		t.Fatalf("not a crash event id %q: %v", id, err)
	}
	return w, i
}

// CrashWorkload is the child's part: eight goroutines ingest CrashEvents
// into s, every fifth one twice, printing each answer on stdout, until the
// hook kills the process. It fails t if it ever finishes.
func CrashWorkload(t *testing.T, s relay.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range crashPerWorker {
				e := CrashEvent(w, i)
				st, err := s.Ingest(ctx, e)
				if err != nil {
					t.Errorf("Ingest(%s): %v", e.ID, err)
					return
				}
				crashSay("ack %s %s", e.ID, st)
				if i%5 == 4 {
					if st, err = s.Ingest(ctx, CrashEvent(w, i)); err == nil {
						crashSay("ack %s %s", e.ID, st)
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Error("crash point never reached")
}

// crashAtEnv tells RunCrashChild's child where to die: "point:nth".
const crashAtEnv = "STORETEST_CRASH_AT"

// ChildCrashHook is the child's CrashHook, from what RunCrashChild set;
// ok is false outside a crash test's child.
func ChildCrashHook() (hook func(string), ok bool) {
	point, nth, ok := strings.Cut(os.Getenv(crashAtEnv), ":")
	if !ok {
		return nil, false
	}
	n, err := strconv.Atoi(nth)
	if err != nil {
		return nil, false
	}
	return CrashHook(point, n), true
}

// RunCrashChild re-runs this test binary's test named child with env
// added, to die the nth time it reaches point (ChildCrashHook), reads the
// answers it printed, and checks that it died by SIGKILL there.
func RunCrashChild(t *testing.T, child, point string, nth int, env ...string) []CrashAck {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), append(env, fmt.Sprintf("%s=%s:%d", crashAtEnv, point, nth))...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acks []CrashAck
	reached := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "ack":
			acks = append(acks, CrashAck{f[1], relay.IngestStatus(f[2])})
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

// StoredEvents lists every event of s with its detail.
func StoredEvents(t *testing.T, s relay.Store) map[string]*relay.EventDetail {
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

// CheckAfterCrash checks what the killed child left in s: every
// acknowledged id is stored; every event has exactly one outbox entry per
// sink and the sinks' pending counts equal the events; each subject's
// queue at erp has exactly one head; a duplicate's count is at least the
// acknowledged duplicates and at most the one sent; and every
// acknowledged id answers duplicate now; and the delivery each worker had
// in flight is stored when sent again.
func CheckAfterCrash(t *testing.T, s relay.Store, acks []CrashAck) {
	t.Helper()
	ctx := context.Background()
	stored := StoredEvents(t, s)
	dupAcked := map[string]int{}
	for _, a := range acks {
		if stored[a.ID] == nil {
			t.Errorf("%s acknowledged (%s) before the crash, missing after it", a.ID, a.Status)
		}
		if a.Status == relay.IngestDuplicate {
			dupAcked[a.ID]++
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
		if heads[d.Subject] == "" {
			t.Errorf("subject %s of %s has no head", d.Subject, id)
		}
	}
	for _, a := range acks {
		if a.Status != relay.IngestAccepted {
			continue
		}
		if got, err := s.Ingest(ctx, CrashEvent(crashIndex(t, a.ID))); err != nil || got != relay.IngestDuplicate {
			t.Errorf("Ingest(%s) after the crash = %q, %v; want duplicate", a.ID, got, err)
		}
	}
	resendInFlight(t, s, acks)
}

// resendInFlight sends again, as TagihanAI would, each worker's delivery
// after its last answered one (the one in flight at the kill, whatever
// step it had reached): it must be stored, once, with both deliveries.
func resendInFlight(t *testing.T, s relay.Store, acks []CrashAck) {
	t.Helper()
	ctx := context.Background()
	last := map[int]int{}
	for _, a := range acks {
		w, i := crashIndex(t, a.ID)
		last[w] = max(last[w], i)
	}
	for w, i := range last {
		e := CrashEvent(w, i+1)
		if got, err := s.Ingest(ctx, e); err != nil || (got != relay.IngestAccepted && got != relay.IngestDuplicate) {
			t.Errorf("resend of %s after the crash = %q, %v", e.ID, got, err)
			continue
		}
		d, err := s.GetEvent(ctx, e.ID)
		if err != nil || len(d.Deliveries) != 2 {
			t.Errorf("%s after its resend: %v, %+v; want stored with erp and fwd", e.ID, err, d)
		}
	}
}
