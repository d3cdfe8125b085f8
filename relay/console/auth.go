package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
)

// Cookie names. Both are HttpOnly, SameSite=Strict and scoped to /ui.
const (
	sessionCookie = "relay_console"
	// loginCookie carries the random value the login form's CSRF token is
	// signed over (a signed double-submit token: there is no session yet).
	loginCookie = "relay_console_login"
)

// DefaultOperator is the login name when the operator gives none, and the
// name actions are recorded under when no token is configured.
const DefaultOperator = "operator"

// who is the operator behind a request.
type who struct {
	name string // login name
	csrf string
	// session is true when a login session (token mode) identifies them.
	session bool
}

// operator is the name Operations records in the event's history.
func (w who) operator() string { return "console:" + w.name }

const whoKey = "console.who"

func whoOf(c echo.Context) who {
	w, _ := c.Get(whoKey).(who)
	return w
}

// authenticate identifies the operator. With a token configured a request
// without a live session is sent to the login page (GET) or refused (401);
// without one everybody is the local operator.
func (con *Console) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if con.token == "" {
			c.Set(whoKey, who{name: DefaultOperator, csrf: con.localCSRF})
			return next(c)
		}
		if ck, err := c.Cookie(sessionCookie); err == nil {
			if s, ok := con.sessions.get(ck.Value); ok {
				c.Set(whoKey, who{name: s.operator, csrf: s.csrf, session: true})
				return next(c)
			}
		}
		r := c.Request()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return c.Redirect(http.StatusSeeOther, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()))
		}
		return relay.Errorf(relay.EUNAUTHORIZED, "your session has ended; log in again")
	}
}

// loginPage is the login form's data.
type loginPage struct {
	CSRF  string
	Next  string
	Name  string
	Error string
}

// handleLoginForm shows the login form, or goes to the overview when no
// token is configured or the operator is logged in already.
func (con *Console) handleLoginForm(c echo.Context) error {
	if con.token == "" {
		return c.Redirect(http.StatusSeeOther, "/ui/")
	}
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if _, ok := con.sessions.get(ck.Value); ok {
			return c.Redirect(http.StatusSeeOther, localPath(c.QueryParam("next"), "/ui/"))
		}
	}
	nonce := con.loginNonce(c)
	return con.render(c, http.StatusOK, "login", "Log in", loginPage{
		CSRF: con.loginCSRF(nonce), Next: localPath(c.QueryParam("next"), ""), Name: DefaultOperator,
	})
}

// loginNonce returns the login cookie's value, setting a fresh one when the
// browser has none (a second tab keeps the first tab's form valid).
func (con *Console) loginNonce(c echo.Context) string {
	if ck, err := c.Cookie(loginCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	v := randomToken()
	c.SetCookie(con.cookie(c, loginCookie, v, time.Hour))
	return v
}

// loginCSRF is the login form's CSRF token: an HMAC of the login cookie
// under a per-process key.
func (con *Console) loginCSRF(nonce string) string {
	m := hmac.New(sha256.New, con.loginKey)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// handleLogin checks the token (constant time) and starts a session.
func (con *Console) handleLogin(c echo.Context) error {
	next := localPath(c.FormValue("next"), "/ui/")
	name := operatorName(c.FormValue("name"))
	got := sha256.Sum256([]byte(c.FormValue("token")))
	want := sha256.Sum256([]byte(con.token))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		con.failures.Record(adminhttp.AuthLogin, c.RealIP(), c.Path())
		nonce := con.loginNonce(c)
		return con.render(c, http.StatusUnauthorized, "login", "Log in", loginPage{
			CSRF: con.loginCSRF(nonce), Next: next, Name: name, Error: "That token is not the admin token.",
		})
	}
	id, s := con.sessions.start(name)
	c.SetCookie(con.cookie(c, loginCookie, "", -1))
	ck := con.cookie(c, sessionCookie, id, SessionTTL)
	ck.Expires = s.expires
	c.SetCookie(ck)
	con.log.Info("console login", "operator", name, "remote", c.RealIP())
	return c.Redirect(http.StatusSeeOther, next)
}

// handleLogout ends the session.
func (con *Console) handleLogout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		con.sessions.end(ck.Value)
	}
	c.SetCookie(con.cookie(c, sessionCookie, "", -1))
	return c.Redirect(http.StatusSeeOther, "/ui/login")
}

// cookie returns a console cookie: HttpOnly, SameSite=Strict, Path=/ui,
// Secure when the browser reached us over HTTPS (c.Scheme(): the admin
// listener believes X-Forwarded-Proto only from RELAY_TRUSTED_PROXIES).
// maxAge < 0 deletes it.
func (con *Console) cookie(c echo.Context, name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{
		Name: name, Value: value, Path: "/ui", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.Scheme() == "https",
	}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(maxAge / time.Second)
	}
	return ck
}

// operatorName cleans the login name: printable, at most 64 characters,
// DefaultOperator when empty.
func operatorName(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }), " ")
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64])
	}
	if s == "" {
		return DefaultOperator
	}
	return s
}

// localPath returns p when it is a console path (so a redirect can never
// leave the console), else def.
func localPath(p, def string) string {
	if !strings.HasPrefix(p, "/ui/") || strings.ContainsAny(p, "\\\r\n\t") {
		return def
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return def
	}
	return p
}
