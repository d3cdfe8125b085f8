package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// forgedImport is one NDJSON import line of an event TagihanAI never sent
// (no signature): what a hostile page would try to get delivered.
func forgedImport(t *testing.T, id string) string {
	t.Helper()
	rec := relay.ExportRecord{
		ID: id, ReceivedAt: t0, Headers: map[string]string{"Content-Type": "application/json"},
		BodyBase64: fixture(t, "transaction.sent", fixtures.Options{EventID: id, Now: t0, DocumentNumber: "INV-FORGED-1"}),
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// adminCall is one request to the admin listener as a test sends it.
type adminCall struct {
	method, path, ctype, body string
	header                    map[string]string
	host                      string // "" keeps the listener's 127.0.0.1:port
	noAuth                    bool   // send no Authorization even in token mode
}

func (e *relayEnv) call(t *testing.T, c adminCall) response {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req := e.adminReq(t, c.method, c.path, body)
	req.Header.Del("Content-Type")
	if c.noAuth {
		req.Header.Del("Authorization")
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.host != "" {
		req.Host = c.host
	}
	return e.do(t, req)
}

// TestAdmin_CrossSiteRefused replays what a web page open in the
// operator's browser can send to the admin API (SPEC 4, "Cross-site
// refusal"): it is refused in both modes before anything changes.
func TestAdmin_CrossSiteRefused(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct{ name, token string }{{"NoToken", ""}, {"Token", adminToken}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{Token: mode.token})
			e.deliver(t, fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_xs_1", Now: t0}), "accepted")
			e.settle(t, "erp", map[string]relay.Transition{"evt_xs_1": {State: relay.StateDead, Reason: "HTTP 422"}})
			e.settle(t, "ap", map[string]relay.Transition{"evt_xs_1": {State: relay.StateNeedsReview, Reason: "outcome unknown"}})
			before := sinkStates(e.storedEvent(t, "evt_xs_1"))
			own := e.Admin.URL // http://127.0.0.1:port, the listener's own origin

			actions := []adminCall{
				{method: "POST", path: "/v1/import?route=true", ctype: "application/x-ndjson", body: forgedImport(t, "evt_forged_1")},
				{method: "POST", path: "/v1/events/evt_xs_1/replay", ctype: "application/json", body: `{"sink":"erp"}`},
				{method: "POST", path: "/v1/dead-letters/redrive", ctype: "application/json", body: `{"all":true}`},
				{method: "POST", path: "/v1/events/evt_xs_1/resolve", ctype: "application/json", body: `{"sink":"ap","outcome":"retry"}`},
				{method: "DELETE", path: "/v1/events/evt_xs_1", ctype: "application/json"},
				{method: "PUT", path: "/v1/events/evt_xs_1", ctype: "application/json", body: `{}`},
			}
			refusals := map[string]map[string]string{
				"OriginElsewhere":                 {"Origin": "http://evil.example"},
				"OriginSameHostHTTPS":             {"Origin": strings.Replace(own, "http://", "https://", 1)},
				"OriginOtherPort":                 {"Origin": "http://127.0.0.1:1"},
				"OriginLocalhost":                 {"Origin": strings.Replace(own, "127.0.0.1", "localhost", 1)},
				"OriginNull":                      {"Origin": "null"},
				"OriginWithPath":                  {"Origin": own + "/v1/"},
				"SecFetchCrossSite":               {"Sec-Fetch-Site": "cross-site"},
				"SecFetchSameSite":                {"Sec-Fetch-Site": "same-site"},
				"SameOriginClaimButForeignOrigin": {"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example"},
			}
			for _, a := range actions {
				for name, h := range refusals {
					t.Run(a.method+" "+a.path+"/"+name, func(t *testing.T) {
						c := a
						c.header = h
						wantError(t, e.call(t, c), http.StatusForbidden, relay.ECROSSSITE)
						// Also as the reproduced attack sent it: text/plain,
						// which needs no CORS preflight.
						c.ctype = "text/plain"
						wantError(t, e.call(t, c), http.StatusForbidden, relay.ECROSSSITE)
					})
				}
			}
			for _, id := range e.storedIDs(t) {
				if id != "evt_xs_1" {
					t.Errorf("a refused import stored %s", id)
				}
			}
			if got := sinkStates(e.storedEvent(t, "evt_xs_1")); !equalStates(got, before) {
				t.Errorf("refused calls changed the event: %v, was %v", got, before)
			}

			// The listener's own origin (and Sec-Fetch-Site same-origin or
			// none) goes through: the console's page, curl, the CLI.
			r := e.call(t, adminCall{method: "POST", path: "/v1/events/evt_xs_1/replay", ctype: "application/json; charset=utf-8",
				body: `{"sink":"erp"}`, header: map[string]string{"Origin": own, "Sec-Fetch-Site": "same-origin"}})
			if r.Status != http.StatusAccepted {
				t.Fatalf("same-origin replay: %s", r)
			}
			r = e.call(t, adminCall{method: "POST", path: "/v1/import", ctype: "application/x-ndjson",
				body: forgedImport(t, "evt_own_1"), header: map[string]string{"Sec-Fetch-Site": "none"}})
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"imported":1`) {
				t.Fatalf("import without Origin: %s", r)
			}
		})
	}
}

func equalStates(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAdmin_BodyTypeRequired checks that a state-changing /v1/ call with
// a body that is not JSON (NDJSON for import) is 415 and does nothing,
// even without any Origin (an old browser, a form posted by a plugin).
func TestAdmin_BodyTypeRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.deliver(t, fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_ct_1", Now: t0}), "accepted")
	e.settle(t, "erp", map[string]relay.Transition{"evt_ct_1": {State: relay.StateDead, Reason: "HTTP 422"}})
	for _, c := range []adminCall{
		{method: "POST", path: "/v1/import?route=true", ctype: "text/plain", body: forgedImport(t, "evt_forged_2")},
		{method: "POST", path: "/v1/import", ctype: "application/json", body: forgedImport(t, "evt_forged_2")},
		{method: "POST", path: "/v1/import", ctype: "application/x-www-form-urlencoded", body: forgedImport(t, "evt_forged_2")},
		{method: "POST", path: "/v1/import", body: forgedImport(t, "evt_forged_2")},
		{method: "POST", path: "/v1/events/evt_ct_1/replay", ctype: "text/plain", body: `{"sink":"erp"}`},
		{method: "POST", path: "/v1/events/evt_ct_1/replay", ctype: "multipart/form-data; boundary=x", body: `{"sink":"erp"}`},
		{method: "POST", path: "/v1/events/evt_ct_1/replay", ctype: "application/x-ndjson", body: `{"sink":"erp"}`},
		{method: "POST", path: "/v1/dead-letters/redrive", ctype: "text/plain", body: `{"all":true}`},
		{method: "POST", path: "/v1/dead-letters/redrive", ctype: "application/jsonx", body: `{"all":true}`},
		{method: "POST", path: "/v1/dead-letters/redrive", ctype: "application/json;;", body: `{"all":true}`},
		// An empty body needs the type too (documented in the README).
		{method: "POST", path: "/v1/dead-letters/redrive"},
		{method: "POST", path: "/v1/import"},
	} {
		wantError(t, e.call(t, c), http.StatusUnsupportedMediaType, relay.EUNSUPPORTEDMEDIA, "Content-Type")
	}
	if ids := e.storedIDs(t); len(ids) != 1 {
		t.Errorf("stored %v, want only evt_ct_1", ids)
	}
	if got := sinkStates(e.storedEvent(t, "evt_ct_1"))["erp"]; got != relay.StateDead {
		t.Errorf("erp delivery %s after refused calls, want dead", got)
	}
	r := e.call(t, adminCall{method: "POST", path: "/v1/dead-letters/redrive", ctype: "Application/JSON; charset=UTF-8", body: `{"all":true}`})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"redriven":1`) {
		t.Fatalf("redrive with a JSON body: %s", r)
	}
}

// TestAdmin_HostCheck is the DNS-rebinding defence (SPEC 4, "Host check"):
// without a token every request must name a loopback host or an allowed
// one, reads of the whole database included.
func TestAdmin_HostCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{AllowedHosts: []string{"relay.internal", "ops.example:9000"}})
	e.deliver(t, fixture(t, "transaction.paid", fixtures.Options{EventID: "evt_host_1", Now: t0}), "accepted")
	port := e.Admin.URL[strings.LastIndexByte(e.Admin.URL, ':')+1:]
	paths := []string{"/v1/export", "/v1/backup", "/v1/events", "/v1/events/evt_host_1", "/v1/stats", "/metrics", "/healthz", "/readyz", "/debug/pprof/"}
	for _, host := range []string{"evil.example:" + port, "evil.example", "localhost.evil.example:" + port, "127.0.0.1.evil.example",
		"relay.internal.evil.example", "ops.example:" + port, "ops.example", "[::2]:" + port, "10.0.0.1:" + port, "localhost:99999"} {
		for _, p := range paths {
			r := e.call(t, adminCall{method: "GET", path: p, host: host})
			wantError(t, r, http.StatusForbidden, relay.EFORBIDDENHOST)
			if strings.Contains(string(r.Body), "evt_host_1") {
				t.Fatalf("Host %q read %s", host, p)
			}
		}
		wantError(t, e.call(t, adminCall{method: "POST", path: "/v1/import?route=true", ctype: "application/x-ndjson",
			body: forgedImport(t, "evt_forged_3"), host: host}), http.StatusForbidden, relay.EFORBIDDENHOST)
	}
	if ids := e.storedIDs(t); len(ids) != 1 {
		t.Errorf("stored %v, want only evt_host_1", ids)
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST:" + port, "localhost", "127.0.0.1:" + port, "127.0.0.1", "[::1]:" + port, "[::1]",
		"relay.internal:" + port, "Relay.Internal", "ops.example:9000"} {
		for _, p := range paths {
			if r := e.call(t, adminCall{method: "GET", path: p, host: host}); r.Status != http.StatusOK {
				t.Errorf("GET %s with Host %q: %s", p, host, r)
			}
		}
	}

	t.Run("TokenMode", func(t *testing.T) {
		t.Parallel()
		// With a token the bearer is the guard; the allow-list applies
		// only when RELAY_ADMIN_ALLOWED_HOSTS is set.
		open := newEnv(t, envOptions{Token: adminToken})
		if r := open.call(t, adminCall{method: "GET", path: "/v1/events", host: "relay.example.com"}); r.Status != http.StatusOK {
			t.Errorf("token mode, any Host: %s", r)
		}
		listed := newEnv(t, envOptions{Token: adminToken, AllowedHosts: []string{"relay.example.com"}})
		if r := listed.call(t, adminCall{method: "GET", path: "/v1/events", host: "relay.example.com"}); r.Status != http.StatusOK {
			t.Errorf("token mode, allowed Host: %s", r)
		}
		wantError(t, listed.call(t, adminCall{method: "GET", path: "/v1/events", host: "evil.example"}), http.StatusForbidden, relay.EFORBIDDENHOST)
	})
}

// TestAdmin_AuthFailures counts wrong bearer tokens in
// tagihan_relay_admin_auth_failures_total and logs them at most once per
// 10 s per address, never with the token tried.
func TestAdmin_AuthFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{Token: adminToken})
	const guess = "Bearer guess-0123456789abcdef"
	fail := func(header map[string]string) {
		t.Helper()
		wantError(t, e.call(t, adminCall{method: "GET", path: "/v1/backup", header: header, noAuth: header == nil}), http.StatusUnauthorized, relay.EUNAUTHORIZED)
	}
	logLines := func() []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(e.Logs.String(), "\n") {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "admin authentication failed" {
				out = append(out, l)
			}
		}
		return out
	}
	if got := e.metric(t, "tagihan_relay_admin_auth_failures_total", `kind="bearer"`); got != 0 {
		t.Fatalf("failures before any = %v", got)
	}
	for range 5 {
		fail(map[string]string{"Authorization": guess})
	}
	fail(nil) // no token at all counts too
	if got := e.metric(t, "tagihan_relay_admin_auth_failures_total", `kind="bearer"`); got != 6 {
		t.Errorf("bearer failures = %v, want 6", got)
	}
	if got := len(logLines()); got != 1 {
		t.Fatalf("%d log lines for 6 failures within 10 s, want 1:\n%s", got, e.Logs)
	}
	e.Clock.Advance(adminhttp.AuthLogInterval - time.Millisecond)
	fail(map[string]string{"Authorization": guess})
	if got := len(logLines()); got != 1 {
		t.Fatalf("logged again before 10 s passed:\n%s", e.Logs)
	}
	e.Clock.Advance(time.Millisecond)
	fail(map[string]string{"Authorization": guess})
	lines := logLines()
	if len(lines) != 2 {
		t.Fatalf("%d log lines after 10 s, want 2:\n%s", len(lines), e.Logs)
	}
	if l := lines[1]; l["kind"] != "bearer" || l["remote"] != "127.0.0.1" || l["route"] != "/v1/backup" || l["unlogged_failures_before"] != float64(6) {
		t.Errorf("second line %v, want kind bearer, remote 127.0.0.1, route /v1/backup, 6 unlogged before", l)
	}
	if strings.Contains(e.Logs.String(), "guess-0123456789abcdef") {
		t.Fatal("the log holds the token that was tried")
	}
	// Successful calls are not failures.
	if r := e.get(t, "/v1/stats"); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	if got := e.metric(t, "tagihan_relay_admin_auth_failures_total", `kind="bearer"`); got != 8 {
		t.Errorf("bearer failures = %v, want 8", got)
	}
}

// TestAdmin_TrustedProxies checks that X-Forwarded-For names the client in
// the log only when the TCP peer is a trusted proxy.
func TestAdmin_TrustedProxies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		proxies []string
		want    string
	}{
		{"NoneTrusted", nil, "127.0.0.1"},
		{"OtherNetTrusted", []string{"10.0.0.0/8"}, "127.0.0.1"},
		{"PeerTrusted", []string{"127.0.0.1/32"}, "203.0.113.9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxies, err := adminhttp.ParseTrustedProxies(tt.proxies)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, envOptions{Token: adminToken, Proxies: proxies})
			wantError(t, e.call(t, adminCall{method: "GET", path: "/v1/events", header: map[string]string{
				"Authorization": "Bearer wrong-token-0123456789", "X-Forwarded-For": "203.0.113.9", "X-Real-IP": "198.51.100.1",
			}}), http.StatusUnauthorized, relay.EUNAUTHORIZED)
			var l struct{ Msg, Remote string }
			for _, line := range strings.Split(e.Logs.String(), "\n") {
				if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "admin authentication failed" {
					break
				}
			}
			if l.Remote != tt.want {
				t.Errorf("logged remote %q, want %q:\n%s", l.Remote, tt.want, e.Logs)
			}
		})
	}
}
