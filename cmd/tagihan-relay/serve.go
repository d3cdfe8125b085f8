package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sinks"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
	"github.com/tagihan-relay/tagihan-relay/sources"
	"github.com/tagihan-relay/tagihan-relay/store"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
	"github.com/tagihan-relay/tagihan-relay/tagihanai"
)

func cmdServe(env *cliEnv, args []string) error {
	fs := env.flags("serve")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{"serve takes no arguments"}
	}
	m, err := env.envMap()
	if err != nil {
		return err
	}
	cfg, err := loadConfig(m)
	if err != nil {
		if cfg != nil {
			// Also report what the sinks that did parse would refuse.
			_, closers, serr := buildSinks(cfg, io.Discard, http.DefaultClient, nil)
			closeAll(closers)
			err = errors.Join(err, serr)
			for _, w := range cfg.Warnings {
				fmt.Fprintln(env.stderr, "tagihan-relay: warning: "+w)
			}
		}
		return fmt.Errorf("configuration:\n%w", err)
	}
	if _, set := m["GOGC"]; !set {
		// The live heap is small and allocation-heavy (HTTP, JSON, bbolt
		// nodes): collect less often. GOGC in the environment wins.
		debug.SetGCPercent(400)
	}
	return serve(env.ctx, cfg, env.stdout, env.stderr)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// secretFile is the zero-config signing secret's path.
func secretFile(dataDir string) string { return filepath.Join(dataDir, "webhook-secret") }

// ensureSecret returns the zero-config secret, creating it once (0600).
func ensureSecret(dataDir string) (string, bool, error) {
	path := secretFile(dataDir)
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", false, fmt.Errorf("%s is empty; delete it to generate a new secret", path)
		}
		return s, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("create data dir: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	s := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, err
	}
	return s, true, f.Close()
}

// isLoopback reports whether addr's host is a loopback address or localhost.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// buildSinks constructs every configured sink.
func buildSinks(cfg *Config, out io.Writer, hc *http.Client, limiter *tagihanai.Limiter) ([]*relay.SinkSpec, []io.Closer, error) {
	deps := sinks.Deps{HTTP: hc, Stdout: out}
	if cfg.TagihanAIAPIKey != "" {
		deps.TagihanAI = tagihanai.NewClient(cfg.TagihanAIAPIBase, cfg.TagihanAIAPIKey, hc).WithLimiter(limiter)
	}
	var specs []*relay.SinkSpec
	var closers []io.Closer
	var errs []error
	for _, sc := range cfg.SinkConfs {
		spec, closer, err := sc.Build(deps)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if closer != nil {
			closers = append(closers, closer)
		}
		specs = append(specs, spec)
	}
	if len(errs) > 0 {
		closeAll(closers)
		return nil, nil, errors.Join(errs...)
	}
	return specs, closers, nil
}

func closeAll(closers []io.Closer) {
	for _, c := range closers {
		c.Close()
	}
}

// openStore opens the configured backend: the bbolt file in the data dir,
// or NATS JetStream (RELAY_BACKEND=nats) shared by every replica. It
// returns where the data is (for the log) and the store's readiness.
// sinkTimeout, when it knows the sink, returns its TIMEOUT (a run-time
// source's sinks are not in cfg).
func openStore(ctx context.Context, cfg *Config, m *metrics.Metrics, log *slog.Logger,
	sinkTimeout func(sink string) (time.Duration, bool)) (relay.Store, string, func() bool, error) {
	if cfg.Backend == "nats" {
		waits := make(map[string]time.Duration, len(cfg.SinkConfs))
		for _, sc := range cfg.SinkConfs {
			// Another replica takes over a claim after the attempt's own
			// timeout plus a margin, never after a fixed long value.
			waits[sc.Name] = sc.Common.Timeout + 5*time.Second
		}
		name, _ := os.Hostname()
		ns, err := natsstore.Open(ctx, natsstore.Options{
			URLs: cfg.NATSURL, CredsFile: cfg.NATSCredsFile, Replicas: cfg.NATSReplicas, Prefix: cfg.NATSPrefix,
			Name: "tagihan-relay@" + name, Logger: log,
			AckWait: func(sink string) time.Duration {
				if w, ok := waits[sink]; ok {
					return w
				}
				if t, ok := sinkTimeout(sink); ok {
					return t + 5*time.Second
				}
				return 35 * time.Second
			},
		})
		if err != nil {
			return nil, "", nil, fmt.Errorf("store (RELAY_BACKEND=nats, NATS_URL=%s): %w", redactURL(cfg.NATSURL), err)
		}
		return ns, "nats:" + redactURL(cfg.NATSURL) + "/" + cfg.NATSPrefix, ns.Ready, nil
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "relay.db"), store.Options{OnCommit: m.ObserveCommit})
	if err != nil {
		return nil, "", nil, err
	}
	return st, st.Path(), st.Ready, nil
}

// redactURL drops credentials from a (comma-separated) NATS URL list.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// serve runs the service until ctx is done, then shuts down gracefully:
// stop accepting, finish in-flight requests and deliveries, close the store.
func serve(ctx context.Context, cfg *Config, out, errOut io.Writer) error {
	lw := newLogWriter(errOut, 50*time.Millisecond)
	defer lw.Close()
	log := newLogger(lw, strings.ToLower(cfg.LogLevel))

	if cfg.AdminToken == "" && !isLoopback(cfg.AdminAddr) {
		return &relay.ConfigError{Var: "RELAY_ADMIN_ADDR", Value: cfg.AdminAddr,
			Err: errors.New("without RELAY_ADMIN_TOKEN the admin listener binds only a loopback address; set a token or use 127.0.0.1")}
	}
	// Sinks first: a configuration they refuse stops the start before
	// anything is written to the data directory.
	hc := &http.Client{Transport: httpforward.NewTransport()}
	limiter := tagihanai.NewLimiter(cfg.TagihanAIMaxRPS)
	specs, closers, err := buildSinks(cfg, out, hc, limiter)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	defer closeAll(closers)
	for _, w := range cfg.Warnings {
		log.Warn("configuration: " + w)
	}
	keys, secrets, err := webhookKeys(cfg, log)
	if err != nil {
		return err
	}
	svc, err := newService(ctx, cfg, specs, keys, serviceDeps{log: log, http: hc, stdout: out, limiter: limiter})
	if err != nil {
		return err
	}
	defer svc.st.Close()
	defer svc.sources.Close()
	svc.sources.SetDefault(defaultSourceInfo(specs, secrets))
	return svc.run(ctx, cfg, log)
}

// defaultSourceInfo is what the API shows of the environment's source.
func defaultSourceInfo(specs []*relay.SinkSpec, secrets []string) relay.SourceInfo {
	info := relay.SourceInfo{Path: "/webhooks/tagihanai", Secrets: []relay.SourceSecretInfo{}, Sinks: []relay.SourceSinkInfo{}}
	for _, sec := range secrets {
		fp := sealed.Fingerprint(sec)
		info.Secrets = append(info.Secrets, relay.SourceSecretInfo{ID: fp, Fingerprint: fp})
	}
	for _, s := range specs {
		info.Sinks = append(info.Sinks, relay.SourceSinkInfo{Name: s.Name, Kind: s.Kind, Events: s.Route.Events, Outbox: s.Name})
	}
	return info
}

// masterKey returns how the sources' master key is found (SPEC 6), when it
// is first needed: RELAY_MASTER_KEY (or its _FILE), else the data dir's
// master-key file, created then. NATS replicas must share one key, so
// there the data dir is never used.
func masterKey(cfg *Config, log *slog.Logger) func() (*sealed.Key, error) {
	return func() (*sealed.Key, error) {
		if cfg.MasterKey == "" && cfg.Backend == "nats" {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "RELAY_BACKEND=nats: set RELAY_MASTER_KEY (or RELAY_MASTER_KEY_FILE) to the same key on every replica to use sources")
		}
		k, from, err := sealed.LoadKey(cfg.MasterKey, "", cfg.DataDir)
		if err != nil {
			return nil, relay.Errorf(relay.EUNAVAILABLE, "sources' master key: %v", err)
		}
		if from == sealed.CreatedNew {
			log.Warn("created the sources' master key: back it up (without it the stored source secrets cannot be read)",
				"path", filepath.Join(cfg.DataDir, sealed.DefaultFile))
		}
		return k, nil
	}
}

// webhookKeys returns the decoded webhook secrets and the secrets, or with
// none configured the development secret file's (created on first use).
func webhookKeys(cfg *Config, log *slog.Logger) ([][]byte, []string, error) {
	if len(cfg.Keys) > 0 {
		return cfg.Keys, cfg.Secrets, nil
	}
	secret, created, err := ensureSecret(cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("zero-config secret: %w", err)
	}
	k, err := signature.DecodeSecret(secret, cfg.SecretEncoding)
	if err != nil {
		return nil, nil, &relay.ConfigError{Var: "TAGIHANAI_SECRET_ENCODING", Value: cfg.SecretEncoding, Err: fmt.Errorf("the secret in %s: %w", secretFile(cfg.DataDir), err)}
	}
	log.Warn("no TAGIHANAI_WEBHOOK_SECRETS configured: using the development secret file (set TAGIHANAI_WEBHOOK_SECRETS in production)",
		"path", secretFile(cfg.DataDir), "created", created)
	return [][]byte{k}, []string{secret}, nil
}

// service is the running relay: the store, the dispatcher, retention and
// the two listeners.
type service struct {
	st                relay.Store
	where             string
	specs             []*relay.SinkSpec
	disp              *relay.Dispatcher
	retention         *relay.Retention
	public, admin     *http.Server
	publicLn, adminLn net.Listener
	up                *atomic.Bool
	sources           *sources.Manager
	observeReconcile  func(source string, rep relay.ReconcileReport, err error)
}

// reconcileObserver turns each background reconcile into metrics and a
// log line (SPEC 7).
func reconcileObserver(m *metrics.Metrics, log *slog.Logger) func(string, relay.ReconcileReport, error) {
	return func(source string, rep relay.ReconcileReport, err error) {
		if err != nil {
			m.ReconcileRuns.WithLabelValues(source, "error").Inc()
			log.Error("reconcile", "source", source, "error", err)
			return
		}
		open := map[string]int{relay.GapUndelivered: 0, relay.GapMissingDocument: 0}
		for _, g := range rep.Gaps {
			if !g.Fixed {
				open[g.Kind]++
			}
		}
		for kind, n := range open {
			m.ReconcileGaps.WithLabelValues(source, kind).Set(float64(n))
		}
		result := "ok"
		if rep.Open() > 0 {
			result = "gaps"
		}
		m.ReconcileRuns.WithLabelValues(source, result).Inc()
		m.ReconcileLastSuccess.WithLabelValues(source).Set(float64(rep.Until.Unix()))
		level := slog.LevelInfo
		if rep.Open() > 0 {
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, "reconcile", "source", source, "transactions", rep.Checked.Transactions,
			"deliveries", rep.Checked.Deliveries, "gaps", len(rep.Gaps), "open", rep.Open(), "backfilled", rep.Backfilled)
	}
}

// newService opens the store and wires the domain to it and to the
// listeners, which it opens but does not serve yet.
// serviceDeps are what the service takes from the process.
type serviceDeps struct {
	log    *slog.Logger
	http   *http.Client
	stdout io.Writer
	// limiter paces the TagihanAI API (RELAY_TAGIHANAI_MAX_RPS), shared by
	// every source and the enrichment client.
	limiter *tagihanai.Limiter
}

func newService(ctx context.Context, cfg *Config, specs []*relay.SinkSpec, keys [][]byte, deps serviceDeps) (*service, error) {
	log, hc, out := deps.log, deps.http, deps.stdout
	reg := prometheus.NewRegistry()
	var st relay.Store
	m := metrics.New(reg, func(ctx context.Context) (relay.Stats, error) { return st.Stats(ctx, time.Now()) })
	var disp atomic.Pointer[relay.Dispatcher]
	st, where, storeReady, err := openStore(ctx, cfg, m, log, func(sink string) (time.Duration, bool) {
		if d := disp.Load(); d != nil {
			if s, ok := d.Spec(sink); ok {
				return s.Timeout, true
			}
		}
		return 0, false
	})
	if err != nil {
		return nil, err
	}
	svc := &service{st: st, where: where, specs: specs, up: new(atomic.Bool)}
	routes := make([]relay.Route, len(specs))
	for i, s := range specs {
		routes[i] = s.Route
	}
	svc.disp = relay.NewDispatcher(st, specs, relay.DispatcherOptions{Logger: log, Observe: m.ObserveDelivery})
	disp.Store(svc.disp)
	if ns, ok := st.(*natsstore.Store); ok {
		// Work another replica ingested or redrove wakes this one too.
		ns.SetNotify(svc.disp.Notify)
	}
	receiver := &relay.Receiver{Store: st, Routes: routes, Source: cfg.Source, Notify: svc.disp.Notify}
	svc.sources = sources.New(st.(sources.Store), masterKey(cfg, log), sources.Options{
		Events: st, Dispatcher: svc.disp, Notify: svc.disp.Notify, CloudEventsSource: cfg.Source,
		Tolerance: cfg.SignatureTolerance, Deps: sinks.Deps{HTTP: hc, Stdout: out}, TagihanAIAPIURL: cfg.TagihanAIAPIBase, Log: log,
		Limiter: deps.limiter,
		Received: func(ctx context.Context, source string, since time.Time) (int64, error) {
			return sources.CountReceived(ctx, st, source, since)
		},
	})
	if ns, ok := st.(*natsstore.Store); ok {
		// A source changed through another replica applies here within a
		// second: JetStream pushes the change. Watched before the sources
		// are read, so no change falls in between.
		err := ns.WatchSources(ctx, func(name string) {
			if err := svc.sources.Reload(context.WithoutCancel(ctx), name); err != nil {
				log.Error("apply a source changed by another replica", "source", name, "error", err)
			}
		}, func() {
			if err := svc.sources.Resync(context.WithoutCancel(ctx)); err != nil {
				log.Error("re-read the sources", "error", err)
			}
		})
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	if err := svc.sources.Load(ctx); err != nil {
		st.Close()
		return nil, err
	}
	ops := &relay.Operations{Store: st, Receiver: receiver, Notify: svc.disp.Notify, Sources: svc.sources, SourceRoutes: svc.sources.Routes,
		SourceReceiver: svc.sources.Receiver, Sync: svc.sources}
	svc.observeReconcile = reconcileObserver(m, log)
	svc.retention = &relay.Retention{Store: st, MaxAge: cfg.Retention, Interval: cfg.RetentionInterval, Log: log,
		OnRemoved: func(n int) { m.RetentionRemoved.Add(float64(n)) }}

	// One count and one log limit for wrong bearer tokens and console logins.
	authFailures := adminhttp.NewAuthFailures(m.AuthFailures, log, time.Now)
	mount, err := mountConsole(ops, cfg, reg, authFailures, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	ready := func() bool { return svc.up.Load() && storeReady() }
	if svc.publicLn, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		st.Close()
		return nil, &relay.ConfigError{Var: "RELAY_LISTEN_ADDR", Value: cfg.ListenAddr, Err: err}
	}
	if svc.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		svc.publicLn.Close()
		st.Close()
		return nil, &relay.ConfigError{Var: "RELAY_ADMIN_ADDR", Value: cfg.AdminAddr, Err: err}
	}
	svc.public = httpapi.NewServer(cfg.ListenAddr, httpapi.PublicHandler(httpapi.Ingest{
		Verifier: signature.NewVerifier(keys, cfg.SignatureTolerance), Receiver: receiver, Sources: svc.sources.Intake, Metrics: m, Log: log,
		MaxBody: cfg.MaxBodyBytes, MaxInflight: int64(cfg.MaxInflightBytes), Now: time.Now,
	}, ready), log)
	svc.admin = httpapi.NewServer(cfg.AdminAddr, httpapi.AdminHandler(httpapi.Admin{
		Ops: ops, Token: cfg.AdminToken, Gatherer: reg, Log: log, Ready: ready,
		Mount: mount, AllowedHosts: cfg.AdminAllowedHosts, TrustedProxies: cfg.Proxies, AuthFailures: authFailures,
	}), log)
	return svc, nil
}

// sweepSources removes, once a minute, the deleted sources whose sinks
// have drained.
func (svc *service) sweepSources(log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := svc.sources.Sweep(context.Background()); err != nil {
					log.Error("remove drained deleted sources", "error", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// run starts delivering and serving, waits for ctx or a listener failure,
// then shuts down in order: ingest first (its commits finish), then the
// dispatcher (in-flight attempts are recorded), then the admin listener.
func (svc *service) run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if err := svc.disp.Start(ctx); err != nil {
		svc.publicLn.Close()
		svc.adminLn.Close()
		return err
	}
	svc.retention.Start(ctx)
	stopSweep := svc.sweepSources(log)
	stopReconcile := func() {}
	if cfg.ReconcileInterval > 0 {
		stopReconcile = svc.sources.RunReconcile(sources.Schedule{Interval: cfg.ReconcileInterval, Window: cfg.ReconcileWindow,
			Fix: cfg.ReconcileFix, Observe: svc.observeReconcile})
	}

	serveErr := make(chan error, 2)
	var wg sync.WaitGroup
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{svc.public, svc.publicLn}, {svc.admin, svc.adminLn}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}
	svc.up.Store(true)
	sinkNames := make([]string, len(svc.specs))
	for i, s := range svc.specs {
		sinkNames[i] = s.Name + ":" + s.Kind
	}
	log.Info("listening", "public", svc.publicLn.Addr().String(), "admin", svc.adminLn.Addr().String(),
		"store", svc.where, "sinks", strings.Join(sinkNames, ","), "version", version)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-serveErr:
		log.Error("listener failed; shutting down", "error", runErr)
	}
	svc.up.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	_ = svc.public.Shutdown(shutdownCtx) // finishes in-flight deliveries (their commits)
	svc.retention.Stop()
	stopReconcile()
	stopSweep()
	svc.disp.Stop() // finishes and records in-flight sink attempts
	_ = svc.admin.Shutdown(shutdownCtx)
	wg.Wait()
	if err := svc.st.Close(); err != nil && runErr == nil {
		runErr = err
	}
	log.Info("stopped")
	return runErr
}
