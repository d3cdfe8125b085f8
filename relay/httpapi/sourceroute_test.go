package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// postTo sends a delivery to path on the public listener.
func (e *relayEnv) postTo(t *testing.T, path string, body []byte, h http.Header) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Public.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return e.do(t, req)
}

// SPEC 6: the environment configuration is the source "default", served at
// /webhooks/tagihanai/default too; any other source name is 404
// unknown_source and nothing is stored, even with a valid signature.
func TestIngest_SourcePaths(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_src_default", Now: t0})
	res := e.postTo(t, "/webhooks/tagihanai/default", body, e.signed(body))
	if res.Status != http.StatusOK {
		t.Fatalf("default source: %s, want 200", res)
	}
	if _, err := e.Store.GetEvent(context.Background(), "evt_src_default"); err != nil {
		t.Fatalf("the default source's delivery was not stored: %v", err)
	}

	for _, path := range []string{"/webhooks/tagihanai/acme", "/webhooks/tagihanai/" + strings.Repeat("x", 300)} {
		body := fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_src_unknown", Now: t0})
		res := e.postTo(t, path, body, e.signed(body))
		if res.Status != http.StatusNotFound {
			t.Fatalf("%s: %s, want 404", path[:30], res)
		}
		var er struct{ Error, Message string }
		if err := json.Unmarshal(res.Body, &er); err != nil || er.Error != relay.EUNKNOWNSOURCE {
			t.Fatalf("%s: body %s, want error unknown_source", path[:30], res.Body)
		}
		if len(er.Message) > 200 {
			t.Fatalf("the answer echoes the whole path: %d bytes", len(er.Message))
		}
	}
	if _, err := e.Store.GetEvent(context.Background(), "evt_src_unknown"); err == nil {
		t.Fatal("a delivery to an unknown source was stored")
	}
	if !strings.Contains(e.Logs.String(), `"result":"unknown_source"`) {
		t.Fatalf("no log line for the refused delivery:\n%s", e.Logs.String())
	}
}
