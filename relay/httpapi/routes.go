package httpapi

import (
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"
)

// publicRoutes lists every path of the public listener.
func publicRoutes(e *echo.Echo, in Ingest, ready func() bool) {
	ig := handleIngest(in)
	e.POST("/webhooks/tagihanai", ig.serveDefault)
	e.POST("/webhooks/tagihanai/:source", ig.serveSource)
	e.GET("/healthz", handleHealth)
	e.GET("/readyz", handleReady(ready))
}

// adminRoutes lists every path of the admin listener (the console adds its
// own under /ui).
func adminRoutes(e *echo.Echo, a Admin) {
	e.GET("/metrics", metricsHandler(a.Gatherer))
	e.GET("/healthz", handleHealth)
	e.GET("/readyz", handleReady(a.Ready))

	v1 := e.Group("/v1", requireToken(a.Token, a.AuthFailures), requireBodyType)
	v1.GET("/events", handleListEvents(a.Ops))
	v1.GET("/events/:id", handleGetEvent(a.Ops))
	v1.POST("/events/:id/replay", handleReplay(a.Ops))
	v1.POST("/events/:id/resolve", handleResolve(a.Ops))
	v1.GET("/dead-letters", handleDeadLetters(a.Ops))
	v1.POST("/dead-letters/redrive", handleRedrive(a.Ops))
	v1.GET("/stats", handleStats(a.Ops))
	v1.GET("/export", handleExport(a.Ops))
	v1.POST("/import", handleImport(a.Ops))
	v1.GET("/backup", handleBackup(a.Ops))
	sourceRoutes(v1, a.Ops)
	syncRoutes(v1, a.Ops)

	// Profiles for diagnosing the ingest path (same auth as /v1).
	dbg := e.Group("/debug/pprof", requireToken(a.Token, a.AuthFailures))
	dbg.GET("/*", echo.WrapHandler(http.HandlerFunc(pprof.Index)))
	dbg.GET("/profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	dbg.GET("/trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
}
