package console

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
)

// The signing secrets of the fake sources: no console response may hold
// any of them.
const (
	acmeSecret    = "whsec_dGVzdC1zZWNyZXQtYWNtZQ=="
	rotatedSecret = "whsec_cm90YXRlZC1zZWNyZXQtYWNtZQ=="
	betaSecret    = "whsec_dGVzdC1zZWNyZXQtYmV0YQ=="
	envSecret     = "whsec_the_environment_secret"
)

var fakeSecrets = []string{acmeSecret, rotatedSecret, betaSecret, envSecret}

// fakeSources is a relay.SourceAdmin over relay.Source values with the
// real secret rules (Source.AddSecret, Source.RemoveSecret). It records
// every call, naming secrets by fingerprint.
type fakeSources struct {
	mu      sync.Mutex
	now     func() time.Time
	calls   []string
	sources map[string]*relay.Source
	// broken is the Error of a stored source the relay does not serve.
	broken map[string]string
	// secret is the last secret AddSourceSecret got.
	secret string
}

var _ relay.SourceAdmin = (*fakeSources)(nil)

// newFakeSources holds acme (base64 secrets, sinks ap and log, one
// secret) and beta (disabled, not served).
func newFakeSources(now func() time.Time) *fakeSources {
	t0 := now().Add(-48 * time.Hour)
	return &fakeSources{
		now: now,
		sources: map[string]*relay.Source{
			"acme": {Name: "acme", Enabled: true, SecretEncoding: "base64",
				Secrets: []relay.SourceSecret{relay.NewSourceSecret(acmeSecret, t0)},
				Sinks: map[string]map[string]string{
					"ap":  {"KIND": "accountingplus", "CLIENT_SECRET": "ap-client-secret-value"},
					"log": {"KIND": "stdout"},
				},
				CreatedAt: t0, UpdatedAt: t0},
			"beta": {Name: "beta", Secrets: []relay.SourceSecret{relay.NewSourceSecret(betaSecret, t0)},
				Sinks: map[string]map[string]string{"erp": {"KIND": "http"}}, CreatedAt: t0, UpdatedAt: t0},
		},
		broken: map[string]string{"beta": `sink erp: URL: required`},
	}
}

func (fs *fakeSources) record(call string) {
	fs.calls = append(fs.calls, call)
}

// Calls returns the calls so far and forgets them.
func (fs *fakeSources) Calls() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	c := fs.calls
	fs.calls = nil
	return c
}

// defaultInfo is the environment's source as serve describes it.
func defaultInfo() relay.SourceInfo {
	fp := sealed.Fingerprint(envSecret)
	return relay.SourceInfo{Name: relay.DefaultSource, Enabled: true, ReadOnly: true, Path: "/webhooks/tagihanai",
		Secrets: []relay.SourceSecretInfo{{ID: fp, Fingerprint: fp}},
		Sinks:   []relay.SourceSinkInfo{{Name: "erp", Kind: "http", Events: []string{"*"}, Outbox: "erp"}}}
}

func (fs *fakeSources) info(s *relay.Source) relay.SourceInfo {
	info := relay.SourceInfo{Name: s.Name, Enabled: s.Enabled, SecretEncoding: s.SecretEncoding, Path: relay.SourcePath(s.Name),
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Error: fs.broken[s.Name]}
	for _, sec := range s.Secrets {
		info.Secrets = append(info.Secrets, relay.SourceSecretInfo{ID: sec.ID, Fingerprint: sec.ID, CreatedAt: sec.CreatedAt})
	}
	for _, name := range slices.Sorted(maps.Keys(s.Sinks)) {
		info.Sinks = append(info.Sinks, relay.SourceSinkInfo{Name: name, Kind: s.Sinks[name]["KIND"],
			Events: []string{"transaction.*"}, Outbox: relay.SourceSinkName(s.Name, name)})
	}
	return info
}

func (fs *fakeSources) ListSources(context.Context) ([]relay.SourceInfo, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.record("list")
	out := []relay.SourceInfo{defaultInfo()}
	for _, name := range []string{"acme", "beta"} {
		if s, ok := fs.sources[name]; ok {
			out = append(out, fs.info(s))
		}
	}
	return out, nil
}

func (fs *fakeSources) ShowSource(_ context.Context, name string) (relay.SourceInfo, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.record("show " + name)
	var info relay.SourceInfo
	if name == relay.DefaultSource {
		info = defaultInfo()
	} else {
		s, ok := fs.sources[name]
		if !ok {
			return info, relay.Errorf(relay.ENOTFOUND, "no source %q", name)
		}
		info = fs.info(s)
	}
	info.Stats = &relay.SourceStats{Received24h: 42, Pending: 3, InFlight: 1, Dead: 2, NeedsReview: 1, Sinks: map[string]relay.SinkStats{}}
	if name == "acme" {
		info.Stats.Sinks["ap"] = relay.SinkStats{Pending: 1, InFlight: 1, NeedsReview: 1}
		info.Stats.Sinks["log"] = relay.SinkStats{Pending: 2, Dead: 2}
	}
	return info, nil
}

// change applies f to the stored source name, refusing the environment's.
func (fs *fakeSources) change(name, call string, f func(*relay.Source) error) (relay.SourceInfo, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.record(call)
	if name == relay.DefaultSource {
		return relay.SourceInfo{}, relay.Errorf(relay.EINVALID, "source %q is the environment configuration and read-only: change its environment variables", name)
	}
	s, ok := fs.sources[name]
	if !ok {
		return relay.SourceInfo{}, relay.Errorf(relay.ENOTFOUND, "no source %q", name)
	}
	next := *s
	next.Secrets = slices.Clone(s.Secrets)
	if err := f(&next); err != nil {
		return relay.SourceInfo{}, err
	}
	next.UpdatedAt = fs.now()
	fs.sources[name] = &next
	return fs.info(&next), nil
}

func (fs *fakeSources) AddSourceSecret(_ context.Context, name, secret string) (relay.SourceInfo, error) {
	fs.mu.Lock()
	fs.secret = secret
	fs.mu.Unlock()
	return fs.change(name, "add-secret "+name+" "+sealed.Fingerprint(secret), func(s *relay.Source) error {
		return s.AddSecret(secret, fs.now())
	})
}

func (fs *fakeSources) RemoveSourceSecret(_ context.Context, name, id string) (relay.SourceInfo, error) {
	return fs.change(name, "remove-secret "+name+" "+id, func(s *relay.Source) error { return s.RemoveSecret(id) })
}

func (fs *fakeSources) SetSourceEnabled(_ context.Context, name string, enabled bool) (relay.SourceInfo, error) {
	call := "disable " + name
	if enabled {
		call = "enable " + name
	}
	return fs.change(name, call, func(s *relay.Source) error {
		s.Enabled = enabled
		return nil
	})
}

// ApplySource and DeleteSource are not the console's: they are recorded
// so a test sees that nothing called them.
func (fs *fakeSources) ApplySource(_ context.Context, spec relay.SourceSpec) (relay.SourceApplied, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.record("apply " + spec.Name)
	return relay.SourceApplied{}, relay.Errorf(relay.EINVALID, "not the console's")
}

func (fs *fakeSources) DeleteSource(_ context.Context, name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.record("delete " + name)
	return relay.Errorf(relay.EINVALID, "not the console's")
}

// enabled reports whether the fake's source name is enabled.
func (fs *fakeSources) enabled(name string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.sources[name].Enabled
}

// secretIDs lists the fake's source name's secret ids.
func (fs *fakeSources) secretIDs(name string) []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	for _, s := range fs.sources[name].Secrets {
		out = append(out, s.ID)
	}
	return out
}

// MustOpenSourcesFixture is a fixture whose Operations manage the fake
// sources.
func MustOpenSourcesFixture(tb testing.TB) (*fixture, *fakeSources) {
	tb.Helper()
	f := MustOpenFixture(tb, testToken)
	fs := newFakeSources(f.clock.Now)
	f.ops.Sources = fs
	return f, fs
}

// wantNoSecret fails when the response, its headers included, holds a
// signing secret or a sink credential.
func wantNoSecret(tb testing.TB, w *httptest.ResponseRecorder) {
	tb.Helper()
	var all strings.Builder
	all.WriteString(w.Body.String())
	for k, v := range w.Header() {
		all.WriteString(k + ": " + strings.Join(v, ",") + "\n")
	}
	for _, s := range append(fakeSecrets, "ap-client-secret-value", strings.TrimPrefix(acmeSecret, "whsec_"), strings.TrimPrefix(rotatedSecret, "whsec_")) {
		if strings.Contains(all.String(), s) {
			tb.Fatalf("the response holds the secret %q:\n%s", s, all.String())
		}
	}
}

// wantCalls fails unless the fake got exactly want since the last check.
func wantCalls(tb testing.TB, fs *fakeSources, want ...string) {
	tb.Helper()
	if diff := cmp.Diff(want, fs.Calls()); diff != "" {
		tb.Errorf("SourceAdmin calls (-want +got):\n%s", diff)
	}
}

func TestConsole_Sources(t *testing.T) {
	f, fs := MustOpenSourcesFixture(t)
	op := f.login("Ana")
	acmeID, envID := sealed.Fingerprint(acmeSecret), sealed.Fingerprint(envSecret)

	t.Run("List", func(t *testing.T) {
		w := f.get(op, "/ui/sources")
		wantStatus(t, w, http.StatusOK)
		wantNoSecret(t, w)
		checkNoInline(t, w.Body.String())
		rows := sourceRowsOf(w.Body.String())
		if diff := cmp.Diff([]string{"acme", "beta", "default"}, slices.Sorted(maps.Keys(rows))); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		for name, want := range map[string][]string{
			"default": {`href="/ui/sources/default"`, "environment", `badge ok source-state">enabled`, "1: <code>" + envID + "</code>",
				`erp <span class="muted">(http)</span>`, "<code>/webhooks/tagihanai</code>"},
			"acme": {`href="/ui/sources/acme"`, `badge ok source-state">enabled`, "1: <code>" + acmeID + "</code>",
				`ap <span class="muted">(accountingplus)</span>, log <span class="muted">(stdout)</span>`,
				"<code>/webhooks/tagihanai/acme</code>", "2026-01-13 09:00:00Z"},
			"beta": {`badge bad source-state">not served`},
		} {
			for _, s := range want {
				if !strings.Contains(rows[name], s) {
					t.Errorf("row %s lacks %q:\n%s", name, s, rows[name])
				}
			}
		}
		if strings.Contains(rows["acme"], "environment") {
			t.Error("acme is marked as the environment's source")
		}
		wantBody(t, w, `<p class="alert bad" role="alert">Not served: sink erp: URL: required</p>`,
			`<a href="/ui/sources" aria-current="page">Sources</a>`, "tagihan-relay sources apply -f FILE")
		wantCalls(t, fs, "list")
	})

	t.Run("Show", func(t *testing.T) {
		w := f.get(op, "/ui/sources/acme")
		wantStatus(t, w, http.StatusOK)
		wantNoSecret(t, w)
		checkNoInline(t, w.Body.String())
		wantBody(t, w,
			`<a href="/ui/sources" aria-current="page">Sources</a>`,
			`<dd data-stat="received_24h">42</dd>`, `<dd data-stat="pending">3</dd>`, `<dd data-stat="in_flight">1</dd>`,
			`<dd data-stat="dead">2</dd>`, `<dd data-stat="needs_review">1</dd>`,
			`<tr data-sink="log">`, `<code>acme/log</code>`,
			`<a class="count bad" href="/ui/dead-letters?sink=acme%2Flog">2</a>`,
			`<a class="count warn" href="/ui/review?sink=acme%2Fap">1</a>`,
			`<a href="/ui/dead-letters?sink=acme%2Fap">0</a>`,
			`<tr data-secret="`+acmeID+`">`, `<input type="hidden" name="id" value="`+acmeID+`">`,
			`action="/ui/sources/acme/secrets"`, `<input type="password" name="secret"`,
			`action="/ui/sources/acme/disable"`, "stops intake at once", `name="confirm" value="yes" required`,
			"tagihan-relay sources delete acme",
		)
		if strings.Contains(w.Body.String(), `action="/ui/sources/acme/enable"`) {
			t.Error("an enabled source offers to enable it")
		}
		wantCalls(t, fs, "show acme")
	})

	t.Run("ShowDefault", func(t *testing.T) {
		w := f.get(op, "/ui/sources/default")
		wantStatus(t, w, http.StatusOK)
		wantNoSecret(t, w)
		wantBody(t, w, `<span class="badge muted">environment</span>`, "read-only here", "<code>"+envID+"</code>")
		if body := w.Body.String(); strings.Contains(body, `method="post" action="/ui/sources/`) {
			t.Errorf("the read-only source offers a change:\n%s", body)
		}
		wantCalls(t, fs, "show default")
	})

	t.Run("ShowNotServed", func(t *testing.T) {
		w := f.get(op, "/ui/sources/beta")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, `role="alert">The relay does not serve this source: sink erp: URL: required</p>`,
			`action="/ui/sources/beta/enable"`, `<a href="/ui/dead-letters?sink=beta%2Ferp">dead letters</a>`)
		wantCalls(t, fs, "show beta")
	})

	t.Run("ShowUnknown", func(t *testing.T) {
		wantStatus(t, f.get(op, "/ui/sources/nope"), http.StatusNotFound)
		wantCalls(t, fs, "show nope")
		w := f.get(op, "/ui/sources/Not_A_Name")
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, "source name")
		wantCalls(t, fs)
	})

	t.Run("DisableNeedsConfirm", func(t *testing.T) {
		w := f.post(op, "/ui/sources/acme/disable", nil)
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, `<p class="alert bad refused" role="alert">confirm: tick the box to confirm that disabling acme stops its intake at once</p>`)
		wantCalls(t, fs, "show acme")
		if !fs.enabled("acme") {
			t.Fatal("acme was disabled without the confirmation")
		}
	})

	t.Run("Disable", func(t *testing.T) {
		w := f.post(op, "/ui/sources/acme/disable", url.Values{"confirm": {"yes"}})
		wantLocation(t, w, "/ui/sources/acme?done=disabled")
		if fs.enabled("acme") {
			t.Fatal("acme is still enabled")
		}
		page := f.get(op, w.Header().Get("Location"))
		wantBody(t, page, `<p class="flash" role="status">Source acme disabled: its deliveries are refused (404 unknown_source) and not stored; its sinks still drain what it had.</p>`,
			`badge muted source-state">disabled`, `action="/ui/sources/acme/enable"`)
		wantCalls(t, fs, "disable acme", "show acme")
	})

	t.Run("Enable", func(t *testing.T) {
		w := f.post(op, "/ui/sources/acme/enable", nil)
		wantLocation(t, w, "/ui/sources/acme?done=enabled")
		if !fs.enabled("acme") {
			t.Fatal("acme is still disabled")
		}
		wantBody(t, f.get(op, w.Header().Get("Location")), `<p class="flash" role="status">Source acme enabled: it takes deliveries again.</p>`)
		wantCalls(t, fs, "enable acme", "show acme")
	})

	rotatedID := sealed.Fingerprint(rotatedSecret)
	t.Run("AddSecret", func(t *testing.T) {
		w := f.post(op, "/ui/sources/acme/secrets", url.Values{"secret": {" " + rotatedSecret + "\n"}})
		wantLocation(t, w, "/ui/sources/acme?done=secret-added&id="+rotatedID)
		wantNoSecret(t, w)
		if fs.secret != rotatedSecret {
			t.Errorf("the relay got the secret %q, want it trimmed", fs.secret)
		}
		if diff := cmp.Diff([]string{acmeID, rotatedID}, fs.secretIDs("acme")); diff != "" {
			t.Errorf("secrets (-want +got):\n%s", diff)
		}
		page := f.get(op, w.Header().Get("Location"))
		wantNoSecret(t, page)
		wantBody(t, page, `<p class="flash" role="status">Signing secret `+rotatedID+` added. Once TagihanAI signs with it, remove the old one.</p>`,
			`<tr data-secret="`+rotatedID+`">`)
		if strings.Contains(page.Body.String(), `name="secret" value=`) {
			t.Error("the secret box is filled in")
		}
		wantCalls(t, fs, "add-secret acme "+rotatedID, "show acme")
	})

	t.Run("AddSecretRefused", func(t *testing.T) {
		for _, tt := range []struct {
			secret string
			code   int
			want   string
		}{
			{rotatedSecret, http.StatusConflict, `source &#34;acme&#34; already has secret ` + rotatedID},
			{"whsec_not*base64", http.StatusBadRequest, `source &#34;acme&#34;: secret: `},
			{"   ", http.StatusBadRequest, "secret: paste the new signing secret"},
		} {
			w := f.post(op, "/ui/sources/acme/secrets", url.Values{"secret": {tt.secret}})
			wantStatus(t, w, tt.code)
			wantNoSecret(t, w)
			if strings.Contains(w.Body.String(), "not*base64") {
				t.Errorf("the refusal echoes the secret:\n%s", w.Body)
			}
			wantBody(t, w, `<p class="alert bad refused" role="alert">`+tt.want)
		}
		fs.Calls()
	})

	t.Run("RemoveSecret", func(t *testing.T) {
		w := f.post(op, "/ui/sources/acme/secrets/remove", url.Values{"id": {acmeID}})
		wantLocation(t, w, "/ui/sources/acme?done=secret-removed&id="+acmeID)
		if diff := cmp.Diff([]string{rotatedID}, fs.secretIDs("acme")); diff != "" {
			t.Errorf("secrets (-want +got):\n%s", diff)
		}
		wantBody(t, f.get(op, w.Header().Get("Location")), `<p class="flash" role="status">Signing secret `+acmeID+` removed: deliveries signed with it are refused now.</p>`)
		wantCalls(t, fs, "remove-secret acme "+acmeID, "show acme")
	})

	t.Run("RemoveLastSecret", func(t *testing.T) {
		w := f.post(op, "/ui/sources/acme/secrets/remove", url.Values{"id": {rotatedID}})
		wantStatus(t, w, http.StatusBadRequest)
		wantNoSecret(t, w)
		wantBody(t, w, `<p class="alert bad refused" role="alert">source &#34;acme&#34;: secret `+rotatedID+` is its last: add the new secret first, then remove this one</p>`,
			`<tr data-secret="`+rotatedID+`">`)
		if diff := cmp.Diff([]string{rotatedID}, fs.secretIDs("acme")); diff != "" {
			t.Errorf("secrets (-want +got):\n%s", diff)
		}
		wantCalls(t, fs, "remove-secret acme "+rotatedID, "show acme")
	})

	t.Run("RemoveUnknownSecret", func(t *testing.T) {
		wantStatus(t, f.post(op, "/ui/sources/acme/secrets/remove", url.Values{"id": {"0badc0de"}}), http.StatusNotFound)
		w := f.post(op, "/ui/sources/acme/secrets/remove", url.Values{"id": {acmeSecret}})
		wantStatus(t, w, http.StatusBadRequest)
		wantNoSecret(t, w)
		wantCalls(t, fs, "remove-secret acme 0badc0de", "show acme")
	})

	t.Run("ReadOnlyDefault", func(t *testing.T) {
		w := f.post(op, "/ui/sources/default/disable", url.Values{"confirm": {"yes"}})
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, "is the environment configuration and read-only")
		wantCalls(t, fs, "disable default", "show default")
	})

	t.Run("NeverApplyOrDelete", func(t *testing.T) {
		for _, p := range []string{"/ui/sources/acme", "/ui/sources/acme/delete", "/ui/sources/acme/apply"} {
			w := f.post(op, p, nil)
			if w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
				t.Errorf("POST %s = %d, want 404 or 405", p, w.Code)
			}
		}
		wantCalls(t, fs)
	})
}

// TestConsole_SourcesCSRF sends every sources action without a valid CSRF
// token, or from another site, and checks it is refused with 403 and calls
// nothing.
func TestConsole_SourcesCSRF(t *testing.T) {
	f, fs := MustOpenSourcesFixture(t)
	op, other := f.login("Ana"), f.login("Budi")
	acmeID := sealed.Fingerprint(acmeSecret)
	for _, a := range []struct {
		path string
		form url.Values
	}{
		{"/ui/sources/acme/enable", nil},
		{"/ui/sources/acme/disable", url.Values{"confirm": {"yes"}}},
		{"/ui/sources/acme/secrets", url.Values{"secret": {rotatedSecret}}},
		{"/ui/sources/acme/secrets/remove", url.Values{"id": {acmeID}}},
	} {
		with := func(csrf string) url.Values {
			v := url.Values{}
			for k, vals := range a.form {
				v[k] = vals
			}
			if csrf != "" {
				v.Set("csrf", csrf)
			}
			return v
		}
		for name, w := range map[string]*httptest.ResponseRecorder{
			"NoToken": f.postWith(op, a.path, with(""), func(r *http.Request) {
				r.Header.Set("Sec-Fetch-Site", "same-origin")
			}),
			"Garbage":        f.post(op, a.path, with("garbage")),
			"OtherOperators": f.post(op, a.path, with(other.csrf)),
			"CrossSite": f.postWith(op, a.path, with(op.csrf), func(r *http.Request) {
				r.Header.Set("Sec-Fetch-Site", "cross-site")
			}),
			"OriginElsewhere": f.postWith(op, a.path, with(op.csrf), func(r *http.Request) {
				r.Header.Set("Origin", "https://evil.example")
			}),
		} {
			t.Run(strings.TrimPrefix(a.path, "/ui/sources/")+"/"+name, func(t *testing.T) {
				wantStatus(t, w, http.StatusForbidden)
				wantNoSecret(t, w)
			})
		}
		wantCalls(t, fs)
	}
	if !fs.enabled("acme") || len(fs.secretIDs("acme")) != 1 {
		t.Error("a refused POST changed acme")
	}
	// The same forms with the operator's token go through.
	w := f.post(op, "/ui/sources/acme/enable", nil)
	wantLocation(t, w, "/ui/sources/acme?done=enabled")
	wantCalls(t, fs, "enable acme")
}

// TestConsole_SourcesUnavailable: with no SourceAdmin the page says so and
// the other source paths are 404.
func TestConsole_SourcesUnavailable(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Ana")
	w := f.get(op, "/ui/sources")
	wantStatus(t, w, http.StatusOK)
	wantBody(t, w, `id="sources-unavailable"`, "Sources are not available on this relay", `<a href="/ui/sources" aria-current="page">Sources</a>`)
	if strings.Contains(w.Body.String(), `<table class="grid sources">`) {
		t.Error("the page lists sources it does not have")
	}
	wantStatus(t, f.get(op, "/ui/sources/acme"), http.StatusNotFound)
	w = f.post(op, "/ui/sources/acme/enable", nil)
	wantStatus(t, w, http.StatusNotFound)
	wantBody(t, w, "this relay does not manage sources")
}

// TestConsole_SourcesNoLogin: without RELAY_ADMIN_TOKEN (loopback only)
// the sources page works with the per-process CSRF token.
func TestConsole_SourcesNoLogin(t *testing.T) {
	f := MustOpenFixture(t, "")
	fs := newFakeSources(f.clock.Now)
	f.ops.Sources = fs
	page := f.get(nil, "/ui/sources/acme")
	wantStatus(t, page, http.StatusOK)
	op := &operator{csrf: csrfOf(t, page.Body.String())}
	wantLocation(t, f.post(op, "/ui/sources/acme/disable", url.Values{"confirm": {"yes"}}), "/ui/sources/acme?done=disabled")
	if fs.enabled("acme") {
		t.Error("acme is still enabled")
	}
}

// sourceRowsOf returns the sources table's rows by their data-source.
func sourceRowsOf(body string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(body, `<tr data-source="`)[1:] {
		name, rest, _ := strings.Cut(part, `"`)
		row, _, _ := strings.Cut(rest, "</tr>")
		out[name] = row
	}
	return out
}
