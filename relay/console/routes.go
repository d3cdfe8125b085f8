package console

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Mount adds the console's routes to the admin listener's Echo. Every path
// the console serves is listed here. Mount it through httpapi.Admin.Mount:
// AdminHandler sets the Echo's IP and scheme extractors (trusted proxies)
// and puts the Host and cross-site guard in front of every path.
func (con *Console) Mount(e *echo.Echo) {
	// Before routing, so that every console response carries the security
	// headers, Echo's own 404 and 405 answers included.
	e.Pre(secure)
	e.Pre(headAsGet)

	toUI := func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/ui/") }
	e.GET("/", toUI)
	e.GET("/ui", toUI)

	// Public: the login form and the assets it needs.
	pub := []echo.MiddlewareFunc{con.errorPage}
	e.GET("/ui/static/:name", con.handleStatic, pub...)
	e.GET("/ui/login", con.handleLoginForm, pub...)
	if con.token != "" {
		e.POST("/ui/login", con.handleLogin, append(pub, con.checkPost(con.loginFormCSRF))...)
	}

	// Behind a session (or open, without a token: loopback only).
	get := []echo.MiddlewareFunc{con.errorPage, con.authenticate}
	post := append(get[:len(get):len(get)], con.checkPost(sessionCSRF))

	e.GET("/ui/", con.handleOverview, get...)
	e.GET("/ui/overview/live", con.handleOverviewLive, get...)
	e.GET("/ui/events", con.handleEvents, get...)
	e.GET("/ui/events/:id", con.handleEvent, get...)
	e.GET("/ui/events/:id/raw", con.handleRawBody, get...)
	e.GET("/ui/events/:id/resolve", con.handleResolveForm, get...)
	e.POST("/ui/events/:id/replay", con.handleReplay, post...)
	e.POST("/ui/events/:id/resolve", con.handleResolve, post...)
	e.GET("/ui/dead-letters", con.handleDeadLetters, get...)
	e.POST("/ui/dead-letters/redrive", con.handleRedrive, post...)
	e.GET("/ui/review", con.handleReview, get...)
	e.GET("/ui/sources", con.handleSources, get...)
	e.GET("/ui/sources/:name", con.handleSource, get...)
	e.POST("/ui/sources/:name/enable", con.handleSourceEnable(), post...)
	e.POST("/ui/sources/:name/disable", con.handleSourceDisable(), post...)
	e.POST("/ui/sources/:name/secrets", con.handleSourceAddSecret(), post...)
	e.POST("/ui/sources/:name/secrets/remove", con.handleSourceRemoveSecret(), post...)
	if con.token != "" {
		e.POST("/ui/logout", con.handleLogout, post...)
	}

	notFound := func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such console page.")
	}
	e.RouteNotFound("/ui/*", notFound, pub...)
}

// headAsGet answers HEAD on console paths as GET would (200, or the same
// 303) with the same headers and no body: monitors and link checkers use
// HEAD. Echo routes by the request's method, so the method reads GET while
// the GET route runs, and the body is dropped before the server sees it.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodHead || !(r.URL.Path == "/" || r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/")) {
			return next(c)
		}
		r.Method = http.MethodGet
		defer func() { r.Method = http.MethodHead }()
		res := c.Response()
		res.Writer = headWriter{res.Writer}
		return next(c)
	}
}

// headWriter sends the headers and drops the body.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(b []byte) (int, error) { return len(b), nil }

// Unwrap lets http.ResponseController reach the real writer (Flush).
func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
