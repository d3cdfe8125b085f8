package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sinks"
	"github.com/tagihan-relay/tagihan-relay/sources"
	"github.com/tagihan-relay/tagihan-relay/store"
	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

// startSources runs a source manager over st with its own dispatcher, as
// serve does, and connects it to ops.
func startSources(t testing.TB, st *store.Store, ops *relay.Operations) *sources.Manager {
	t.Helper()
	k, err := sealed.ParseKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	disp := relay.NewDispatcher(st, nil, relay.DispatcherOptions{})
	mgr := sources.New(st, func() (*sealed.Key, error) { return k, nil }, sources.Options{
		Events: st, Dispatcher: disp, Notify: disp.Notify, CloudEventsSource: "tagihanai", Tolerance: 5 * time.Minute,
		Deps: sinks.Deps{HTTP: http.DefaultClient, Stdout: io.Discard},
	})
	if err := mgr.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		disp.Stop()
		mgr.Close()
	})
	ops.Sources, ops.SourceRoutes, ops.SourceReceiver = mgr, mgr.Routes, mgr.Receiver
	return mgr
}

const (
	srcSecret  = "whsec_c291cmNlLWFwaS10ZXN0LXNlY3JldC0wMQ=="
	srcSecret2 = "whsec_c291cmNlLWFwaS10ZXN0LXNlY3JldC0wMg=="
	srcSinkKey = "whsec_c2luay1zaWduaW5nLXNlY3JldC1oaWRkZW4="
)

func (e *relayEnv) sendAdmin(t *testing.T, method, path, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" || method != http.MethodGet {
		r = strings.NewReader(body)
	}
	return e.do(t, e.adminReq(t, method, path, r))
}

// postSigned posts a delivery signed now (the sources' verifiers run on
// the wall clock) with secret to /webhooks/tagihanai/<source>.
func (e *relayEnv) postSigned(t *testing.T, source, secret, id string) response {
	t.Helper()
	body, err := fixtures.Body("transaction.sent", fixtures.Options{EventID: id})
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := http.Header{}
	h.Set(relay.HeaderSignature, signature.SignatureHeader([]byte(secret), ts, body))
	h.Set("Content-Type", "application/json")
	return e.postTo(t, "/webhooks/tagihanai/"+source, body, h)
}

func sourceBody(url, secret string) string {
	return `{"secrets":["` + secret + `"],"sinks":{"erp":{"KIND":"http","URL":"` + url + `","SIGNING_SECRET":"` + srcSinkKey + `"}}}`
}

// TestSourcesAPI drives every /v1/sources endpoint and its errors against
// a real manager, store and destination. No answer ever holds a secret.
func TestSourcesAPI(t *testing.T) {
	e := newEnv(t, envOptions{Sources: true})
	var got atomic.Int64
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer dest.Close()
	var answers []response
	call := func(method, path, body string, want int) response {
		t.Helper()
		r := e.sendAdmin(t, method, path, body)
		answers = append(answers, r)
		if r.Status != want {
			t.Fatalf("%s %s: %s, want %d", method, path, r, want)
		}
		return r
	}

	created := decode[relay.SourceApplied](t, call(http.MethodPut, "/v1/sources/acme", sourceBody(dest.URL, srcSecret), http.StatusCreated))
	if created.Action != relay.ApplyCreated || created.Source.Path != "/webhooks/tagihanai/acme" || len(created.Source.Secrets) != 1 ||
		created.Source.Secrets[0].Fingerprint != sealed.Fingerprint(srcSecret) || created.Source.Sinks[0].Outbox != "acme/erp" {
		t.Fatalf("created: %+v", created)
	}
	if again := decode[relay.SourceApplied](t, call(http.MethodPut, "/v1/sources/acme", sourceBody(dest.URL, srcSecret), http.StatusOK)); again.Action != relay.ApplyUnchanged {
		t.Fatalf("the same PUT again: %s, want unchanged", again.Action)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     []string
	}{
		{"bad sink key", http.MethodPut, "/v1/sources/acme", `{"secrets":["` + srcSecret + `"],"sinks":{"erp":{"KIND":"http","URL":"` + dest.URL + `","SIGNING_SECRET":"` + srcSinkKey + `","TIMEOUTT":"5s"}}}`,
			http.StatusBadRequest, []string{"invalid_request", `source \"acme\"`, `sink \"erp\"`, "TIMEOUTT"}},
		{"unknown field", http.MethodPut, "/v1/sources/acme", `{"secrets":["` + srcSecret + `"],"sinkz":{}}`, http.StatusBadRequest, []string{"sinkz"}},
		{"name mismatch", http.MethodPut, "/v1/sources/acme", `{"name":"beta","secrets":["` + srcSecret + `"],"sinks":{}}`, http.StatusBadRequest, []string{"beta"}},
		{"no secret", http.MethodPut, "/v1/sources/beta", `{"secrets":[],"sinks":{"log":{"KIND":"stdout"}}}`, http.StatusBadRequest, []string{"secret"}},
		{"bad name", http.MethodPut, "/v1/sources/Acme_1", sourceBody(dest.URL, srcSecret), http.StatusBadRequest, []string{"source name"}},
		{"default is read-only", http.MethodPut, "/v1/sources/default", sourceBody(dest.URL, srcSecret), http.StatusBadRequest, []string{"read-only"}},
		{"show unknown", http.MethodGet, "/v1/sources/nope", "", http.StatusNotFound, []string{"not_found"}},
		{"duplicate secret", http.MethodPost, "/v1/sources/acme/secrets", `{"secret":"` + srcSecret + `"}`, http.StatusConflict, []string{"already"}},
		{"empty secret", http.MethodPost, "/v1/sources/acme/secrets", `{"secret":""}`, http.StatusBadRequest, []string{"secret"}},
		{"remove unknown secret", http.MethodDelete, "/v1/sources/acme/secrets/deadbeef", "", http.StatusNotFound, []string{"deadbeef"}},
		{"remove the last secret", http.MethodDelete, "/v1/sources/acme/secrets/" + sealed.Fingerprint(srcSecret), "", http.StatusBadRequest, []string{"last"}},
		{"delete default", http.MethodDelete, "/v1/sources/default", "", http.StatusBadRequest, []string{"read-only"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(tc.method, tc.path, tc.body, tc.status)
			for _, w := range tc.want {
				if !strings.Contains(string(r.Body), w) {
					t.Errorf("answer %s does not say %s", r.Body, w)
				}
			}
		})
	}
	// The refused PUT left the running source alone: its sink still works.
	if r := e.postSigned(t, "acme", srcSecret, "evt_api_1"); r.Status != http.StatusOK {
		t.Fatalf("delivery after refused changes: %s", r)
	}
	testkit.Eventually(t, 10*time.Second, "the delivery recorded", func() bool {
		show := decode[relay.SourceInfo](t, e.sendAdmin(t, http.MethodGet, "/v1/sources/acme", ""))
		return show.Stats != nil && show.Stats.Sinks["erp"].Delivered == 1
	})
	if got.Load() != 1 {
		t.Fatalf("the destination got %d requests, want 1", got.Load())
	}

	list := decode[httpapi.SourceList](t, call(http.MethodGet, "/v1/sources", "", http.StatusOK))
	if len(list.Sources) != 1 || list.Sources[0].Name != "acme" {
		t.Fatalf("list: %+v", list)
	}
	show := decode[relay.SourceInfo](t, call(http.MethodGet, "/v1/sources/acme", "", http.StatusOK))
	if show.Stats == nil || show.Stats.Pending != 0 || show.Stats.Dead != 0 || show.Stats.Sinks["erp"].Delivered != 1 {
		t.Fatalf("show stats: %+v", show.Stats)
	}

	// Rotation without a restart.
	if info := decode[relay.SourceInfo](t, call(http.MethodPost, "/v1/sources/acme/secrets", `{"secret":"`+srcSecret2+`"}`, http.StatusCreated)); len(info.Secrets) != 2 {
		t.Fatalf("after add-secret: %+v", info.Secrets)
	}
	call(http.MethodDelete, "/v1/sources/acme/secrets/"+sealed.Fingerprint(srcSecret), "", http.StatusOK)
	if r := e.postSigned(t, "acme", srcSecret, "evt_api_2"); r.Status != http.StatusUnauthorized {
		t.Fatalf("the removed secret: %s, want 401", r)
	}
	if r := e.postSigned(t, "acme", srcSecret2, "evt_api_3"); r.Status != http.StatusOK {
		t.Fatalf("the new secret: %s, want 200", r)
	}

	// Disable, enable, delete: intake stops and starts at once.
	if info := decode[relay.SourceInfo](t, call(http.MethodPost, "/v1/sources/acme/disable", `{}`, http.StatusOK)); info.Enabled {
		t.Fatal("disable: still enabled")
	}
	if r := e.postSigned(t, "acme", srcSecret2, "evt_api_4"); r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), "unknown_source") {
		t.Fatalf("disabled source: %s, want 404 unknown_source", r)
	}
	call(http.MethodPost, "/v1/sources/acme/enable", `{}`, http.StatusOK)
	if r := e.postSigned(t, "acme", srcSecret2, "evt_api_5"); r.Status != http.StatusOK {
		t.Fatalf("enabled again: %s", r)
	}
	if v := e.metric(t, "tagihan_relay_received_total", `result="accepted",source="acme"`); v != 3 {
		t.Fatalf(`received_total{accepted,acme} = %v, want 3`, v)
	}
	call(http.MethodDelete, "/v1/sources/acme", "", http.StatusOK)
	call(http.MethodGet, "/v1/sources/acme", "", http.StatusNotFound)
	if r := e.postSigned(t, "acme", srcSecret2, "evt_api_6"); r.Status != http.StatusNotFound {
		t.Fatalf("deleted source: %s, want 404", r)
	}

	for _, r := range answers {
		for _, s := range []string{srcSecret, srcSecret2, srcSinkKey, strings.TrimPrefix(srcSecret, "whsec_")} {
			if strings.Contains(string(r.Body), s) {
				t.Fatalf("an answer shows a secret: %s", r.Body)
			}
		}
	}
	if strings.Contains(e.Logs.String(), srcSinkKey) || strings.Contains(e.Logs.String(), srcSecret2) {
		t.Fatal("the log shows a secret")
	}
}

// TestSourcesAPI_Auth: the sources API is behind the admin token like the
// rest of /v1, and needs JSON bodies.
func TestSourcesAPI_Auth(t *testing.T) {
	e := newEnv(t, envOptions{Sources: true, Token: "admin-token-for-sources"})
	req := e.adminReq(t, http.MethodGet, "/v1/sources", nil)
	req.Header.Del("Authorization")
	if r := e.do(t, req); r.Status != http.StatusUnauthorized {
		t.Fatalf("without the token: %s, want 401", r)
	}
	req = e.adminReq(t, http.MethodPut, "/v1/sources/acme", strings.NewReader(sourceBody("http://127.0.0.1:1/", srcSecret)))
	req.Header.Set("Content-Type", "text/plain")
	if r := e.do(t, req); r.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("PUT as text/plain: %s, want 415", r)
	}
}

// TestSyncAPI: connect, reconcile, the last report and disconnect over the
// admin API against a fake TagihanAI that really posts its test event to
// the relay's public listener; bad input is 400 before any API call.
func TestSyncAPI(t *testing.T) {
	const key = "sk_live_sync_api_key_0001"
	ta := tagihanaitest.New(t, key)
	e := newEnv(t, envOptions{Sources: true})
	e.Ops.Sync = e.Sources
	call := func(method, path, body string, want int) response {
		t.Helper()
		r := e.sendAdmin(t, method, path, body)
		if r.Status != want {
			t.Fatalf("%s %s: %s, want %d", method, path, r, want)
		}
		if strings.Contains(string(r.Body), key) {
			t.Fatalf("the answer holds the API key: %s", r.Body)
		}
		return r
	}
	call(http.MethodGet, "/v1/sources/acme/reconcile", "", http.StatusNotFound)
	call(http.MethodPost, "/v1/sources/acme/connect", `{"api_key":"","public_url":"`+e.Public.URL+`"}`, http.StatusBadRequest)
	call(http.MethodPost, "/v1/sources/acme/connect", `{"api_key":"k","public_url":"ftp://x"}`, http.StatusBadRequest)
	if n := len(ta.Requests()); n != 0 {
		t.Fatalf("bad input reached TagihanAI: %d calls", n)
	}
	res := decode[relay.ConnectResult](t, call(http.MethodPost, "/v1/sources/acme/connect",
		`{"api_key":"`+key+`","public_url":"`+e.Public.URL+`","api_base_url":"`+ta.URL()+`"}`, http.StatusOK))
	if !res.Test.Received || res.Subscribed != "created" {
		t.Fatalf("connect: %+v", res)
	}
	call(http.MethodPost, "/v1/sources/acme/reconcile", `{"since":"soon"}`, http.StatusBadRequest)
	rep := decode[relay.ReconcileReport](t, call(http.MethodPost, "/v1/sources/acme/reconcile", `{"since":"24h"}`, http.StatusOK))
	if rep.Source != "acme" || rep.Until.Sub(rep.Since) != 24*time.Hour || len(rep.Gaps) != 0 {
		t.Fatalf("reconcile: %+v", rep)
	}
	last := decode[relay.ReconcileReport](t, call(http.MethodGet, "/v1/sources/acme/reconcile", "", http.StatusOK))
	if !last.Until.Equal(rep.Until) {
		t.Fatalf("last report %+v, want the one just made", last)
	}
	if d := decode[httpapi.Disconnected](t, call(http.MethodPost, "/v1/sources/acme/disconnect", `{}`, http.StatusOK)); d.WebhookID != res.WebhookID {
		t.Fatalf("disconnect: %+v", d)
	}
	e.Ops.Sync = nil
	call(http.MethodPost, "/v1/sources/acme/reconcile", `{}`, http.StatusNotFound)
}
