// Package sources runs the relay's run-time sources (SPEC 6): it keeps
// them sealed in the store, serves each one's intake (verifier and
// receiver) by name, and runs each one's sinks in the dispatcher under the
// source's own names ("acme/ap"), applying a change to the next delivery
// without a restart.
package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sinks"
	"github.com/tagihan-relay/tagihan-relay/tagihanai"
)

// Store is what the manager needs of the store: the sealed sources and
// the figures of their sinks.
type Store interface {
	relay.SourceStore
	Stats(ctx context.Context, now time.Time) (relay.Stats, error)
}

// Manager runs the sources. It is safe for concurrent use; changes are
// serialized.
type Manager struct {
	store Store
	key   func() (*sealed.Key, error)
	opts  Options

	intakes sync.Map // name → *relay.Intake, enabled sources only

	mu      sync.Mutex
	running map[string]*running // every stored source the relay runs sinks of
	broken  map[string]string   // name → why a stored source is not served
	def     *relay.SourceInfo   // what the environment's source shows
	retired []io.Closer         // of replaced sinks, closed by Close

	reports reports // the last reconcile of each source
}

// running is one source the relay serves (or drains, once deleted).
type running struct {
	src     *relay.Source
	sealed  *relay.SealedSource
	specs   []*relay.SinkSpec
	closers []io.Closer
}

// Options are the manager's parts from the process.
type Options struct {
	// Events is the store the sources' receivers write to.
	Events     relay.Store
	Dispatcher *relay.Dispatcher
	// Notify wakes sinks after an ingest (the dispatcher's Notify).
	Notify func(sinks []string)
	// CloudEventsSource is RELAY_SOURCE; a source's events carry
	// RELAY_SOURCE/<name> as their CloudEvents source.
	CloudEventsSource string
	// Tolerance is the signature window of a source that sets none.
	Tolerance time.Duration
	// Deps are what the sources' sinks are built with; a source with a
	// TagihanAI API key gets its own TagihanAI client.
	Deps            sinks.Deps
	TagihanAIAPIURL string
	// Limiter paces every TagihanAI API call of every source
	// (RELAY_TAGIHANAI_MAX_RPS); nil: unpaced.
	Limiter *tagihanai.Limiter
	Log     *slog.Logger
	Now     func() time.Time
	// TestWait bounds how long connect waits for TagihanAI's test event
	// (0: TestWait, 30 s).
	TestWait time.Duration
	// DrainGrace is how long a deleted source's record stays at least,
	// even when its sinks look drained: another replica may have accepted
	// a delivery for it just before it saw the delete, and its store view
	// may not show that yet. 0 means a minute; negative means none.
	DrainGrace time.Duration
	// Received counts a source's events received since a time (the
	// figure `sources show` gives for the last 24 hours); nil: not shown.
	Received func(ctx context.Context, source string, since time.Time) (int64, error)
}

// New returns a manager over store; key returns the master key (called
// when a sealed value is first needed, so a relay without sources never
// creates one).
func New(store Store, key func() (*sealed.Key, error), o Options) *Manager {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TestWait <= 0 {
		o.TestWait = TestWait
	}
	if o.DrainGrace == 0 {
		o.DrainGrace = time.Minute
	}
	var once sync.Once
	var k *sealed.Key
	var kerr error
	memo := func() (*sealed.Key, error) {
		once.Do(func() { k, kerr = key() })
		return k, kerr
	}
	return &Manager{store: store, key: memo, opts: o, running: map[string]*running{}, broken: map[string]string{}}
}

// Intake returns the enabled source called name, nil when there is none.
// It takes no lock: one map look-up per delivery, whatever the number of
// sources.
func (m *Manager) Intake(name string) *relay.Intake {
	if v, ok := m.intakes.Load(name); ok {
		return v.(*relay.Intake)
	}
	return nil
}

// Load reads every stored source and runs it; call it before the
// dispatcher starts. A source that cannot be run (its sealed values do
// not open under this key, a sink no longer builds) is logged and not
// served, and the others are; Load fails only when the store cannot be
// read.
func (m *Manager) Load(ctx context.Context) error {
	list, err := m.store.ListSources(ctx)
	if err != nil {
		return fmt.Errorf("sources: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var add []*relay.SinkSpec
	for _, ss := range list {
		r, err := m.open(ss)
		if err != nil {
			m.broken[ss.Name] = err.Error()
			m.opts.Log.Error("source not served", "source", ss.Name, "error", err)
			continue
		}
		m.running[ss.Name] = r
		m.publish(r)
		add = append(add, r.specs...)
	}
	if len(add) > 0 {
		if err := m.opts.Dispatcher.SetSinks(ctx, add, nil); err != nil {
			return err
		}
	}
	if len(list) > 0 {
		m.opts.Log.Info("sources loaded", "count", len(list), "not_served", len(m.broken), "sinks", len(add))
	}
	return nil
}

// Reload re-reads the source called name from the store and runs what it
// now is: another replica changed it (the store's watch).
func (m *Manager) Reload(ctx context.Context, name string) error {
	ss, err := m.store.GetSource(ctx, name)
	if errors.Is(err, relay.ErrNotFound) {
		ss = nil
	} else if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ss != nil && m.running[name] != nil && m.running[name].sealed.UpdatedAt.Equal(ss.UpdatedAt) &&
		sameDeleted(m.running[name].sealed, ss) {
		return nil // this replica made the change
	}
	return m.install(ctx, name, ss)
}

func sameDeleted(a, b *relay.SealedSource) bool { return (a.DeletedAt == nil) == (b.DeletedAt == nil) }

// install runs ss in place of what runs as name (ss nil: stop it). Called
// with mu held.
func (m *Manager) install(ctx context.Context, name string, ss *relay.SealedSource) error {
	old := m.running[name]
	var r *running
	if ss != nil {
		var err error
		if r, err = m.open(ss); err != nil {
			m.broken[name] = err.Error()
			m.opts.Log.Error("source not served", "source", name, "error", err)
		}
	}
	var add []*relay.SinkSpec
	var remove []string
	if r != nil {
		add = r.specs
		delete(m.broken, name)
		m.running[name] = r
	} else {
		delete(m.running, name)
	}
	if old != nil {
		for _, s := range old.specs {
			if r == nil || !slices.ContainsFunc(r.specs, func(n *relay.SinkSpec) bool { return n.Name == s.Name }) {
				remove = append(remove, s.Name)
			}
		}
	}
	if r != nil {
		m.publish(r)
	} else {
		m.intakes.Delete(name)
	}
	err := m.opts.Dispatcher.SetSinks(ctx, add, remove)
	if old != nil {
		// The old loops may still be finishing attempts: what their sinks
		// hold open is closed with the rest, after the dispatcher stopped.
		m.retired = append(m.retired, old.closers...)
	}
	return err
}

// publish serves r's intake, or stops serving it when it is disabled or
// deleted.
func (m *Manager) publish(r *running) {
	if !r.src.Enabled || r.sealed.DeletedAt != nil {
		m.intakes.Delete(r.src.Name)
		return
	}
	keys := make([][]byte, 0, len(r.src.Secrets))
	for _, sec := range r.src.Secrets {
		k, err := signature.DecodeSecret(sec.Secret, r.src.SecretEncoding)
		if err != nil {
			continue // Check refused it when it was stored
		}
		keys = append(keys, k)
	}
	tol := r.src.Tolerance
	if tol == 0 {
		tol = m.opts.Tolerance
	}
	m.intakes.Store(r.src.Name, &relay.Intake{Source: r.src.Name, Verifier: signature.NewVerifier(keys, tol), Receiver: m.receiver(r)})
}

// open unseals ss and builds its sinks under the source's names.
func (m *Manager) open(ss *relay.SealedSource) (*running, error) {
	key, err := m.key()
	if err != nil {
		return nil, err
	}
	src, err := ss.Open(key)
	if err != nil {
		return nil, err
	}
	confs, err := sinks.CheckSource(src)
	if err != nil {
		return nil, err
	}
	deps := m.opts.Deps
	deps.TagihanAI = nil
	if t := src.TagihanAI; t != nil && t.APIKey != "" {
		base := t.APIBaseURL
		if base == "" {
			base = m.opts.TagihanAIAPIURL
		}
		deps.TagihanAI = tagihanai.NewClient(base, t.APIKey, deps.HTTP).WithLimiter(m.opts.Limiter)
	}
	r := &running{src: src, sealed: ss}
	names := make([]string, 0, len(confs))
	for name := range confs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := confs[name]
		c.Name = relay.SourceSinkName(src.Name, name)
		spec, closer, err := c.Build(deps)
		if err != nil {
			closeAll(r.closers)
			return nil, fmt.Errorf("source %q, sink %q: %w", src.Name, name, err)
		}
		if closer != nil {
			r.closers = append(r.closers, closer)
		}
		r.specs = append(r.specs, spec)
	}
	return r, nil
}

// Routes returns every route the sources' sinks take, for the operator's
// actions (replay, redrive) on their deliveries.
func (m *Manager) Routes() []relay.Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []relay.Route
	for _, r := range m.running {
		for _, s := range r.specs {
			out = append(out, s.Route)
		}
	}
	return out
}

// Close closes what the sources' sinks hold open (after the dispatcher
// stopped).
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.running {
		closeAll(r.closers)
	}
	closeAll(m.retired)
	m.retired = nil
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// Resync re-reads every source: after the store's watch was interrupted
// and may have missed changes.
func (m *Manager) Resync(ctx context.Context) error {
	list, err := m.store.ListSources(ctx)
	if err != nil {
		return err
	}
	stored := make(map[string]bool, len(list))
	var errs []error
	for _, ss := range list {
		stored[ss.Name] = true
		if err := m.Reload(ctx, ss.Name); err != nil {
			errs = append(errs, err)
		}
	}
	m.mu.Lock()
	var gone []string
	for name := range m.running {
		if !stored[name] {
			gone = append(gone, name)
		}
	}
	m.mu.Unlock()
	for _, name := range gone {
		if err := m.Reload(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Receiver returns the receiver of the source called name (enabled or
// not, not deleted), nil when the relay does not run it: an import of the
// source's exported deliveries goes through it.
func (m *Manager) Receiver(name string) *relay.Receiver {
	if in := m.Intake(name); in != nil {
		return in.Receiver
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.running[name]
	if r == nil || r.sealed.DeletedAt != nil {
		return nil
	}
	return m.receiver(r)
}

// receiver makes r's receiver: its routes, its names.
func (m *Manager) receiver(r *running) *relay.Receiver {
	routes := make([]relay.Route, len(r.specs))
	for i, s := range r.specs {
		routes[i] = s.Route
	}
	return &relay.Receiver{Store: m.opts.Events, Routes: routes, Source: m.opts.CloudEventsSource + "/" + r.src.Name,
		SourceName: r.src.Name, Notify: m.opts.Notify}
}

// CountReceived counts the events of source received since, from the
// store's listing (a page at a time: memory stays bounded).
func CountReceived(ctx context.Context, st relay.Store, source string, since time.Time) (int64, error) {
	var n int64
	f := relay.EventFilter{Source: source, Since: since, Limit: 1000}
	for {
		page, err := st.ListEvents(ctx, f)
		if err != nil {
			return n, err
		}
		n += int64(len(page.Events))
		if page.NextCursor == "" {
			return n, nil
		}
		f.Cursor = page.NextCursor
	}
}
