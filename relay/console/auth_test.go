package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
)

func TestConsole_Redirects(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	for _, path := range []string{"/", "/ui"} {
		t.Run(path, func(t *testing.T) {
			wantLocation(t, f.get(nil, path), "/ui/")
		})
	}
}

func TestConsole_Login(t *testing.T) {
	t.Run("RequiredForPages", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		for _, path := range []string{"/ui/", "/ui/overview/live", "/ui/events?q=INV", "/ui/events/evt_1", "/ui/events/evt_1/raw",
			"/ui/events/evt_1/resolve?sink=ap", "/ui/dead-letters", "/ui/review"} {
			wantLocation(t, f.get(nil, path), "/ui/login?next="+url.QueryEscape(path))
		}
	})

	t.Run("RequiredForActions", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		id := f.ingest("transaction.sent", fixturesOpts("INV-2026-0001"))
		for _, path := range []string{"/ui/events/" + id + "/replay", "/ui/events/" + id + "/resolve", "/ui/dead-letters/redrive", "/ui/logout"} {
			w := f.post(&operator{csrf: "anything"}, path, url.Values{"sink": {"erp"}, "one": {"erp:" + id}})
			wantStatus(t, w, http.StatusUnauthorized)
			wantBody(t, w, "log in again", `href="/ui/login"`)
		}
		if h := f.history(id); len(h) != 0 {
			t.Fatalf("history = %q, want none", h)
		}
	})

	t.Run("OK", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		w := f.get(nil, "/ui/login?next=%2Fui%2Fevents%3Fq%3DINV-2026-0042")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, `name="token"`, `name="name" value="operator"`, `name="next" value="/ui/events?q=INV-2026-0042"`)
		pre := cookieOf(w, loginCookie)
		if pre == nil || !pre.HttpOnly || pre.SameSite != http.SameSiteStrictMode || pre.Path != "/ui" {
			t.Fatalf("login cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ui", pre)
		}
		w = f.post(&operator{cookie: pre, csrf: csrfOf(t, w.Body.String())}, "/ui/login",
			url.Values{"token": {testToken}, "name": {"  Ana   Putri "}, "next": {"/ui/events?q=INV-2026-0042"}})
		wantLocation(t, w, "/ui/events?q=INV-2026-0042")
		ck := cookieOf(w, sessionCookie)
		switch {
		case ck == nil:
			t.Fatal("no session cookie")
		case !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ui" || ck.MaxAge != 12*60*60:
			t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ui, Max-Age 12h", ck)
		case strings.Contains(ck.Value, testToken) || len(ck.Value) < 40:
			t.Fatalf("session id %q: want an opaque random id, never the token", ck.Value)
		}
		if !strings.Contains(w.Header().Get("Set-Cookie"), "HttpOnly") {
			t.Fatal("Set-Cookie lacks HttpOnly")
		}
		page := f.get(&operator{cookie: ck}, "/ui/events")
		wantStatus(t, page, http.StatusOK)
		wantBody(t, page, "Ana Putri", "Log out")
	})

	t.Run("WrongToken", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		w := f.get(nil, "/ui/login")
		pre := &operator{cookie: cookieOf(w, loginCookie), csrf: csrfOf(t, w.Body.String())}
		for _, token := range []string{"", "wrong", testToken + "x", testToken[:len(testToken)-1]} {
			w := f.post(pre, "/ui/login", url.Values{"token": {token}, "name": {"Ana"}})
			wantStatus(t, w, http.StatusUnauthorized)
			wantBody(t, w, "not the admin token", `value="Ana"`)
			if cookieOf(w, sessionCookie) != nil {
				t.Fatalf("token %q: a session cookie was set", token)
			}
		}
		if n := f.con.sessions.len(); n != 0 {
			t.Fatalf("%d sessions, want 0", n)
		}
	})

	t.Run("OpenRedirect", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		w := f.get(nil, "/ui/login")
		pre := &operator{cookie: cookieOf(w, loginCookie), csrf: csrfOf(t, w.Body.String())}
		for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/v1/events", "/ui\\evil", ""} {
			w := f.post(pre, "/ui/login", url.Values{"token": {testToken}, "next": {next}})
			wantLocation(t, w, "/ui/")
		}
	})

	t.Run("Logout", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		op := f.login("Ana")
		w := f.post(op, "/ui/logout", nil)
		wantLocation(t, w, "/ui/login")
		if ck := cookieOf(w, sessionCookie); ck == nil || ck.MaxAge >= 0 {
			t.Fatalf("logout cookie = %+v, want it deleted", ck)
		}
		wantLocation(t, f.get(op, "/ui/"), "/ui/login?next=%2Fui%2F")
	})

	t.Run("Expires", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		op := f.login("Ana")
		f.clock.Advance(SessionTTL - time.Second)
		wantStatus(t, f.get(op, "/ui/"), http.StatusOK)
		f.clock.Advance(time.Second)
		wantLocation(t, f.get(op, "/ui/"), "/ui/login?next=%2Fui%2F")
	})

	t.Run("RestartEndsSessions", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		op := f.login("Ana")
		f.con = f.newConsole(testToken, nil)
		f.e = newEcho(f.con)
		wantLocation(t, f.get(op, "/ui/"), "/ui/login?next=%2Fui%2F")
	})

	t.Run("NoToken", func(t *testing.T) {
		f := MustOpenFixture(t, "")
		wantStatus(t, f.get(nil, "/ui/events"), http.StatusOK)
		wantLocation(t, f.get(nil, "/ui/login"), "/ui/")
		w := f.get(nil, "/ui/")
		wantBody(t, w, "local, no login")
		if strings.Contains(w.Body.String(), "Log out") {
			t.Fatal("no-token mode offers a logout")
		}
	})

	t.Run("V1RefusesTheCookie", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		op := f.login("Ana")
		h := httpapi.AdminHandler(httpapi.Admin{Ops: f.ops, Token: testToken, Mount: f.con.Mount})
		r := httptest.NewRequest(http.MethodGet, "/v1/events", nil)
		r.AddCookie(op.cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		wantStatus(t, w, http.StatusUnauthorized)
		// The console still works on the same handler.
		r = httptest.NewRequest(http.MethodGet, "/ui/events", nil)
		r.AddCookie(op.cookie)
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		wantStatus(t, w, http.StatusOK)
	})
}

func TestOperatorName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", DefaultOperator},
		{"   ", DefaultOperator},
		{"Ana", "Ana"},
		{"  Ana \t Putri\n", "Ana Putri"},
		{"a\x00b\x1bc", "a b c"},
		{strings.Repeat("é", 70), strings.Repeat("é", 64)},
	} {
		if got := operatorName(tt.in); got != tt.want {
			t.Errorf("operatorName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/ui/events?q=x", "/ui/events?q=x"},
		{"/ui/", "/ui/"},
		{"/ui", "def"},
		{"/v1/events", "def"},
		{"//evil.example/ui/", "def"},
		{"https://evil.example/ui/", "def"},
		{"/ui/\\evil.example", "def"},
		{"/ui/\r\nLocation: x", "def"},
		{"", "def"},
	} {
		if got := localPath(tt.in, "def"); got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
