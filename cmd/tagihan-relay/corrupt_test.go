package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// runBinary runs the program as a real child process (the test binary
// started as main) and returns stdout, stderr and the exit status.
func runBinary(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append([]string{childEnv + "=1", "PATH=" + os.Getenv("PATH")}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not exit within 60s (stderr: %s)", args, errOut.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// relayDB makes a real relay.db: a relay that received n events and was
// stopped cleanly.
func relayDB(t *testing.T, n int) []byte {
	t.Helper()
	dir := t.TempDir()
	p := startRelay(t, dir)
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range n {
		if code, _ := post(client, p.public, fixture(t, "transaction.sent", fmt.Sprintf("evt_corrupt_%04d", i), "")); code != http.StatusOK {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	if err := p.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.logs())
	}
	b, err := os.ReadFile(filepath.Join(dir, "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dbPages finds, in a good file, the page size, the high-water mark, a
// branch page in use and a leaf page in use (through bbolt's public API).
func dbPages(t *testing.T, good []byte) (ps, hwm int64, branch, leaf int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe.db")
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		ps = int64(db.Info().PageSize)
		hwm = tx.Size() / ps
		root := tx.Bucket([]byte("bodies")).Root()
		if info, err := tx.Page(int(root)); err != nil || info.Type != "branch" {
			return fmt.Errorf("bodies root page %d is %+v, %v; want a branch (more events)", root, info, err)
		}
		branch = int64(root)
		// The branch's first element: pos(4) ksize(4) pgid(8) after the
		// 16-byte page header.
		leaf = int64(binary.NativeEndian.Uint64(good[branch*ps+16+8:]))
		if info, err := tx.Page(int(leaf)); err != nil || info.Type != "leaf" {
			return fmt.Errorf("page %d is %+v, %v; want a leaf", leaf, info, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ps, hwm, branch, leaf
}

// TestServe_CorruptDatabase starts the real binary on damaged relay.db
// files: it must exit 1 with one message naming the file and the way out,
// never panic, and leave the file byte-identical (size and mtime too). The
// offline commands that open the file fail the same way.
func TestServe_CorruptDatabase(t *testing.T) {
	good := relayDB(t, 120)
	ps, hwm, branch, leaf := dbPages(t, good)
	random := make([]byte, 256<<10)
	_, _ = rand.Read(random)
	junk := func(n int64) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	at := func(off int64, b []byte) func([]byte) []byte {
		return func(f []byte) []byte {
			f = append([]byte(nil), f...)
			copy(f[off:], b)
			return f
		}
	}
	cut := func(n int64) func([]byte) []byte { return func(f []byte) []byte { return f[:n] } }
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"ZeroBytes", cut(0)},
		{"Truncated4000", cut(4000)},
		{"TruncatedAfterMetas", cut(2*ps + 512)},
		{"TruncatedHalf", cut(hwm * ps / 2)},
		{"TruncatedLastPage", cut((hwm - 1) * ps)},
		{"Meta0Overwritten", at(0, junk(ps))},
		{"Meta1Overwritten", at(ps, junk(ps))},
		{"BothMetasZeroed", at(0, make([]byte, 2*ps))},
		{"BranchOverwritten", at(branch*ps, junk(ps))},
		{"BranchZeroed", at(branch*ps, make([]byte, ps))},
		{"LeafOverwritten", at(leaf*ps, junk(ps))},
		{"LeafZeroed", at(leaf*ps+8, make([]byte, 64))},
		{"RandomGarbage", func([]byte) []byte { return random }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "relay.db")
			if err := os.WriteFile(path, tt.damage(good), 0o600); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile(path)
			runs := [][]string{
				{"serve"},
				{"events", "list", "--db", path},
				{"backup", "--db", path, "--out", filepath.Join(dir, "copy.db")},
				{"compact", "--db", path},
			}
			for _, args := range runs {
				_, stderr, code := runBinary(t, []string{
					"RELAY_DATA_DIR=" + dir, "RELAY_LISTEN_ADDR=127.0.0.1:0", "RELAY_ADMIN_ADDR=127.0.0.1:0",
					"TAGIHANAI_WEBHOOK_SECRETS=" + testSecret,
				}, args...)
				if code != 1 {
					t.Errorf("%s: exit %d, want 1\n%s", args[0], code, stderr)
				}
				for _, bad := range []string{"panic", "goroutine", "assertion"} {
					if strings.Contains(stderr, bad) {
						t.Errorf("%s: stderr has %q:\n%s", args[0], bad, stderr)
					}
				}
				msg := strings.TrimSpace(stderr)
				if args[0] == "serve" {
					// serve logs JSON lines before it opens the store; the
					// message is the last line.
					lines := strings.Split(msg, "\n")
					msg = lines[len(lines)-1]
				}
				if strings.Count(msg, "\n") != 0 || strings.Count(stderr, "is corrupt") != 1 {
					t.Errorf("%s: want one line saying corrupt, got:\n%s", args[0], stderr)
				}
				for _, s := range []string{path, "corrupt", "not modified", "Restore a backup", "move it aside"} {
					if !strings.Contains(msg, s) {
						t.Errorf("%s: message does not say %q:\n%s", args[0], s, msg)
					}
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				fi, _ := os.Stat(path)
				if !bytes.Equal(got, want) || fi.Size() != int64(len(want)) || !fi.ModTime().Equal(old) {
					t.Fatalf("%s changed the file: size %d → %d, mtime %v → %v", args[0], len(want), fi.Size(), old, fi.ModTime())
				}
				if _, err := os.Stat(filepath.Join(dir, "copy.db")); err == nil {
					t.Errorf("%s: a backup of a corrupt file was written", args[0])
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("files left in the data dir: %v, want only relay.db", names)
			}
		})
	}

	t.Run("GoodFileStillStarts", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "relay.db"), good, 0o600); err != nil {
			t.Fatal(err)
		}
		p := startRelay(t, dir)
		ids := eventIDs(t, p.admin)
		if len(ids) != 120 {
			t.Errorf("%d events after restart, want 120", len(ids))
		}
	})
}
