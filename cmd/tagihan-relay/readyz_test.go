package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
)

// setFileSizeLimit sets the soft RLIMIT_FSIZE of process pid (the hard
// limit stays as it is, so the soft one can be raised again). Writes past
// the limit fail with EFBIG: the Go runtime ignores SIGXFSZ. It is how the
// tests make the disk "full" for the real binary without root.
func setFileSizeLimit(t *testing.T, pid int, soft uint64) {
	t.Helper()
	var old syscall.Rlimit
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(syscall.RLIMIT_FSIZE),
		0, uintptr(unsafe.Pointer(&old)), 0, 0); errno != 0 {
		t.Fatalf("prlimit get: %v", errno)
	}
	lim := syscall.Rlimit{Cur: min(soft, old.Max), Max: old.Max}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(syscall.RLIMIT_FSIZE),
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
		t.Fatalf("prlimit set: %v", errno)
	}
}

func readyz(t *testing.T, client *http.Client, base string) int {
	t.Helper()
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServe_ReadyzFollowsCommits: while the database file cannot grow (a
// full disk), a delivery answers 503 and /readyz answers 503 on both
// listeners; once the disk takes writes again, /readyz is 200 after the
// next successful commit (the store's own probe, even with no traffic) and
// deliveries are accepted.
func TestServe_ReadyzFollowsCommits(t *testing.T) {
	dir := t.TempDir()
	p := startRelay(t, dir, "RELAY_SINKS=")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, base := range []string{p.public, p.admin} {
		if code := readyz(t, client, base); code != http.StatusOK {
			t.Fatalf("%s/readyz before the fault: %d", base, code)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	setFileSizeLimit(t, p.cmd.Process.Pid, uint64(fi.Size()))

	// 900 KB cannot fit in the file as it is: the commit must grow it.
	big := fixture(t, "transaction.paid", "evt_readyz_big", "")
	big = append(bytes.TrimSuffix(bytes.TrimSpace(big), []byte("}")), []byte(`,"pad":"`+string(bytes.Repeat([]byte("x"), 900<<10))+`"}`)...)
	if code, body := post(client, p.public, big); code != http.StatusServiceUnavailable {
		t.Fatalf("delivery on a full disk: %d %s, want 503\n%s", code, body, p.logs())
	}
	// The failed commit is the last one: not ready, on both listeners (the
	// first call sees the failure before any probe ran).
	if code := readyz(t, client, p.public); code != http.StatusServiceUnavailable {
		t.Fatalf("public /readyz after a failed commit: %d, want 503", code)
	}
	if code, _ := post(client, p.public, big); code != http.StatusServiceUnavailable {
		t.Fatalf("second delivery on a full disk: %d, want 503", code)
	}
	if code := readyz(t, client, p.admin); code != http.StatusServiceUnavailable {
		t.Fatalf("admin /readyz after a failed commit: %d, want 503", code)
	}

	// Space again: the store's probe commits and readiness returns without
	// any delivery arriving (a load balancer sends none to a 503 backend).
	setFileSizeLimit(t, p.cmd.Process.Pid, ^uint64(0))
	testkit.Eventually(t, 20*time.Second, "/readyz 200 after the disk recovered", func() bool {
		return readyz(t, client, p.public) == http.StatusOK
	})
	if code := readyz(t, client, p.admin); code != http.StatusOK {
		t.Fatalf("admin /readyz after recovery: %d", code)
	}
	if code, body := post(client, p.public, big); code != http.StatusOK {
		t.Fatalf("delivery after recovery: %d %s", code, body)
	}
}
