package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
)

func TestAdmin_Auth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{Token: adminToken})
	e.deliver(t, fixture(t, "transaction.paid", fixtures.Options{EventID: "evt_auth_1", Now: t0}), "accepted")
	routes := []struct{ method, path, body string }{
		{"GET", "/v1/events", ""},
		{"GET", "/v1/events/evt_auth_1", ""},
		{"POST", "/v1/events/evt_auth_1/replay", `{"sink":"ap"}`},
		{"POST", "/v1/events/evt_auth_1/resolve", `{"sink":"erp","outcome":"retry"}`},
		{"GET", "/v1/dead-letters", ""},
		{"POST", "/v1/dead-letters/redrive", `{"all":true}`},
		{"GET", "/v1/stats", ""},
		{"GET", "/v1/export", ""},
		{"POST", "/v1/import", ""},
		{"GET", "/v1/backup", ""},
		{"GET", "/v1/unknown", ""},
		{"GET", "/debug/pprof/", ""},
	}
	auths := []struct{ name, header string }{
		{"no Authorization", ""},
		{"wrong token", "Bearer wrong-token"},
		{"token without scheme", adminToken},
		{"Basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminToken))},
		{"token prefix", "Bearer " + adminToken[:len(adminToken)-1]},
		{"token with suffix", "Bearer " + adminToken + "x"},
		{"empty bearer", "Bearer "},
	}
	for _, rt := range routes {
		for _, a := range auths {
			t.Run(rt.method+" "+rt.path+"/"+a.name, func(t *testing.T) {
				req, err := http.NewRequest(rt.method, e.Admin.URL+rt.path, strings.NewReader(rt.body))
				if err != nil {
					t.Fatal(err)
				}
				if a.header != "" {
					req.Header.Set("Authorization", a.header)
				}
				wantError(t, e.do(t, req), http.StatusUnauthorized, relay.EUNAUTHORIZED)
			})
		}
	}
	// Nothing was changed by the refused calls.
	if got := sinkStates(e.storedEvent(t, "evt_auth_1")); len(got) != 1 {
		t.Errorf("a refused call changed the event: %v", got)
	}
	for _, path := range []string{"/v1/events", "/v1/events/evt_auth_1", "/v1/dead-letters", "/v1/stats", "/v1/export", "/v1/backup"} {
		if r := e.get(t, path); r.Status != http.StatusOK {
			t.Errorf("GET %s with the token: %s", path, r)
		}
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		req, _ := http.NewRequest(http.MethodGet, e.Admin.URL+path, nil)
		if r := e.do(t, req); r.Status != http.StatusOK {
			t.Errorf("GET %s without a token: %s", path, r)
		}
	}
	if r := e.get(t, "/metrics"); !bytes.Contains(r.Body, []byte("tagihan_relay_received_total")) || !bytes.Contains(r.Body, []byte("tagihan_relay_outbox_depth")) {
		t.Errorf("/metrics lacks the relay's metrics")
	}
}

func TestAdmin_NoToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{}) // development: /v1 open to local callers
	req, _ := http.NewRequest(http.MethodGet, e.Admin.URL+"/v1/events", nil)
	if r := e.do(t, req); r.Status != http.StatusOK {
		t.Errorf("GET /v1/events without a configured token: %s", r)
	}
}

func TestAdmin_MountAndRecover(t *testing.T) {
	t.Parallel()
	st := testkit.OpenStore(t)
	ops := &relay.Operations{Store: st, Receiver: &relay.Receiver{Store: st, Routes: defaultRoutes, Source: "tagihanai"}}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	h := httpapi.AdminHandler(httpapi.Admin{Ops: ops, Gatherer: prometheus.NewRegistry(), Log: log,
		Mount: func(e *echo.Echo) {
			e.GET("/ui/", func(c echo.Context) error { return c.String(http.StatusOK, "console") })
			e.GET("/ui/boom", func(c echo.Context) error { panic("secret internal detail") })
			e.GET("/ui/fail", func(c echo.Context) error { return errors.New("secret internal detail") })
		}})
	srv := startServer(t, h, log)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	get := func(path string) response {
		t.Helper()
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := readAll(res)
		return response{Status: res.StatusCode, Header: res.Header, Body: b}
	}
	if r := get("/ui/"); r.Status != http.StatusOK || string(r.Body) != "console" {
		t.Errorf("mounted route: %s", r)
	}
	for _, path := range []string{"/ui/boom", "/ui/fail"} {
		r := get(path)
		wantError(t, r, http.StatusInternalServerError, relay.EINTERNAL)
		if bytes.Contains(r.Body, []byte("secret internal detail")) {
			t.Errorf("%s: the answer leaks the internal error: %s", path, r.Body)
		}
	}
	if r := get("/healthz"); r.Status != http.StatusOK {
		t.Errorf("after a panic: %s", r)
	}
	if !strings.Contains(logs.String(), "secret internal detail") {
		t.Errorf("the internal error was not logged")
	}
}
