package console

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
)

// Security headers of every console response (SPEC 4.2).
const (
	contentSecurityPolicy = "default-src 'self'; script-src 'self'; frame-ancestors 'none'"
	referrerPolicy        = "no-referrer"
)

// maxForm bounds a console form body.
const maxForm = 64 << 10

// secure sets the security headers on every console response (/, /ui and
// everything under /ui/), redirects and errors included; other paths of the
// admin listener pass untouched. Pages carry operator data: no caching (the
// static handler overrides that for its assets).
func secure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := c.Request().URL.Path; p != "/" && p != "/ui" && !strings.HasPrefix(p, "/ui/") {
			return next(c)
		}
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", referrerPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// errorPage turns any error a console handler returns into an HTML page
// (the admin API's error handler writes JSON, which is no use to a person)
// with the status the API would answer: adminhttp.Answer, relay's one code
// → status table. An internal error is logged, and the page says only that
// something went wrong.
func (con *Console) errorPage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		a := adminhttp.Answer(err)
		if a.Internal {
			con.log.Error("console request failed", "method", c.Request().Method, "path", c.Path(), "error", err)
			a.Message = "Something went wrong; the relay's log has the details."
		}
		return con.renderError(c, a.Status, a.Message)
	}
}

// errForbidden is the refusal of a POST without a valid CSRF token or from
// another origin.
var errForbidden = echo.NewHTTPError(http.StatusForbidden,
	"This form was refused: it did not come from this console page (missing or stale CSRF token, or another site). Reload the page and try again.")

// checkPost refuses, with 403, a POST that another site sent (by
// Sec-Fetch-Site or Origin: the admin listener's one rule,
// adminhttp.CrossSite, which its guard applies before routing too) or that
// lacks the CSRF token want returns, compared in constant time. It also
// caps the form's size.
func (con *Console) checkPost(want func(c echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if err := adminhttp.CrossSite(r, c.Scheme()); err != nil {
				con.log.Warn("console refused a cross-origin POST", "path", r.URL.Path, "origin", r.Header.Get("Origin"),
					"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
				return errForbidden
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
			got, w := c.FormValue("csrf"), want(c)
			if w == "" || subtle.ConstantTimeCompare([]byte(got), []byte(w)) != 1 {
				return errForbidden
			}
			return next(c)
		}
	}
}

// sessionCSRF is the CSRF token of the request's operator.
func sessionCSRF(c echo.Context) string { return whoOf(c).csrf }

// loginFormCSRF is the CSRF token the login form must carry.
func (con *Console) loginFormCSRF(c echo.Context) string {
	ck, err := c.Cookie(loginCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	return con.loginCSRF(ck.Value)
}
