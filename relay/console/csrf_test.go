package console

import (
	"net/http"
	"net/url"
	"testing"
)

// TestConsole_CSRF sends every action without a valid CSRF token, or from
// another origin, and checks it is refused with 403 and does nothing.
func TestConsole_CSRF(t *testing.T) {
	for _, mode := range []struct {
		name  string
		token string
	}{{"Session", testToken}, {"NoToken", ""}} {
		t.Run(mode.name, func(t *testing.T) {
			f := MustOpenFixture(t, mode.token)
			var op, other *operator
			if mode.token != "" {
				op, other = f.login("Ana"), f.login("Budi")
			} else {
				op = &operator{csrf: csrfOf(t, f.get(nil, "/ui/dead-letters").Body.String())}
				other = &operator{csrf: randomToken()}
			}
			dead := f.ingest("transaction.sent", fixturesOpts("INV-2026-0101"))
			f.kill("erp", dead)
			review := f.ingest("transaction.sent", fixturesOpts("INV-2026-0102"))
			f.stall("ap", review)

			actions := []struct {
				path string
				form url.Values
			}{
				{"/ui/events/" + dead + "/replay", url.Values{"sink": {"erp"}}},
				{"/ui/dead-letters/redrive", url.Values{"sel": {"erp:" + dead}}},
				{"/ui/events/" + review + "/resolve", url.Values{"sink": {"ap"}, "outcome": {"delivered"}, "document_number": {"AP-1"}}},
				{"/ui/events/" + review + "/resolve", url.Values{"sink": {"ap"}, "outcome": {"retry"}, "confirm": {"yes"}}},
			}
			if mode.token != "" {
				actions = append(actions, struct {
					path string
					form url.Values
				}{"/ui/logout", nil})
			}
			crossSite := map[string]func(*http.Request){
				"SecFetchSiteCrossSite": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
				// The public listener is same-site (another port): refused too.
				"SecFetchSiteSameSite": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") },
				"OriginElsewhere":      func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") },
				"OriginOtherPort":      func(r *http.Request) { r.Header.Set("Origin", "http://example.com:8080") },
				"OriginNull":           func(r *http.Request) { r.Header.Set("Origin", "null") },
			}
			for _, a := range actions {
				with := func(csrf string) url.Values {
					v := url.Values{}
					for k, vals := range a.form {
						v[k] = vals
					}
					v.Set("csrf", csrf)
					return v
				}
				t.Run(a.path, func(t *testing.T) {
					for name, csrf := range map[string]string{"Missing": "", "Wrong": randomToken(), "OtherSession": other.csrf} {
						if name == "OtherSession" && mode.token == "" {
							continue
						}
						form := with(csrf)
						if name == "Missing" {
							form.Del("csrf")
						}
						w := f.postWith(op, a.path, form, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-origin") })
						wantStatus(t, w, http.StatusForbidden)
						wantBody(t, w, "CSRF")
					}
					for name, edit := range crossSite {
						w := f.postWith(op, a.path, with(op.csrf), edit)
						if w.Code != http.StatusForbidden {
							t.Fatalf("%s: status = %d, want 403", name, w.Code)
						}
					}
				})
			}
			if got := f.state(dead, "erp"); got != "dead" {
				t.Errorf("dead letter is %s after refused actions", got)
			}
			if got := f.state(review, "ap"); got != "needs_review" {
				t.Errorf("needs-review item is %s after refused actions", got)
			}
			if h := append(f.history(dead), f.history(review)...); len(h) != 0 {
				t.Errorf("history = %q, want nothing recorded", h)
			}
			if mode.token != "" {
				wantStatus(t, f.get(op, "/ui/"), http.StatusOK) // logout was refused
			}

			// And the same form with the right token and a same-origin
			// browser goes through.
			w := f.post(op, "/ui/dead-letters/redrive", url.Values{"sel": {"erp:" + dead}})
			wantStatus(t, w, http.StatusSeeOther)
			if got := f.state(dead, "erp"); got != "pending" {
				t.Errorf("after a valid redrive the delivery is %s, want pending", got)
			}
		})
	}

	t.Run("Login", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		w := f.get(nil, "/ui/login")
		ck, csrf := cookieOf(w, loginCookie), csrfOf(t, w.Body.String())
		for name, op := range map[string]*operator{
			"Missing":     {cookie: ck, csrf: ""},
			"Wrong":       {cookie: ck, csrf: randomToken()},
			"NoCookie":    {csrf: csrf},
			"OtherCookie": {cookie: &http.Cookie{Name: loginCookie, Value: randomToken()}, csrf: csrf},
		} {
			form := url.Values{"token": {testToken}}
			if op.csrf != "" {
				form.Set("csrf", op.csrf)
			}
			w := f.postWith(op, "/ui/login", form, nil)
			if w.Code != http.StatusForbidden || cookieOf(w, sessionCookie) != nil {
				t.Errorf("%s: status = %d, session cookie %v; want 403 and none", name, w.Code, cookieOf(w, sessionCookie))
			}
		}
		w = f.postWith(&operator{cookie: ck}, "/ui/login", url.Values{"token": {testToken}, "csrf": {csrf}},
			func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") })
		wantStatus(t, w, http.StatusForbidden)
	})
}
