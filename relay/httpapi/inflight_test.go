package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

// openConn is a raw client connection whose request is written in parts.
type openConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t testing.TB, srv *httptest.Server) *openConn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &openConn{t: t, conn: c, br: bufio.NewReader(c)}
}

// write sends p; the server may have answered and closed already, so an
// error is not a failure.
func (c *openConn) write(p []byte) { _, _ = c.conn.Write(p) }

// response reads the answer. ReadResponse takes "Connection: close" out of
// the header into Close; it is put back, for the tests to check.
func (c *openConn) response() response {
	c.t.Helper()
	r, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("no response: %v", err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.Close {
		r.Header.Set("Connection", "close")
	}
	return response{Status: r.StatusCode, Header: r.Header, Body: b}
}

// head is a request head with the headers h, a declared Content-Length (or
// chunked when length < 0) and nothing of the body.
func head(h http.Header, length int) []byte {
	var b bytes.Buffer
	b.WriteString("POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\n")
	_ = h.Write(&b)
	if length < 0 {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
	}
	return b.Bytes()
}

func chunk(p []byte) []byte {
	return append(append([]byte(strconv.FormatInt(int64(len(p)), 16)+"\r\n"), p...), "\r\n"...)
}

// TestIngest_SignatureBeforeBody: a missing, malformed or stale signature
// header is answered 401 while the declared body has not been sent at all,
// and the connection is closed (nothing drained, nothing stored).
func TestIngest_SignatureBeforeBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	body := paddedBody(t, "evt_sig_first", 512<<10)
	stale := e.signed(body)
	stale.Set(relay.HeaderSignature, "t="+strconv.FormatInt(e.Clock.Now().Add(-time.Hour).Unix(), 10)+",v1="+
		"5f0c2b1f5c2a8b0e9d1f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d")
	tests := []struct {
		name    string
		h       http.Header
		chunked bool
		code    string
	}{
		{"missing", http.Header{"Content-Type": {"application/json"}}, false, "missing_signature"},
		{"malformed", http.Header{relay.HeaderSignature: {"t=abc,v1=zz"}}, false, "malformed_signature"},
		{"stale", stale, false, "timestamp_out_of_tolerance"},
		{"missing, chunked", http.Header{}, true, "missing_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, e.Public)
			length := len(body)
			if tt.chunked {
				length = -1
			}
			c.write(head(tt.h, length)) // and never a byte of the body
			r := c.response()
			wantError(t, r, http.StatusUnauthorized, tt.code)
			if r.Header.Get("Connection") != "close" {
				t.Errorf("Connection: %q, want close (the unread body is not drained)", r.Header.Get("Connection"))
			}
		})
	}
	e.wantNothingStored(t)
	if got := e.metric(t, "tagihan_relay_signature_failures_total", `code="missing_signature"`); got != 2 {
		t.Errorf("signature_failures_total{missing_signature} = %v, want 2", got)
	}
	// A well-formed, timely header still has its body read and its HMAC
	// checked.
	forged := e.signed([]byte("other bytes"))
	c := dialRaw(t, e.Public)
	c.write(append(head(forged, len(body)), body...))
	wantError(t, c.response(), http.StatusUnauthorized, "signature_mismatch")
	e.wantStillServing(t, "evt_sig_first_after")
}

// TestIngest_InflightBudget: bodies in flight hold at most MaxInflight
// bytes together. A declared length is reserved before the body is read, a
// chunked body as it is read; what does not fit is 503 overloaded with
// Retry-After: 1, and the budget comes back when a request ends.
func TestIngest_InflightBudget(t *testing.T) {
	t.Parallel()
	const maxBody = 64 << 10
	e := newEnv(t, envOptions{MaxBody: maxBody, MaxInflight: 96 << 10})
	inflight := func() float64 { return e.metric(t, "tagihan_relay_ingest_inflight_bytes", "") }

	// A: a signed delivery of the largest size, sent slowly: 64 KiB held.
	bodyA := paddedBody(t, "evt_budget_a", maxBody)
	a := dialRaw(t, e.Public)
	a.write(append(head(e.signed(bodyA), len(bodyA)), bodyA[:100]...))
	testkit.Eventually(t, 0, "A's reservation", func() bool { return inflight() == maxBody })

	// B: 40 KiB more do not fit.
	bodyB := paddedBody(t, "evt_budget_b", 40<<10)
	b := dialRaw(t, e.Public)
	b.write(head(e.signed(bodyB), len(bodyB)))
	rb := b.response()
	wantError(t, rb, http.StatusServiceUnavailable, "overloaded")
	if rb.Header.Get("Retry-After") != "1" || rb.Header.Get("Connection") != "close" {
		t.Errorf("overloaded answer headers %v, want Retry-After: 1 and Connection: close", rb.Header)
	}

	// C: chunked, accounted as it is read: its first 32 KiB fit beside A,
	// the next step does not.
	bodyC := paddedBody(t, "evt_budget_c", 40<<10)
	c := dialRaw(t, e.Public)
	c.write(append(head(e.signed(bodyC), -1), chunk(bodyC)...)) // never terminated
	wantError(t, c.response(), http.StatusServiceUnavailable, "overloaded")

	if got := e.metric(t, "tagihan_relay_overloaded_total", ""); got != 2 {
		t.Errorf("overloaded_total = %v, want 2", got)
	}
	if got := e.metric(t, "tagihan_relay_received_total", `result="overloaded",source="default"`); got != 2 {
		t.Errorf("received_total{overloaded} = %v, want 2", got)
	}
	if got := inflight(); got != maxBody {
		t.Errorf("in flight after the refusals: %v, want only A's %d", got, maxBody)
	}

	// A finishes: accepted; its budget comes back.
	a.write(bodyA[100:])
	if r := a.response(); r.Status != http.StatusOK || decode[ack](t, r) != (ack{"accepted", "evt_budget_a"}) {
		t.Fatalf("A: %s", r)
	}
	testkit.Eventually(t, 0, "the budget released", func() bool { return inflight() == 0 })
	// Chunked and declared deliveries go through again, and nothing refused
	// was stored.
	if r := rawHTTP(t, e.Public, chunkedRequest(e.signed(bodyC), bodyC, 4096)); r == nil || r.StatusCode != http.StatusOK {
		t.Fatalf("chunked delivery after the budget came back: %v", r)
	}
	e.deliver(t, bodyB, "accepted")
	if ids := e.storedIDs(t); len(ids) != 3 {
		t.Errorf("stored %v, want A, B and C once each", ids)
	}
}

// TestIngest_InflightBudgetOfOneBody: with a budget of exactly one largest
// body, that body always fits alone, chunked or not, and one byte more is
// 413, not overloaded.
func TestIngest_InflightBudgetOfOneBody(t *testing.T) {
	t.Parallel()
	const maxBody = 48 << 10
	e := newEnv(t, envOptions{MaxBody: maxBody, MaxInflight: maxBody})
	full := paddedBody(t, "evt_one_body_chunked", maxBody)
	if r := rawHTTP(t, e.Public, chunkedRequest(e.signed(full), full, 5000)); r == nil || r.StatusCode != http.StatusOK {
		t.Fatalf("chunked body of MaxBody alone: %v", r)
	}
	e.deliver(t, paddedBody(t, "evt_one_body", maxBody), "accepted")
	over := paddedBody(t, "evt_one_body_over", maxBody+1)
	r := rawHTTP(t, e.Public, chunkedRequest(e.signed(over), over, 5000))
	if r == nil || r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body of MaxBody+1: %v, want 413", r)
	}
}
