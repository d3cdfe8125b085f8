package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
)

// Admin is what the admin listener needs.
type Admin struct {
	Ops      *relay.Operations
	Token    string
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
	Ready    func() bool
	// Mount, when set, adds more routes (the console) to the admin Echo.
	Mount func(e *echo.Echo)
	// AllowedHosts are RELAY_ADMIN_ALLOWED_HOSTS (adminhttp.ParseAllowedHosts):
	// names besides the loopback ones that the listener answers to. The Host
	// allow-list is enforced without a Token, and with one when this is set.
	AllowedHosts []string
	// TrustedProxies may set X-Forwarded-For and X-Forwarded-Proto
	// (RELAY_TRUSTED_PROXIES); nobody else's are believed.
	TrustedProxies adminhttp.TrustedProxies
	// AuthFailures counts and logs wrong bearer tokens (and the console's
	// failed logins, when it is given the same one); nil counts nothing.
	AuthFailures *adminhttp.AuthFailures
}

// newEcho returns an Echo with our error handler and panic recovery.
func newEcho(log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(log)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
		log.Error("panic in handler", "path", c.Path(), "error", err, "stack", string(stack))
		return err
	}}))
	return e
}

// PublicHandler returns the public listener's handler.
func PublicHandler(in Ingest, ready func() bool) http.Handler {
	e := newEcho(in.Log)
	publicRoutes(e, in, ready)
	return e
}

// AdminHandler returns the admin listener's handler. Before routing, every
// request passes the guard (adminhttp.Guard: Host allow-list, cross-site
// refusal), the console's included.
func AdminHandler(a Admin) http.Handler {
	if a.Log == nil {
		a.Log = slog.New(slog.DiscardHandler)
	}
	if a.AuthFailures == nil {
		a.AuthFailures = adminhttp.NewAuthFailures(nil, a.Log, nil)
	}
	e := newEcho(a.Log)
	a.TrustedProxies.Configure(e)
	adminRoutes(e, a)
	if a.Mount != nil {
		a.Mount(e)
	}
	// Added after Mount, so it runs after the console's Pre middleware and
	// a refused /ui/ request still carries the console's security headers.
	guard := &adminhttp.Guard{CheckHost: a.Token == "" || len(a.AllowedHosts) > 0, AllowedHosts: a.AllowedHosts}
	e.Pre(guard.Middleware)
	return e
}

func handleHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func handleReady(ready func() bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ready != nil && !ready() {
			return relay.Errorf(relay.EUNAVAILABLE, "not ready")
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	}
}

// NewServer returns an http.Server with the timeouts and header bound every
// listener uses.
func NewServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func metricsHandler(g prometheus.Gatherer) echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
}
