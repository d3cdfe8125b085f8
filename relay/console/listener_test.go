package console

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
)

// logBuffer collects the log of concurrent handlers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines whose msg is msg.
func (b *logBuffer) lines(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// adminListener is the fixture's console mounted on the whole admin
// handler (httpapi.AdminHandler, as serve wires it) on a real listener.
type adminListener struct {
	url    string
	client *http.Client
	logs   *logBuffer
	reg    *prometheus.Registry
}

func (f *fixture) listen(t *testing.T, token string, proxies adminhttp.TrustedProxies) *adminListener {
	t.Helper()
	l := &adminListener{logs: &logBuffer{}, reg: prometheus.NewRegistry()}
	log := slog.New(slog.NewJSONHandler(l.logs, nil))
	m := metrics.New(l.reg, nil)
	failures := adminhttp.NewAuthFailures(m.AuthFailures, log, f.clock.Now)
	con, err := New(Config{
		Ops: f.ops, Token: token, Now: f.clock.Now, Log: log, AuthFailures: failures,
		Sinks: []Sink{{Name: "erp", Kind: "http"}, {Name: "ap", Kind: "accountingplus", Label: "AccountingPlus", CreateOnce: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(httpapi.AdminHandler(httpapi.Admin{
		Ops: f.ops, Token: token, Gatherer: l.reg, Log: log, Mount: con.Mount, TrustedProxies: proxies, AuthFailures: failures,
	}))
	t.Cleanup(ts.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	l.url = ts.URL
	l.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return l
}

// listenerResponse is a read response.
type listenerResponse struct {
	status int
	header http.Header
	body   string
	cookie []*http.Cookie
}

// send makes a request to the listener; path is sent exactly as written
// (its escaping included). edit may change the request.
func (l *adminListener) send(t *testing.T, method, path string, form url.Values, edit func(*http.Request)) listenerResponse {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, l.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// What a browser on the console's own page sends.
		req.Header.Set("Origin", l.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if edit != nil {
		edit(req)
	}
	res, err := l.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return listenerResponse{status: res.StatusCode, header: res.Header, body: string(b), cookie: res.Cookies()}
}

// metric reads one sample of the listener's registry.
func (l *adminListener) metric(t *testing.T, name, label, value string) float64 {
	t.Helper()
	mfs, err := l.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no sample %s{%s=%q}", name, label, value)
	return 0
}

var (
	replayActionRe  = regexp.MustCompile(`<form class="replay" method="post" action="([^"]+)"`)
	resolveActionRe = regexp.MustCompile(`<form method="post" action="([^"]+/resolve)" class="card tone-ok resolve-delivered"`)
)

// formAction returns the action of the page's form that re matches.
func formAction(t *testing.T, re *regexp.Regexp, page string) string {
	t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no such form in the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// TestConsole_EventIDsLikeTheAPI checks that the console and /v1/ read an
// event id from the path by one rule (adminhttp.PathID): ids holding %,
// /, spaces and non-ASCII letters name the same event on both, and the
// console's replay and resolve forms act on that event, not on the one
// whose id a second unescaping would give.
func TestConsole_EventIDsLikeTheAPI(t *testing.T) {
	f := MustOpenFixture(t, "")
	l := f.listen(t, "", nil)
	ids := []string{"evt_%41", "evt_A", "evt/x", "evt%2Fx", "a%2Fb/c", "evt 100%", "évt_ü—1", "evt_%zz"}
	docs := map[string]string{}
	for i, id := range ids {
		docs[id] = "INV-ID-" + string(rune('A'+i))
		o := fixturesOpts(docs[id])
		o.EventID = id
		if got := f.ingest("transaction.sent", o); got != id {
			t.Fatalf("ingested %q as %q", id, got)
		}
		f.stall("ap", id)
		f.kill("erp", id)
	}
	// Escapings a client may send besides url.PathEscape's.
	alt := map[string][]string{"evt/x": {"evt%2fx"}, "évt_ü—1": {"%c3%a9vt_%C3%BC%E2%80%941"}, "evt_A": {"evt_%41", "%65vt_A"}}
	for _, id := range ids {
		for _, esc := range append([]string{url.PathEscape(id)}, alt[id]...) {
			r := l.send(t, http.MethodGet, "/v1/events/"+esc, nil, nil)
			var got struct{ ID string }
			if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &got) != nil || got.ID != id {
				t.Errorf("GET /v1/events/%s: %d %.200s, want event %q", esc, r.status, r.body, id)
			}
			r = l.send(t, http.MethodGet, "/ui/events/"+esc, nil, nil)
			if r.status != http.StatusOK || !strings.Contains(r.body, docs[id]) {
				t.Errorf("GET /ui/events/%s: %d, want the page of %q (%s)", esc, r.status, id, docs[id])
			}
		}
	}

	for _, id := range []string{"evt_%41", "evt%2Fx", "a%2Fb/c", "evt 100%", "évt_ü—1"} {
		t.Run("Actions/"+id, func(t *testing.T) {
			page := l.send(t, http.MethodGet, eventPath(id), nil, nil)
			if page.status != http.StatusOK {
				t.Fatalf("event page: %d", page.status)
			}
			csrf := csrfOf(t, page.body)
			r := l.send(t, http.MethodPost, formAction(t, replayActionRe, page.body), url.Values{"csrf": {csrf}, "sink": {"erp"}}, nil)
			if r.status != http.StatusSeeOther {
				t.Fatalf("replay form: %d %s", r.status, r.body)
			}
			if loc := r.header.Get("Location"); !strings.HasPrefix(loc, eventPath(id)+"?") {
				t.Errorf("replay went on to %q, want %s", loc, eventPath(id))
			}

			form := l.send(t, http.MethodGet, eventPath(id)+"/resolve?sink=ap", nil, nil)
			if form.status != http.StatusOK {
				t.Fatalf("resolve page: %d", form.status)
			}
			r = l.send(t, http.MethodPost, formAction(t, resolveActionRe, form.body), url.Values{
				"csrf": {csrf}, "sink": {"ap"}, "outcome": {"delivered"}, "document_number": {"AP-" + docs[id]},
			}, nil)
			if r.status != http.StatusSeeOther {
				t.Fatalf("resolve form: %d %s", r.status, r.body)
			}
			if got := f.history(id); len(got) != 2 || got[0] != "console:operator replay erp" || got[1] != "console:operator resolve:delivered ap" {
				t.Errorf("history of %q = %q, want the replay and the resolve", id, got)
			}
			if got := f.state(id, "ap"); got != relay.StateDelivered {
				t.Errorf("%q at ap is %s, want delivered", id, got)
			}
		})
	}
	// The look-alikes were not touched.
	for _, id := range []string{"evt_A", "evt/x", "evt_%zz"} {
		if h := f.history(id); len(h) != 0 {
			t.Errorf("history of %q = %q, want none (an action meant for another event)", id, h)
		}
		if got := f.state(id, "ap"); got != relay.StateNeedsReview {
			t.Errorf("%q at ap is %s, want needs_review", id, got)
		}
	}
}

// TestConsole_AdminListenerGuard checks the admin listener's guard in
// front of the console (SPEC 4): without a token a foreign Host reads
// nothing (no page, no CSRF token) and another site's form is refused
// with the same cross_site answer as /v1/.
func TestConsole_AdminListenerGuard(t *testing.T) {
	f := MustOpenFixture(t, "")
	l := f.listen(t, "", nil)
	dead := f.ingest("transaction.sent", fixturesOpts("INV-2026-0901"))
	f.kill("erp", dead)
	csrf := csrfOf(t, l.send(t, http.MethodGet, "/ui/dead-letters", nil, nil).body)

	for _, path := range []string{"/", "/ui/", "/ui/events", "/ui/dead-letters", eventPath(dead), "/ui/static/console.css"} {
		r := l.send(t, http.MethodGet, path, nil, func(r *http.Request) { r.Host = "evil.example:8081" })
		if r.status != http.StatusForbidden || !strings.Contains(r.body, `"error":"forbidden_host"`) || strings.Contains(r.body, csrf) || strings.Contains(r.body, dead) {
			t.Errorf("GET %s with a foreign Host: %d %s", path, r.status, r.body)
		}
	}
	redrive := url.Values{"csrf": {csrf}, "sel": {"erp:" + dead}}
	for name, edit := range map[string]func(*http.Request){
		"ForeignHost": func(r *http.Request) {
			r.Host = "evil.example:8081"
			r.Header.Set("Origin", "http://evil.example:8081")
		},
		"OriginElsewhere":  func(r *http.Request) { r.Header.Set("Origin", "http://evil.example"); r.Header.Del("Sec-Fetch-Site") },
		"SecFetchSameSite": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site"); r.Header.Del("Origin") },
	} {
		r := l.send(t, http.MethodPost, "/ui/dead-letters/redrive", redrive, edit)
		want := `"error":"cross_site"`
		if name == "ForeignHost" {
			want = `"error":"forbidden_host"`
		}
		if r.status != http.StatusForbidden || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d %s, want 403 %s", name, r.status, r.body, want)
		}
		if csp := r.header.Get("Content-Security-Policy"); csp != contentSecurityPolicy {
			t.Errorf("%s: the refusal lacks the console's headers (CSP %q)", name, csp)
		}
	}
	if got := f.state(dead, "erp"); got != relay.StateDead {
		t.Fatalf("a refused redrive changed the delivery: %s", got)
	}
	if r := l.send(t, http.MethodPost, "/ui/dead-letters/redrive", redrive, nil); r.status != http.StatusSeeOther {
		t.Fatalf("same-origin redrive: %d %s", r.status, r.body)
	}
	if got := f.state(dead, "erp"); got != relay.StatePending {
		t.Fatalf("after the console's own redrive: %s, want pending", got)
	}
}

// TestConsole_LoginBehindProxies checks failed logins (counted, logged at
// most once per 10 s per address) and that X-Forwarded-For and
// X-Forwarded-Proto count only from RELAY_TRUSTED_PROXIES: for the logged
// address, the session cookie's Secure flag and the listener's own origin.
func TestConsole_LoginBehindProxies(t *testing.T) {
	trusted, err := adminhttp.ParseTrustedProxies([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	forwarded := func(r *http.Request) {
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		r.Header.Set("X-Forwarded-Proto", "https")
	}
	for _, tt := range []struct {
		name       string
		proxies    adminhttp.TrustedProxies
		remote     string
		secure     bool
		ownOrigin  string // scheme of the origin the listener considers its own
		otherProto string
	}{
		{"Untrusted", nil, "127.0.0.1", false, "http", "https"},
		{"Trusted", trusted, "203.0.113.9", true, "https", "http"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := MustOpenFixture(t, testToken)
			l := f.listen(t, testToken, tt.proxies)
			host := strings.TrimPrefix(l.url, "http://")
			login := l.send(t, http.MethodGet, "/ui/login", nil, forwarded)
			var nonce *http.Cookie
			for _, c := range login.cookie {
				if c.Name == loginCookie {
					nonce = c
				}
			}
			if nonce == nil {
				t.Fatalf("no login cookie: %v", login.cookie)
			}
			if nonce.Secure != tt.secure {
				t.Errorf("login cookie Secure = %v, want %v", nonce.Secure, tt.secure)
			}
			csrf := csrfOf(t, login.body)
			post := func(token, origin string) listenerResponse {
				return l.send(t, http.MethodPost, "/ui/login", url.Values{"csrf": {csrf}, "token": {token}, "name": {"Ana"}}, func(r *http.Request) {
					forwarded(r)
					r.Header.Set("Origin", origin)
					r.AddCookie(nonce)
				})
			}
			for range 3 {
				if r := post("not-the-token-0123456789", tt.ownOrigin+"://"+host); r.status != http.StatusUnauthorized {
					t.Fatalf("wrong token: %d", r.status)
				}
			}
			if got := l.metric(t, "tagihan_relay_admin_auth_failures_total", "kind", "login"); got != 3 {
				t.Errorf("login failures = %v, want 3", got)
			}
			if got := l.metric(t, "tagihan_relay_admin_auth_failures_total", "kind", "bearer"); got != 0 {
				t.Errorf("bearer failures = %v, want 0", got)
			}
			lines := l.logs.lines("admin authentication failed")
			if len(lines) != 1 || lines[0]["kind"] != "login" || lines[0]["remote"] != tt.remote {
				t.Errorf("log lines %v, want one, kind login, remote %s", lines, tt.remote)
			}
			if strings.Contains(l.logs.String(), "not-the-token") {
				t.Error("the log holds the token tried")
			}

			// The browser's origin has the scheme it reached the proxy
			// with; the other scheme is another origin.
			if r := post(testToken, tt.otherProto+"://"+host); r.status != http.StatusForbidden || !strings.Contains(r.body, `"error":"cross_site"`) {
				t.Errorf("login from %s://: %d %s, want 403 cross_site", tt.otherProto, r.status, r.body)
			}
			r := post(testToken, tt.ownOrigin+"://"+host)
			if r.status != http.StatusSeeOther {
				t.Fatalf("login: %d %s", r.status, r.body)
			}
			var session *http.Cookie
			for _, c := range r.cookie {
				if c.Name == sessionCookie {
					session = c
				}
			}
			if session == nil || session.Secure != tt.secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
				t.Errorf("session cookie %+v, want Secure=%v, HttpOnly, SameSite=Strict", session, tt.secure)
			}
			if got := l.logs.lines("console login"); len(got) != 1 || got[0]["remote"] != tt.remote {
				t.Errorf("login lines %v, want remote %s", got, tt.remote)
			}
		})
	}
}
