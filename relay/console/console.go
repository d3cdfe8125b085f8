package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
)

// Sink describes one configured sink to the console.
type Sink struct {
	Name string
	Kind string // http, accountingplus, onlinepajak, file, stdout
	// Label is how people call the kind ("AccountingPlus"), "" for the
	// generic kinds (the pages then use the sink's name).
	Label string
	// CreateOnce marks a sink that creates one document per subject
	// (AccountingPlus, OnlinePajak): the pages lead with its document number.
	CreateOnce bool
}

// Config is what the console needs. Ops is required; the rest is optional.
type Config struct {
	Ops *relay.Operations
	// Token is RELAY_ADMIN_TOKEN. Empty means no login: the admin listener
	// is loopback-only then (serve refuses anything else).
	Token string
	// Sinks are the configured sinks in configuration order.
	Sinks []Sink
	// Gatherer is read for tagihan_relay_received_total (ingest counts by
	// result); nil shows none.
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AuthFailures counts and logs failed logins (share the admin API's,
	// so one metric and one log limit cover both); nil counts nothing.
	AuthFailures *adminhttp.AuthFailures
}

// SessionTTL is how long a console session lasts after login.
const SessionTTL = 12 * time.Hour

// Console serves the web console. It is safe for concurrent use.
type Console struct {
	ops      *relay.Operations
	token    string
	sinks    []Sink
	gatherer prometheus.Gatherer
	log      *slog.Logger
	now      func() time.Time
	pages    *pages
	sessions *sessions
	// localCSRF is the per-process CSRF token of no-token mode.
	localCSRF string
	// loginKey signs the login form's CSRF token (see loginCSRF).
	loginKey []byte
	failures *adminhttp.AuthFailures
}

// New returns a console over cfg.Ops. It parses the embedded templates, so
// a broken template fails at start, not on the first request.
func New(cfg Config) (*Console, error) {
	if cfg.Ops == nil {
		return nil, errors.New("console: Ops is required")
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{
		ops: cfg.Ops, token: cfg.Token, sinks: cfg.Sinks, gatherer: cfg.Gatherer,
		log: cfg.Log, now: cfg.Now, pages: p,
		localCSRF: randomToken(), loginKey: []byte(randomToken()), failures: cfg.AuthFailures,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.failures == nil {
		c.failures = adminhttp.NewAuthFailures(nil, c.log, c.now)
	}
	c.sessions = newSessions(SessionTTL, c.now)
	return c, nil
}

// randomToken returns 32 random bytes, base64url: session ids and CSRF
// tokens. crypto/rand.Read never fails (it crashes the program instead).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sink returns the configured sink named name.
func (c *Console) sink(name string) (Sink, bool) {
	for _, s := range c.sinks {
		if s.Name == name {
			return s, true
		}
	}
	return Sink{}, false
}

// sinkNames lists the configured sinks' names.
func (c *Console) sinkNames() []string {
	out := make([]string, len(c.sinks))
	for i, s := range c.sinks {
		out[i] = s.Name
	}
	return out
}
