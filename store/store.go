package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

var _ relay.Store = (*Store)(nil)

// ErrLocked is returned by Open when another process (a running service)
// holds the database file.
var ErrLocked = errors.New("store: database is locked by another process (is the service running? use the admin API, or stop it)")

// ErrClosed is returned by writes after Close.
var ErrClosed = &relay.Error{Code: relay.EUNAVAILABLE, Message: "store is closed"}

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxBatch caps the operations one commit holds (default 256).
	MaxBatch int
	// LockTimeout is how long Open waits for the file lock (default 1s).
	LockTimeout time.Duration
	// ReadOnly opens the file for reading only (offline CLI).
	ReadOnly bool
	// OnCommit, when set, is called after each commit with the number of
	// operations it held, how long it took and its error.
	OnCommit func(ops int, d time.Duration, err error)
	// NoSync turns fsync off. Only for tests that measure something else;
	// never in the service.
	NoSync bool
}

// Store is the bbolt implementation of relay.Store.
type Store struct {
	db       *bolt.DB
	path     string
	opts     Options
	ops      chan *op
	closing  chan struct{}
	wg       sync.WaitGroup
	closeMu  sync.RWMutex // held shared while queueing, so Close knows when nobody can queue
	closed   bool
	purgeMu  sync.Mutex
	purgeKey []byte
	// broken holds the error of a panic inside a commit: from then on every
	// write fails with it (fail closed) instead of the process crashing.
	broken atomic.Pointer[relay.Error]
	health health // last commit's result, for Ready
}

// op is one queued write.
type op struct {
	fn   func(tx *bolt.Tx) error
	done chan error
}

var opPool = sync.Pool{New: func() any { return &op{done: make(chan error, 1)} }}

// Open opens (creating when needed) the database at path and starts the
// writer. It fails with ErrLocked when another process holds the file, and
// with a *CorruptError (errors.Is ErrCorrupt) when the file fails the
// check run before anything is written to it (see checkFile); only a path
// where no file exists becomes a new, empty database.
func Open(path string, o Options) (*Store, error) {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if !o.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: create data dir: %w", err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := checkFile(path, o.LockTimeout); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  o.LockTimeout,
		ReadOnly: o.ReadOnly,
		// The freelist is written with each commit (a few pages): without
		// it, Open rebuilds it by reading every page, which on a large
		// database costs seconds and maps the whole file into memory.
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
		NoSync:         o.NoSync,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, opts: o, ops: make(chan *op, 4096), closing: make(chan struct{})}
	if !o.ReadOnly {
		if err := db.Update(createBuckets); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("store: create buckets: %w", err)
		}
		s.wg.Add(1)
		go s.writer()
	}
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close stops the writer after the queued writes are committed and closes
// the file. It is idempotent.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.closeMu.Unlock()
	s.wg.Wait()
	if e := s.broken.Load(); e != nil {
		// bbolt's state after the panic is unknown (its write lock may still
		// be held): leave the file to the process exit.
		return e
	}
	return s.db.Close()
}

// update queues fn for the writer and waits for the commit that holds it.
// fn must not write before it has decided to succeed: a *relay.Error it
// returns is handed to the caller and the rest of the batch commits; any
// other error rolls the batch back and reruns each operation alone.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if s.opts.ReadOnly {
		return relay.Errorf(relay.EUNAVAILABLE, "database is open read-only")
	}
	o := opPool.Get().(*op)
	o.fn = fn
	// Queue under the shared lock: once Close holds it, nothing more can be
	// queued, so the writer's final drain sees every queued op (an op queued
	// after the drain would wait forever).
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	if e := s.broken.Load(); e != nil {
		s.closeMu.RUnlock()
		return e
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	// Once queued, wait for the outcome whatever ctx says: the caller must
	// know whether its write is on disk.
	err := <-o.done
	o.fn = nil
	opPool.Put(o)
	return err
}

// writer drains the queue into group commits until Close.
func (s *Store) writer() {
	defer s.wg.Done()
	// A read from a mapping past the end of a damaged file is a panic that
	// commit recovers from, not a fault that ends the process.
	debug.SetPanicOnFault(true)
	batch := make([]*op, 0, s.opts.MaxBatch)
	for {
		var first *op
		select {
		case first = <-s.ops:
		case <-s.closing:
			// Commit what is already queued, then stop.
			for {
				select {
				case o := <-s.ops:
					s.commit([]*op{o})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

// errRollback aborts a batch so its operations rerun one by one.
var errRollback = errors.New("store: batch rolled back")

func (s *Store) commit(batch []*op) {
	if e := s.broken.Load(); e != nil {
		for _, o := range batch {
			o.done <- e
		}
		return
	}
	start := time.Now()
	results := make([]error, len(batch))
	err := s.safeUpdate(func(tx *bolt.Tx) error {
		for i, o := range batch {
			results[i] = o.fn(tx)
			if results[i] != nil && !isAppError(results[i]) {
				return errRollback
			}
		}
		crashPoint("commit-in-tx")
		return nil
	})
	crashPoint("committed")
	if s.opts.OnCommit != nil {
		s.opts.OnCommit(len(batch), time.Since(start), err)
	}
	s.health.record(err)
	if e := s.broken.Load(); e != nil {
		for _, o := range batch {
			o.done <- e
		}
		return
	}
	// An op's internal error or a failed commit (for example the disk
	// filling up under one large body): rerun each op alone, so that one bad
	// write never fails its neighbours.
	if err != nil && len(batch) > 1 {
		for _, o := range batch {
			s.commit([]*op{o})
		}
		return
	}
	for i, o := range batch {
		switch {
		case errors.Is(err, errRollback):
			o.done <- results[i]
		case err != nil:
			o.done <- fmt.Errorf("store: commit: %w", err)
		default:
			o.done <- results[i]
		}
	}
	crashPoint("answered")
}

// crashHook, when set (tests only, before Open), is called at each named
// step of the write path (docs/WRITEPATH.md); the crash tests SIGKILL
// their child process there.
var crashHook func(point string)

func crashPoint(p string) {
	if h := crashHook; h != nil {
		h(p)
	}
}

// safeUpdate runs one bbolt write transaction, turning a panic inside it
// (bbolt asserts on pages it cannot make sense of) into a store that fails
// every later write: the process keeps answering 503, so nothing is
// acknowledged that was not stored, and the log says what happened.
func (s *Store) safeUpdate(fn func(tx *bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e := &relay.Error{Code: relay.EUNAVAILABLE, Message: fmt.Sprintf(
				"store failed and refuses further writes: %v (the database %s may be damaged: stop the service; the start-up check will say what to do)", r, s.path)}
			s.broken.CompareAndSwap(nil, e)
			err = s.broken.Load()
		}
	}()
	return s.db.Update(fn)
}

// Broken returns the error that stopped the store's writer, or nil.
func (s *Store) Broken() error {
	if e := s.broken.Load(); e != nil {
		return e
	}
	return nil
}

func isAppError(err error) bool {
	var e *relay.Error
	return errors.As(err, &e)
}

// view runs a read-only transaction.
func (s *Store) view(fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = relay.Errorf(relay.EUNAVAILABLE, "store read failed: %v (the database %s may be damaged)", r, s.path)
		}
	}()
	return s.db.View(fn)
}

// Backup writes a consistent copy of the database to w (tx.WriteTo in a
// read transaction, so writes go on meanwhile).
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: backup: %w", err)
	}
	return n, nil
}

// Compact copies the database at src into a fresh file dst, reclaiming
// free pages. Both must be closed by everyone else. A src that fails the
// start-up check is refused with a *CorruptError, untouched.
func Compact(dst, src string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	if err := checkFile(src, time.Second); err != nil {
		return err
	}
	in, err := bolt.Open(src, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return ErrLocked
	}
	if err != nil {
		return fmt.Errorf("store: compact: open %s: %w", src, err)
	}
	defer in.Close()
	out, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("store: compact: open %s: %w", dst, err)
	}
	if err := bolt.Compact(out, in, 64<<20); err != nil {
		_ = out.Close()
		return fmt.Errorf("store: compact: %w", err)
	}
	return out.Close()
}
