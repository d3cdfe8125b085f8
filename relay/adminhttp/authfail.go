package adminhttp

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Kinds of failed authentication (the only values of the metric's label).
const (
	AuthBearer = "bearer" // a /v1/ call without the right bearer token
	AuthLogin  = "login"  // a console login with the wrong token
)

// AuthLogInterval is how often at most one remote address's failures are
// logged; the failures in between are counted in the next line.
const AuthLogInterval = 10 * time.Second

// maxTracked bounds the addresses remembered for the log limit. Past it,
// failures from new addresses share one "other" entry, so a guesser with
// many addresses cannot grow memory or the log without bound.
const maxTracked = 4096

// otherAddrs is the shared entry of addresses beyond maxTracked.
const otherAddrs = "other"

// AuthFailures counts failed bearer tokens and console logins
// (tagihan_relay_admin_auth_failures_total{kind}) and logs them at most
// once per AuthLogInterval per remote address. It never sees the token
// that was tried. It is safe for concurrent use.
type AuthFailures struct {
	counter *prometheus.CounterVec
	log     *slog.Logger
	now     func() time.Time

	mu   sync.Mutex
	seen map[string]authEntry
}

type authEntry struct {
	logged time.Time // when this address was last logged
	missed int       // failures since, not logged
}

// NewAuthFailures returns an AuthFailures counting into counter (label
// "kind"; nil counts nothing) and logging to log (nil: nowhere). now is the
// clock; nil means time.Now.
func NewAuthFailures(counter *prometheus.CounterVec, log *slog.Logger, now func() time.Time) *AuthFailures {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	if counter != nil {
		for _, k := range []string{AuthBearer, AuthLogin} {
			counter.WithLabelValues(k)
		}
	}
	return &AuthFailures{counter: counter, log: log, now: now, seen: map[string]authEntry{}}
}

// Record counts one failure of kind (AuthBearer or AuthLogin) from remote
// (the client address, as c.RealIP() gives it) and logs it unless remote
// was logged less than AuthLogInterval ago. route is the matched route
// pattern (never the raw, client-chosen path).
func (a *AuthFailures) Record(kind, remote, route string) {
	if kind != AuthLogin {
		kind = AuthBearer
	}
	if a.counter != nil {
		a.counter.WithLabelValues(kind).Inc()
	}
	now := a.now()
	a.mu.Lock()
	key := remote
	e, ok := a.seen[key]
	if !ok && len(a.seen) >= maxTracked {
		for k, v := range a.seen {
			if now.Sub(v.logged) >= AuthLogInterval {
				delete(a.seen, k)
			}
		}
		if len(a.seen) >= maxTracked {
			key = otherAddrs
			e, ok = a.seen[key]
		}
	}
	if ok && now.Sub(e.logged) < AuthLogInterval {
		e.missed++
		a.seen[key] = e
		a.mu.Unlock()
		return
	}
	missed := e.missed
	a.seen[key] = authEntry{logged: now}
	a.mu.Unlock()
	attrs := []any{"kind", kind, "remote", remote, "route", route, "unlogged_failures_before", missed}
	if key == otherAddrs {
		attrs = append(attrs, "note", "failures from many addresses: this line stands for all untracked ones")
	}
	a.log.Warn("admin authentication failed", attrs...)
}
