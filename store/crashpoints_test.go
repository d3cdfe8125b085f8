package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// The write path's crash points (docs/WRITEPATH.md), each with the commit
// the child is killed at: inside the bbolt transaction after every
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

// crashChildEnv is the child's database path.
const crashChildEnv = "STORE_CRASH_CHILD"

// TestCrashPoints kills a child process (SIGKILL, from inside, at the
// exact step) while it ingests (storetest.CrashWorkload), then opens the
// file and checks it (storetest.CheckAfterCrash), and opens it once more.
func TestCrashPoints(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("child")
	}
	for _, cp := range crashPoints {
		t.Run(cp.point, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "relay.db")
			acks := storetest.RunCrashChild(t, "TestCrashChild", cp.point, cp.nth, crashChildEnv+"="+path)
			s := mustOpenAt(t, path)
			storetest.CheckAfterCrash(t, s, acks)
			n := len(storetest.StoredEvents(t, s))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpenAt(t, path)
			if again := len(storetest.StoredEvents(t, s)); again != n {
				t.Errorf("a second open lists %d events, the first %d", again, n)
			}
		})
	}
}

func mustOpenAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open after the crash: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestCrashChild is the child of TestCrashPoints.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("run by TestCrashPoints")
	}
	hook, ok := storetest.ChildCrashHook()
	if !ok {
		t.Fatal("no crash point given")
	}
	crashHook = hook
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.CrashWorkload(t, s)
}
