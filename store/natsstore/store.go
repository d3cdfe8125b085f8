package natsstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

var _ relay.Store = (*Store)(nil)

// Defaults of Options (SPEC 5).
const (
	DefaultURL     = "nats://127.0.0.1:4222"
	DefaultPrefix  = "TAGIHAN_RELAY"
	DefaultAckWait = 35 * time.Second
)

// ErrClosed is returned by every method after Close.
var ErrClosed = &relay.Error{Code: relay.EUNAVAILABLE, Message: "store is closed"}

// Options configure a Store. The zero value connects to DefaultURL with one
// replica and DefaultPrefix.
type Options struct {
	// URLs is NATS_URL: one server URL, or several comma-separated (a
	// cluster); the client fails over between them.
	URLs string
	// CredsFile is NATS_CREDS_FILE, a credentials (JWT + nkey) file.
	CredsFile string
	// Replicas is NATS_STREAM_REPLICAS: replicas of every stream and bucket
	// (1, or 3 in a cluster).
	Replicas int
	// Prefix is NATS_PREFIX: the prefix of every stream, bucket and subject
	// name; letters, digits, '_' and '-'.
	Prefix string
	// Name is the client name NATS shows (and the first part of this
	// replica's owner id on in-flight claims): the host name by default.
	Name string
	// AckWait returns how long an in-flight claim of sink is held before
	// another replica takes it over: the sink's TIMEOUT plus a small margin.
	// nil means DefaultAckWait for every sink.
	AckWait func(sink string) time.Duration
	// Notify, when set, is called (never under a lock, never blocking for
	// long) with the sinks whose outbox gained work written by anyone,
	// another replica included: wire it to relay.Dispatcher.Notify so a
	// replica delivers what another one ingested. SetNotify sets it later.
	Notify func(sinks []string)
	// Logger receives the store's own warnings (watch restarts); nil
	// discards them.
	Logger *slog.Logger
}

// Store is the NATS JetStream implementation of relay.Store, for
// multi-replica deployments: every replica opens one over the same NATS
// (cluster) and prefix, and they share deduplication, the outbox, dead
// letters and create-once records. Every method is safe for concurrent use.
// See the package documentation for the layout and the guarantees.
type Store struct {
	opts   Options
	nc     *nats.Conn
	js     jetstream.JetStream
	events jetstream.KeyValue
	create jetstream.KeyValue
	raw    jetstream.Stream
	// sources holds the run-time sources, name → sealed JSON (sources.go).
	sources jetstream.KeyValue
	rawPre  string // subject prefix of the raw stream, with the trailing dot

	owner string // this store's id on in-flight claims
	view  *view
	clock func() time.Time // wall clock of leases

	lastOwn atomic.Uint64 // highest revision this store wrote
	// contendedUntil (wall clock, ns): another replica took candidates
	// this store wanted recently (ClaimDue spreads its picks meanwhile).
	contendedUntil atomic.Int64
	notify         atomic.Pointer[func([]string)]

	stripes [64]sync.Mutex // serialize this store's writers of one key

	policyMu sync.Mutex
	review   map[string]bool // sink → ResumeInFlight's review flag

	claimMu sync.Mutex
	claims  map[claimRef]held // this store's claims in flight

	purgeMu     sync.Mutex
	purgeResume *ikey

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closed    atomic.Bool
	closeOnce sync.Once
	log       *slog.Logger

	// writeFailedAt (wall clock, ns) is when an ingest's publish or create
	// last failed, 0 after one succeeded (see Ready).
	writeFailedAt atomic.Int64
}

type claimRef struct{ sink, id string }

// held is a claim this store holds: the revision of the claim's write and
// the record as written (Finish's first guess).
type held struct {
	rev uint64
	rec []byte
}

var validPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Open connects to NATS, provisions the streams and buckets (idempotently:
// every replica does it at start, several at once), loads this replica's
// index of the events bucket and returns a ready store. It fails with a
// clear error when NATS is unreachable or JetStream is not enabled. ctx
// bounds the whole start.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.URLs == "" {
		o.URLs = DefaultURL
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !validPrefix.MatchString(o.Prefix) {
		return nil, &relay.ConfigError{Var: "NATS_PREFIX", Value: o.Prefix, Err: errors.New("only letters, digits, '_' and '-' are allowed")}
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Replicas > 5 {
		return nil, &relay.ConfigError{Var: "NATS_STREAM_REPLICAS", Value: fmt.Sprint(o.Replicas), Err: errors.New("at most 5")}
	}
	if o.Name == "" {
		o.Name, _ = os.Hostname()
		if o.Name == "" {
			o.Name = "tagihan-relay"
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	copts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(5 * time.Second),
	}
	if o.CredsFile != "" {
		if _, err := os.Stat(o.CredsFile); err != nil {
			return nil, &relay.ConfigError{Var: "NATS_CREDS_FILE", Value: o.CredsFile, Err: err}
		}
		copts = append(copts, nats.UserCredentials(o.CredsFile))
	}
	nc, err := nats.Connect(o.URLs, copts...)
	if err != nil {
		return nil, fmt.Errorf("natsstore: connect to %s: %w", redactURLs(o.URLs), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsstore: jetstream: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		opts: o, nc: nc, js: js, owner: o.Name + "/" + nuid.Next(), clock: time.Now,
		review: map[string]bool{}, claims: map[claimRef]held{}, ctx: sctx, cancel: cancel, log: log,
	}
	s.view = newView(s.owner)
	if o.Notify != nil {
		fn := o.Notify
		s.notify.Store(&fn)
	}
	if err := s.provision(ctx); err != nil {
		cancel()
		nc.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.watch()
	if err := s.view.waitRev(ctx, 0); err != nil {
		s.Close()
		return nil, fmt.Errorf("natsstore: load the event index: %w", err)
	}
	return s, nil
}

// redactURLs drops user:password from URLs before they reach a log.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

// Names returns the streams and buckets of prefix (for operators and docs):
// the events bucket, the create-once bucket and the raw stream.
func Names(prefix string) (eventsBucket, createdBucket, rawStream string) {
	return prefix + "_EVENTS", prefix + "_CREATED", prefix + "_RAW"
}

// SetNotify sets Options.Notify after Open (the dispatcher is built after
// the store). nil removes it.
func (s *Store) SetNotify(fn func(sinks []string)) {
	if fn == nil {
		s.notify.Store(nil)
		return
	}
	s.notify.Store(&fn)
}

// writeRetryAfter is how long Ready reports false after a failed ingest
// write when nothing succeeded since; then the next delivery tries again.
const writeRetryAfter = 5 * time.Second

// Ready reports whether the store is open, connected to NATS, its index
// loaded and its last ingest write (raw publish, record create) did not fail
// within writeRetryAfter (for /readyz).
func (s *Store) Ready() bool {
	if s.closed.Load() || !s.nc.IsConnected() {
		return false
	}
	if at := s.writeFailedAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < writeRetryAfter {
		return false
	}
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	return s.view.loaded
}

// Close stops the watch and closes the connection. In-flight claims stay
// in flight: another replica (or this one after a restart) takes them over
// when their lease expires. Idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.cancel()
		s.wg.Wait()
		if err := s.nc.FlushTimeout(2 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			s.log.Warn("natsstore: flush on close", "error", err)
		}
		s.nc.Close()
	})
	return nil
}

// check returns ErrClosed after Close.
func (s *Store) check() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

func (s *Store) ackWait(sink string) time.Duration {
	if s.opts.AckWait != nil {
		if d := s.opts.AckWait(sink); d > 0 {
			return d
		}
	}
	return DefaultAckWait
}

// noteOwn records a revision this store wrote.
func (s *Store) noteOwn(rev uint64) {
	for {
		cur := s.lastOwn.Load()
		if rev <= cur || s.lastOwn.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// waitOwn waits until the view holds every write of this store (read your
// writes). If the watch is stalled (a node died and its consumer is being
// recreated) it gives up after a few seconds and lets the caller go on with
// the view as it is: a view that lags is still a prefix of the history, and
// every write is a compare-and-set, so that is safe, only less fresh.
func (s *Store) waitOwn(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := s.view.waitRev(wctx, s.lastOwn.Load())
	return s.staleOK(ctx, err)
}

// sync waits until the view holds every write acknowledged by JetStream
// before the call, whoever made it: it writes the sync key and waits for
// that revision. Listings use it, so any replica lists what any replica
// just wrote. When NATS does not answer in time, the view answers as it
// is (see waitOwn).
func (s *Store) sync(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rev, err := s.events.Put(sctx, syncKey, nil)
	if err == nil {
		err = s.view.waitRev(sctx, rev)
	}
	return s.staleOK(ctx, err)
}

// staleOK turns a failed wait for freshness into nil when the caller may
// go on with the loaded view.
func (s *Store) staleOK(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.view.mu.RLock()
	loaded := s.view.loaded
	s.view.mu.RUnlock()
	if !loaded {
		return unavailable("event index not loaded", err)
	}
	s.log.Warn("natsstore: answering from an index that may lag", "error", err)
	return nil
}

// unavailable wraps a NATS error as EUNAVAILABLE (answered 503: retry).
func unavailable(what string, err error) error {
	var re *relay.Error
	if errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("natsstore: %s: %w", what, &relay.Error{Code: relay.EUNAVAILABLE, Message: err.Error()})
}

func (s *Store) stripe(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &s.stripes[h.Sum32()%uint32(len(s.stripes))]
}

// errNoChange tells mutate that fn decided not to write.
var errNoChange = errors.New("natsstore: no change")

// mutate reads the event record of id, lets fn change it and writes it
// back with compare-and-set on the revision read, retrying when someone
// else wrote in between. minRev is a revision the read must have reached (a
// write this store already saw): a lagging replica's read is retried.
// It returns the new revision, or 0 when fn returned errNoChange.
func (s *Store) mutate(ctx context.Context, id string, minRev uint64, fn func(r *record) error) (uint64, error) {
	return s.mutateFrom(ctx, id, minRev, nil, 0, fn)
}

// mutateFrom is mutate with a first guess: hint, the record as this store
// wrote it at revision hintRev, saves the read when nobody wrote since.
func (s *Store) mutateFrom(ctx context.Context, id string, minRev uint64, hint *record, hintRev uint64, fn func(r *record) error) (uint64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	key := eventKey(id)
	mu := s.stripe(key)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 0; ; attempt++ {
		if attempt == 100 {
			return 0, relay.Errorf(relay.EUNAVAILABLE, "event %s: too many concurrent writers, try again", id)
		}
		var r *record
		var rev uint64
		if hint != nil {
			r, rev, hint = hint, hintRev, nil
		} else {
			e, err := s.leaderKV(ctx, s.events, key)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return 0, relay.Errorf(relay.ENOTFOUND, "event %s not found", id)
			}
			if err != nil {
				return 0, unavailable("read event "+id, err)
			}
			if e.Revision() < minRev && attempt < 50 {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			if r, err = decodeRecord(e.Value(), e.Revision()); err != nil {
				return 0, err
			}
			rev = e.Revision()
		}
		if err := fn(r); err != nil {
			if errors.Is(err, errNoChange) {
				return 0, nil
			}
			return 0, err
		}
		buf, err := r.encode()
		if err != nil {
			return 0, err
		}
		newRev, err := s.events.Update(ctx, key, buf, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return 0, unavailable("write event "+id, err)
		}
		s.noteOwn(newRev)
		return newRev, nil
	}
}

// indexRev returns the revision of id the view holds (0: unknown).
func (s *Store) indexRev(id string) uint64 {
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	if ev := s.view.events[id]; ev != nil {
		return ev.rev
	}
	return 0
}

// parallel runs fn(i) for i in [0, n) on up to width goroutines.
func parallel(n, width int, fn func(i int)) {
	if n <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(width, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				fn(i)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}
