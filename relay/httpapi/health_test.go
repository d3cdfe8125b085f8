package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{Token: adminToken})
	for _, srv := range []struct {
		name string
		url  string
	}{{"public", e.Public.URL}, {"admin", e.Admin.URL}} {
		t.Run(srv.name, func(t *testing.T) {
			get := func(path string) response {
				req, err := http.NewRequest(http.MethodGet, srv.url+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				return e.do(t, req) // no token: health is open
			}
			e.Ready.Store(true)
			if r := get("/healthz"); r.Status != http.StatusOK {
				t.Errorf("/healthz: %s", r)
			}
			if r := get("/readyz"); r.Status != http.StatusOK {
				t.Errorf("/readyz while ready: %s", r)
			}
			e.Ready.Store(false)
			if r := get("/healthz"); r.Status != http.StatusOK {
				t.Errorf("/healthz while not ready: %s (the process is up)", r)
			}
			wantError(t, get("/readyz"), http.StatusServiceUnavailable, relay.EUNAVAILABLE)
			e.Ready.Store(true)
			if r := get("/readyz"); r.Status != http.StatusOK {
				t.Errorf("/readyz ready again: %s", r)
			}
		})
	}
}

func TestPublic_RoutingErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	req, _ := http.NewRequest(http.MethodGet, e.Public.URL+"/webhooks/tagihanai", nil)
	wantError(t, e.do(t, req), http.StatusMethodNotAllowed, "method_not_allowed")
	req, _ = http.NewRequest(http.MethodPost, e.Public.URL+"/webhooks/other", strings.NewReader("{}"))
	wantError(t, e.do(t, req), http.StatusNotFound, relay.ENOTFOUND)
	// The admin API is not on the public listener.
	req, _ = http.NewRequest(http.MethodGet, e.Public.URL+"/v1/events", nil)
	wantError(t, e.do(t, req), http.StatusNotFound, relay.ENOTFOUND)
}
