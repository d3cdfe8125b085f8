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

// AdminHandler returns the admin listener's handler.
func AdminHandler(a Admin) http.Handler {
	e := newEcho(a.Log)
	adminRoutes(e, a)
	if a.Mount != nil {
		a.Mount(e)
	}
	return e
}

func handleHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func handleReady(ready func() bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ready != nil && !ready() {
			return c.JSON(http.StatusServiceUnavailable, apiError{Error: relay.EUNAVAILABLE, Message: "not ready"})
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
