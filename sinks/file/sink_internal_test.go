package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

// fakeFile is an in-memory appendFile with injectable faults.
type fakeFile struct {
	mu         sync.Mutex
	buf        bytes.Buffer
	writes     int
	syncs      int
	closed     bool
	shortWrite int           // >0: the next write stores this many bytes and fails
	syncErr    error         // the next Sync fails with it
	truncErr   error         // Truncate fails with it
	gate       chan struct{} // non-nil: Sync waits until it is closed
}

func (f *fakeFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if n := f.shortWrite; n > 0 {
		f.shortWrite = 0
		f.buf.Write(p[:n])
		return n, io.ErrShortWrite
	}
	return f.buf.Write(p)
}

func (f *fakeFile) Sync() error {
	f.mu.Lock()
	f.syncs++
	gate, err := f.gate, f.syncErr
	f.syncErr = nil
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return err
}

func (f *fakeFile) Stat() (os.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sizeInfo(f.buf.Len()), nil
}

func (f *fakeFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.truncErr != nil {
		return f.truncErr
	}
	f.buf.Truncate(int(size))
	return nil
}

func (f *fakeFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeFile) counts() (writes, syncs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, f.syncs
}

func (f *fakeFile) content() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.String()
}

// sizeInfo is an os.FileInfo that knows only its size.
type sizeInfo int64

func (s sizeInfo) Size() int64        { return int64(s) }
func (s sizeInfo) Name() string       { return "fake" }
func (s sizeInfo) Mode() os.FileMode  { return 0o600 }
func (s sizeInfo) ModTime() time.Time { return time.Time{} }
func (s sizeInfo) IsDir() bool        { return false }
func (s sizeInfo) Sys() any           { return nil }

func event(id string) *relay.Outbound {
	return &relay.Outbound{EventID: id, Event: []byte(fmt.Sprintf(`{"id":%q}`, id))}
}

func TestSink_GroupCommit(t *testing.T) {
	f := &fakeFile{gate: make(chan struct{})}
	s := newSink("fake.ndjson", f)

	results := make(chan relay.Result, 11)
	go func() { results <- s.Deliver(t.Context(), event("evt_leader")) }()
	testkit.Eventually(t, 0, "the first fsync", func() bool { _, syncs := f.counts(); return syncs == 1 })

	// Ten more arrive while the first fsync runs: they must share one.
	for i := range 10 {
		go func() { results <- s.Deliver(t.Context(), event(fmt.Sprintf("evt_%d", i))) }()
	}
	testkit.Eventually(t, 0, "ten more writes", func() bool { writes, _ := f.counts(); return writes == 11 })
	select {
	case r := <-results:
		t.Fatalf("a Deliver returned %+v before its fsync", r)
	default:
	}
	close(f.gate)

	for range 11 {
		if r := <-results; r.Outcome != relay.OutcomeDelivered {
			t.Errorf("Deliver = %+v, want delivered", r)
		}
	}
	if _, syncs := f.counts(); syncs != 2 {
		t.Errorf("11 deliveries took %d fsyncs, want 2 (one per batch)", syncs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSink_CloseWaitsForFsync(t *testing.T) {
	f := &fakeFile{gate: make(chan struct{})}
	s := newSink("fake.ndjson", f)

	delivered := make(chan relay.Result, 1)
	go func() { delivered <- s.Deliver(t.Context(), event("evt_1")) }()
	testkit.Eventually(t, 0, "the fsync", func() bool { _, syncs := f.counts(); return syncs == 1 })

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v during a fsync", err)
	default:
	}
	close(f.gate)
	if r := <-delivered; r.Outcome != relay.OutcomeDelivered {
		t.Errorf("Deliver = %+v, want delivered", r)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if !f.closed {
		t.Error("file not closed")
	}
}

func TestSink_Faults(t *testing.T) {
	t.Run("FsyncError", func(t *testing.T) {
		f := &fakeFile{syncErr: errors.New("input/output error")}
		s := newSink("fake.ndjson", f)
		if r := s.Deliver(t.Context(), event("evt_1")); r.Outcome != relay.OutcomeTransient || !strings.Contains(r.Reason, "fsync") {
			t.Errorf("Deliver = %+v, want transient fsync failure", r)
		}
		// The next batch syncs again and succeeds.
		if r := s.Deliver(t.Context(), event("evt_1")); r.Outcome != relay.OutcomeDelivered {
			t.Errorf("Deliver after a failed fsync = %+v, want delivered", r)
		}
	})

	t.Run("ShortWrite", func(t *testing.T) {
		f := &fakeFile{}
		s := newSink("fake.ndjson", f)
		if r := s.Deliver(t.Context(), event("evt_1")); r.Outcome != relay.OutcomeDelivered {
			t.Fatalf("Deliver = %+v", r)
		}
		f.shortWrite = 5
		if r := s.Deliver(t.Context(), event("evt_2")); r.Outcome != relay.OutcomeTransient {
			t.Errorf("Deliver with a short write = %+v, want transient", r)
		}
		if r := s.Deliver(t.Context(), event("evt_2")); r.Outcome != relay.OutcomeDelivered {
			t.Errorf("retry = %+v, want delivered", r)
		}
		if got, want := f.content(), "{\"id\":\"evt_1\"}\n{\"id\":\"evt_2\"}\n"; got != want {
			t.Errorf("file = %q, want %q (no torn line)", got, want)
		}
	})

	t.Run("TornLineStays", func(t *testing.T) {
		f := &fakeFile{shortWrite: 3, truncErr: errors.New("read-only file system")}
		s := newSink("fake.ndjson", f)
		if r := s.Deliver(t.Context(), event("evt_1")); r.Outcome != relay.OutcomeTransient {
			t.Errorf("Deliver = %+v, want transient", r)
		}
		// Appending after a torn line would corrupt the next line too.
		r := s.Deliver(t.Context(), event("evt_2"))
		if r.Outcome != relay.OutcomeTransient || !strings.Contains(r.Reason, "torn line") {
			t.Errorf("Deliver on a broken sink = %+v, want transient naming the torn line", r)
		}
		if writes, _ := f.counts(); writes != 1 {
			t.Errorf("%d writes, want 1: a broken sink must not append", writes)
		}
	})
}
