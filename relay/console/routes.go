package console

import (
	"net/http"

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
	if con.token != "" {
		e.POST("/ui/logout", con.handleLogout, post...)
	}

	notFound := func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such console page.")
	}
	e.RouteNotFound("/ui/*", notFound, pub...)
}
