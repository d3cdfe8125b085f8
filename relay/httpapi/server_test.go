package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
)

func TestNewServer(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	srv := httpapi.NewServer("127.0.0.1:0", h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if srv.Handler == nil || srv.ErrorLog == nil {
		t.Errorf("handler or error log not set")
	}
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s not set: a slow client could hold a connection forever", name)
		}
	}
	if srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("MaxHeaderBytes = %d, want 64 KiB", srv.MaxHeaderBytes)
	}
}

// request is a raw HTTP/1.1 request to the ingest endpoint with extra
// header lines and body.
func request(extra string, body []byte) []byte {
	return []byte(fmt.Sprintf("POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\n%sContent-Length: %d\r\n\r\n%s", extra, len(body), body))
}

// wantStillServing requires a valid delivery to go through.
func (e *relayEnv) wantStillServing(t *testing.T, id string) {
	t.Helper()
	e.deliver(t, paddedBody(t, id, 100), "accepted")
}

func TestServer_HeaderLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	body := paddedBody(t, "evt_hdr_limit", 100)
	sig := e.signed(body).Get(relay.HeaderSignature)
	tests := []struct {
		name  string
		extra string
		want  int
	}{
		{name: "80 KiB header", extra: "X-Padding: " + strings.Repeat("a", 80<<10) + "\r\n", want: http.StatusRequestHeaderFieldsTooLarge},
		{name: "many headers over 64 KiB", extra: strings.Repeat("X-TagihanAI-Extra: "+strings.Repeat("b", 1000)+"\r\n", 80), want: http.StatusRequestHeaderFieldsTooLarge},
		{name: "signature header of 1 MiB", extra: "X-TagihanAI-Signature: " + sig + strings.Repeat(",v1=0", 200<<10) + "\r\n", want: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawHTTP(t, e.Public, request(tt.extra, body))
			if r == nil {
				t.Fatal("no response")
			}
			_, _ = readAll(r)
			if r.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.want)
			}
			e.wantNothingStored(t)
		})
	}
	// Just under the bound the handler answers, with a JSON error.
	r := rawHTTP(t, e.Public, request("X-TagihanAI-Signature: t=1,"+strings.Repeat("x", 60<<10)+"\r\n", body))
	if r == nil {
		t.Fatal("no response to a 60 KiB signature header")
	}
	b, _ := readAll(r)
	wantError(t, response{Status: r.StatusCode, Header: r.Header, Body: b}, http.StatusUnauthorized, "malformed_signature")
	e.wantStillServing(t, "evt_after_headers")
}

func TestServer_GarbageRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		name    string
		payload string
	}{
		{name: "not HTTP", payload: "GARBAGE\r\n\r\n"},
		{name: "binary", payload: "\x00\x01\x02\xff\xfe\r\n\r\n"},
		{name: "header line without colon", payload: "POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\nNo colon here\r\n\r\n"},
		{name: "control character in a header value", payload: "POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\nX-TagihanAI-Signature: t=1\x00,v1=00\r\nContent-Length: 0\r\n\r\n"},
		{name: "negative Content-Length", payload: "POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\nContent-Length: -5\r\n\r\n"},
		{name: "two Content-Lengths", payload: "POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"},
		{name: "bad chunk size", payload: "POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
		{name: "no Host", payload: "POST /webhooks/tagihanai HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawHTTP(t, e.Public, []byte(tt.payload))
			if r != nil {
				_, _ = readAll(r)
				if r.StatusCode < 400 || r.StatusCode >= 500 {
					t.Errorf("status %d, want a 4xx", r.StatusCode)
				}
			}
		})
	}
	e.wantNothingStored(t)
	e.wantStillServing(t, "evt_after_garbage")
}

func TestServer_TruncatedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	body := paddedBody(t, "evt_truncated", 1000)
	h := e.signed(body)
	var req bytes.Buffer
	req.WriteString("POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\nContent-Length: 1000\r\n")
	_ = h.Write(&req)
	req.WriteString("\r\n")
	req.Write(body[:10])

	conn, err := net.Dial("tcp", e.Public.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 0, "the handler to give up on the truncated body", func() bool {
		return e.metric(t, "tagihan_relay_received_total", `result="bad_request",source="default"`) == 1
	})
	e.wantNothingStored(t)
	e.wantStillServing(t, "evt_after_truncated")
}
