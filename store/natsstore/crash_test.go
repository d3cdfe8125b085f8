package natsstore_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// The ingest path's crash points (docs/WRITEPATH.md), each with the
// ingest the child is killed at: after the raw delivery is in its stream
// but before the event record is created, after the record is created
// (acknowledged by JetStream, not yet answered), and after a duplicate's
// count is written.
var crashPoints = []struct {
	point string
	nth   int
}{
	{"raw-stored", 150},
	{"record-created", 150},
	{"duplicate-counted", 20},
}

// crashChildEnv is the child's server URL and prefix, space-separated.
const crashChildEnv = "NATSSTORE_CRASH_CHILD"

// TestCrashPoints kills a child process (SIGKILL, from inside, at the
// exact step) while it ingests through this test's NATS server
// (storetest.CrashWorkload); then a fresh store on the same prefix, as a
// restarted replica, is checked (storetest.CheckAfterCrash).
func TestCrashPoints(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("child")
	}
	for _, cp := range crashPoints {
		t.Run(cp.point, func(t *testing.T) {
			url := shared.ClientURL()
			prefix := freshPrefix(t, url)
			acks := storetest.RunCrashChild(t, "TestCrashChild", cp.point, cp.nth, crashChildEnv+"="+url+" "+prefix)
			s := MustOpenStore(t, natsstore.Options{URLs: url, Prefix: prefix, Name: "restarted"})
			storetest.CheckAfterCrash(t, s, acks)
		})
	}
}

// TestCrashChild is the child of TestCrashPoints.
func TestCrashChild(t *testing.T) {
	url, prefix, ok := strings.Cut(os.Getenv(crashChildEnv), " ")
	if !ok {
		t.Skip("run by TestCrashPoints")
	}
	hook, ok := storetest.ChildCrashHook()
	if !ok {
		t.Fatal("no crash point given")
	}
	natsstore.SetCrashHook(hook)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := natsstore.Open(ctx, natsstore.Options{URLs: url, Prefix: prefix, Name: "child"})
	if err != nil {
		t.Fatal(err)
	}
	storetest.CrashWorkload(t, s)
}
