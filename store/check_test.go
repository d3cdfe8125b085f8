package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// goodDB writes a real relay database with n events (several branch and
// leaf pages) and returns its path.
func goodDB(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range n {
		if _, err := s.Ingest(ctx, storetest.NewEvent(fmt.Sprintf("evt_%06d", i), t0.Add(time.Duration(i)*time.Second), relay.OutboxTarget{Sink: "erp"})); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// pagesOf returns the ids of the pages in use of each type in a good file.
func pagesOf(t *testing.T, path string) (branch, leaf []uint64, pageSize int64, hwm uint64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	c := &checker{f: f, size: fi.Size(), path: path}
	if err := c.structural(); err != nil {
		t.Fatalf("good file fails the check: %v", err)
	}
	ps := int64(c.meta.pageSize)
	for id := uint64(2); id < c.meta.pgid; id++ {
		if !c.used[id] {
			continue
		}
		var hdr [16]byte
		if _, err := f.ReadAt(hdr[:], int64(id)*ps); err != nil {
			t.Fatal(err)
		}
		if binary.NativeEndian.Uint64(hdr[:]) != id {
			continue // an overflow page
		}
		switch binary.NativeEndian.Uint16(hdr[8:]) {
		case flagBranch:
			branch = append(branch, id)
		case flagLeaf:
			leaf = append(leaf, id)
		}
	}
	if len(branch) == 0 || len(leaf) < 2 {
		t.Fatalf("fixture has %d branch and %d leaf pages, want some of each", len(branch), len(leaf))
	}
	return branch, leaf, ps, c.meta.pgid
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func garbage(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// snapshot is what must not change about a file Open refused.
type snapshot struct {
	data  []byte
	size  int64
	mtime time.Time
}

func snap(t *testing.T, path string) snapshot {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{b, fi.Size(), fi.ModTime()}
}

func (s snapshot) same(t *testing.T, path string) {
	t.Helper()
	now := snap(t, path)
	if now.size != s.size || !now.mtime.Equal(s.mtime) || !bytes.Equal(now.data, s.data) {
		t.Errorf("file changed: size %d → %d, mtime %v → %v, bytes equal %v", s.size, now.size, s.mtime, now.mtime, bytes.Equal(now.data, s.data))
	}
}

// TestOpen_Corrupt damages real database files the ways disks and careless
// copies do and checks that Open refuses each, read-write and read-only,
// with one CorruptError naming the file, without changing a byte of it.
func TestOpen_Corrupt(t *testing.T) {
	base := goodDB(t, 400)
	branch, leaf, ps, hwm := pagesOf(t, base)
	good, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(good))
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		reason string
	}{
		{"ZeroBytes", func(t *testing.T, p string) { _ = os.Truncate(p, 0) }, "empty"},
		{"Truncated100", func(t *testing.T, p string) { _ = os.Truncate(p, 100) }, "meta"},
		{"TruncatedOnePage", func(t *testing.T, p string) { _ = os.Truncate(p, ps) }, "meta"},
		{"TruncatedTwoPagesAndABit", func(t *testing.T, p string) { _ = os.Truncate(p, 2*ps+100) }, "truncated"},
		{"TruncatedHalf", func(t *testing.T, p string) { _ = os.Truncate(p, size/2) }, "truncated"},
		{"TruncatedLastPage", func(t *testing.T, p string) { _ = os.Truncate(p, int64(hwm-1)*ps) }, "truncated"},
		{"TruncatedMidPage", func(t *testing.T, p string) { _ = os.Truncate(p, int64(hwm-1)*ps+ps/2) }, "truncated"},
		{"Meta0Garbage", func(t *testing.T, p string) { overwrite(t, p, 0, garbage(int(ps))) }, "meta page 0"},
		{"Meta1Garbage", func(t *testing.T, p string) { overwrite(t, p, ps, garbage(int(ps))) }, "meta page 1"},
		{"Meta1Zeros", func(t *testing.T, p string) { overwrite(t, p, ps, make([]byte, ps)) }, "meta page 1"},
		{"BothMetas", func(t *testing.T, p string) { overwrite(t, p, 0, garbage(int(2*ps))) }, "neither meta page"},
		{"BranchGarbage", func(t *testing.T, p string) { overwrite(t, p, int64(branch[0])*ps, garbage(int(ps))) }, "page"},
		{"BranchZeros", func(t *testing.T, p string) { overwrite(t, p, int64(branch[0])*ps, make([]byte, ps)) }, "page"},
		{"BranchChildOutOfBounds", func(t *testing.T, p string) {
			// A branch element pointing far past the file: what gives
			// "cannot free page" or a fault in bbolt.
			var b [8]byte
			binary.NativeEndian.PutUint64(b[:], 1<<40)
			overwrite(t, p, int64(branch[0])*ps+16+8, b[:])
		}, "out of bounds"},
		{"LeafGarbage", func(t *testing.T, p string) { overwrite(t, p, int64(leaf[len(leaf)/2])*ps, garbage(int(ps))) }, "page"},
		{"LeafCopiedOverAnother", func(t *testing.T, p string) {
			overwrite(t, p, int64(leaf[1])*ps, good[int64(leaf[0])*ps:int64(leaf[0]+1)*ps])
		}, "identifies itself"},
		{"LeafKeysScrambled", func(t *testing.T, p string) {
			// Header intact, key bytes damaged: only the full check sees it.
			id, count := leaf[0], 0
			for _, l := range leaf {
				if c := int(binary.NativeEndian.Uint16(good[int64(l)*ps+10:])); c > count {
					id, count = l, c
				}
			}
			if count < 3 {
				t.Fatalf("no leaf has 3 keys")
			}
			pg := good[int64(id)*ps : int64(id+1)*ps]
			e := pg[16+16:] // second element
			pos, ksize := binary.NativeEndian.Uint32(e[4:]), binary.NativeEndian.Uint32(e[8:])
			key := int64(id)*ps + 16 + 16 + int64(pos)
			overwrite(t, p, key, bytes.Repeat([]byte{0}, int(ksize)))
		}, "consistency check"},
		{"RandomFile", func(t *testing.T, p string) {
			_ = os.Truncate(p, 0)
			overwrite(t, p, 0, garbage(1<<20))
		}, "meta"},
		{"TextFile", func(t *testing.T, p string) {
			_ = os.Truncate(p, 0)
			overwrite(t, p, 0, []byte("TAGIHAN_WEBHOOK_SECRET=whsec_x\n"))
		}, "meta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "relay.db")
			if err := os.WriteFile(path, good, 0o600); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path)
			before := snap(t, path)
			for _, ro := range []bool{false, true} {
				s, err := Open(path, Options{ReadOnly: ro})
				if err == nil {
					s.Close()
					t.Fatalf("Open(read-only %v) of a damaged file succeeded", ro)
				}
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open(read-only %v) = %v, want a *CorruptError", ro, err)
				}
				msg := err.Error()
				for _, want := range []string{path, tt.reason, "not modified", "Restore a backup", "move it aside"} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not say %q", msg, want)
					}
				}
				before.same(t, path)
			}
		})
	}
}

// TestOpen_Good checks that the check passes real files: new, reopened,
// compacted, backed up, and one with an inline bucket and freed pages.
func TestOpen_Good(t *testing.T) {
	path := goodDB(t, 400)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	// Free pages and nested buckets: purge some, add a sink bucket.
	ctx := context.Background()
	if _, err := s.Ingest(ctx, storetest.NewEvent("evt_x", t0, relay.OutboxTarget{Sink: "ap"})); err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if _, err := s.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	bpath := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(bpath, backup.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cpath := filepath.Join(t.TempDir(), "compact.db")
	if err := Compact(cpath, path); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, bpath, cpath} {
		if err := checkFile(p, time.Second); err != nil {
			t.Errorf("checkFile(%s): %v", filepath.Base(p), err)
		}
	}
	if err := checkFile(filepath.Join(t.TempDir(), "none.db"), time.Second); err != nil {
		t.Errorf("checkFile of a missing file: %v, want nil (a new database)", err)
	}
}

// TestStore_WriterPanic checks that a panic inside a commit fails the store
// closed: the caller and every later write get an unavailable error, the
// process goes on.
func TestStore_WriterPanic(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "relay.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.update(ctx, func(*bolt.Tx) error { panic("cannot free page 0 or 1") })
	if relay.ErrorCode(err) != relay.EUNAVAILABLE || !strings.Contains(err.Error(), "cannot free page 0 or 1") {
		t.Fatalf("update that panics = %v, want an unavailable error with the panic", err)
	}
	if _, err := s.Ingest(ctx, storetest.NewEvent("evt_1", t0, relay.OutboxTarget{Sink: "erp"})); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Errorf("Ingest after the panic = %v, want unavailable", err)
	}
	if s.Broken() == nil {
		t.Error("Broken() = nil after a panic")
	}
	if err := s.Close(); err == nil {
		t.Error("Close after a panic = nil, want the store's error")
	}
}

// TestStore_TruncatedWhileOpen truncates the file under a running store:
// reads of pages past the end are faults that must become errors.
func TestStore_TruncatedWhileOpen(t *testing.T) {
	path := goodDB(t, 400)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Truncate(path, 8192); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = s.GetEvent(ctx, "evt_000399")
	if relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Errorf("GetEvent on a truncated file = %v, want unavailable", err)
	}
	_, err = s.Ingest(ctx, storetest.NewEvent("evt_new", t0, relay.OutboxTarget{Sink: "erp"}))
	if relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Errorf("Ingest on a truncated file = %v, want unavailable", err)
	}
}

// BenchmarkCheckFile measures the start-up check on a database of
// STORE_CHECK_BENCH_EVENTS events (default 20000): structural alone and
// with bbolt's full check.
func BenchmarkCheckFile(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("STORE_CHECK_BENCH_EVENTS")); err == nil {
		n = v
	}
	path := goodDB(b, n)
	fi, _ := os.Stat(path)
	b.Logf("%d events, %d MiB", n, fi.Size()>>20)
	b.Run("structural", func(b *testing.B) {
		for b.Loop() {
			f, _ := os.Open(path)
			data, unmap, err := mapFile(f, fi.Size())
			if err != nil {
				b.Fatal(err)
			}
			c := &checker{f: f, size: fi.Size(), path: path, data: data}
			if err := c.structural(); err != nil {
				b.Fatal(err)
			}
			unmap()
			f.Close()
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			c := &checker{size: fi.Size(), path: path, lockTimeout: time.Second}
			if err := c.full(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
