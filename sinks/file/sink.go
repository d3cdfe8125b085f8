package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Config is one file sink's configuration, read by the caller with
// caarlos0/env and the prefix SINK_<NAME>_.
type Config struct {
	// Path is the NDJSON file events are appended to. It is created (mode
	// 0600) when missing; its directory must exist.
	Path string `env:"PATH"`
}

// ErrClosed is returned (as a transient Result's reason) by Deliver after
// Close.
var ErrClosed = errors.New("file: sink closed")

var errRequired = errors.New("required")

// appendFile is what the sink needs of its *os.File; tests inject faults.
type appendFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Close() error
}

// batch is the group of lines one fsync covers. Writers keep a pointer to
// the batch their line went into and wait until it is done.
type batch struct {
	lines int
	done  bool
	err   error
}

// Sink is a file sink. It is safe for concurrent use.
type Sink struct {
	path string

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a fsync ends
	f       appendFile // nil once closed
	closing bool
	broken  error  // a torn line could not be removed; every Deliver fails
	cur     *batch // lines written since the last fsync started
	syncing bool   // a leader is in f.Sync (outside mu)
}

var _ relay.Sink = (*Sink)(nil)

// New opens cfg.Path for appending, creating it with mode 0600 when it does
// not exist, and makes its directory entry durable. prefix, e.g.
// "SINK_AUDIT_", names the variable in a *relay.ConfigError when the path is
// empty, its directory does not exist, or it cannot be opened.
func New(prefix string, cfg Config) (*Sink, error) {
	name := prefix + "PATH"
	if cfg.Path == "" {
		return nil, &relay.ConfigError{Var: name, Err: errRequired}
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already the ConfigError's value
		}
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("directory %s does not exist: %w", filepath.Dir(cfg.Path), err)
		}
		return nil, &relay.ConfigError{Var: name, Value: cfg.Path, Err: err}
	}
	if err := syncDir(filepath.Dir(cfg.Path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("file: %w", err)
	}
	return newSink(cfg.Path, f), nil
}

func newSink(path string, f appendFile) *Sink {
	s := &Sink{path: path, f: f, cur: &batch{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// syncDir fsyncs a directory so a newly created file survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// Deliver appends o's CloudEvent as one line and returns Delivered once that
// line is fsynced. An event that is not valid JSON is permanent; a write or
// fsync failure, or a closed sink, is transient (a retry may append the line
// a second time: delivery is at least once). ctx is checked before writing;
// once written, Deliver waits for the fsync that covers the line.
func (s *Sink) Deliver(ctx context.Context, o *relay.Outbound) relay.Result {
	if err := ctx.Err(); err != nil {
		return relay.Transient(0, 0, "file: "+err.Error())
	}
	line, err := relay.NDJSONLine(o.Event)
	if err != nil {
		return relay.Permanent(0, fmt.Sprintf("file: event %s: %v", o.EventID, err))
	}
	if err := s.append(line); err != nil {
		return relay.Transient(0, 0, err.Error())
	}
	return relay.Delivered(0, nil)
}

// append writes line and returns once a fsync that started after the write
// has succeeded (group commit, leader/follower).
func (s *Sink) append(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.f == nil || s.closing:
		return ErrClosed
	case s.broken != nil:
		return s.broken
	}
	if err := s.write(line); err != nil {
		return err
	}
	b := s.cur
	b.lines++
	for !b.done {
		if s.syncing {
			s.cond.Wait()
			continue
		}
		// No fsync is running, so b is s.cur: lead it. Lines written from
		// now on go into the next batch.
		s.syncing = true
		s.cur = &batch{}
		f := s.f
		s.mu.Unlock()
		err := f.Sync()
		s.mu.Lock()
		b.done, b.err = true, err
		s.syncing = false
		s.cond.Broadcast()
	}
	if b.err != nil {
		return fmt.Errorf("file: fsync %s: %w", s.path, b.err)
	}
	return nil
}

// write appends line with one write call. On a partial write it cuts the
// partial line back off, so the file holds whole lines only; if that fails
// the sink is broken until restarted.
func (s *Sink) write(line []byte) error {
	n, err := s.f.Write(line)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("file: write %s: %w", s.path, err)
	if n > 0 {
		if terr := s.cutTail(int64(n)); terr != nil {
			s.broken = fmt.Errorf("file: %s ends with a torn line that could not be removed (%w); fix it and restart", s.path, terr)
			return errors.Join(err, s.broken)
		}
	}
	return err
}

// cutTail removes the last n bytes: with O_APPEND under s.mu they are the
// partial line this sink just wrote.
func (s *Sink) cutTail(n int64) error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < n {
		return fmt.Errorf("file is %d bytes, shorter than the %d just written", fi.Size(), n)
	}
	return s.f.Truncate(fi.Size() - n)
}

// Close waits for fsyncs under way (and the lines waiting for them), then
// closes the file. Deliver afterwards returns a transient Result. Close is
// idempotent; it returns the file's close error the first time.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	s.closing = true
	for s.syncing || s.cur.lines > 0 {
		s.cond.Wait()
	}
	f := s.f
	s.f = nil
	if err := f.Close(); err != nil {
		return fmt.Errorf("file: close %s: %w", s.path, err)
	}
	return nil
}
