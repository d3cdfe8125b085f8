package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// chunkedRequest is a raw HTTP/1.1 POST whose body is sent chunked, with no
// Content-Length.
func chunkedRequest(h http.Header, body []byte, chunk int) []byte {
	var b bytes.Buffer
	b.WriteString("POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\nTransfer-Encoding: chunked\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	for len(body) > 0 {
		n := min(chunk, len(body))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// paddedBody returns a valid delivery of exactly size bytes (JSON allows
// trailing whitespace).
func paddedBody(t testing.TB, id string, size int) []byte {
	t.Helper()
	b := []byte(`{"id":"` + id + `","type":"party.created","data":{"id":"party_` + id + `"}}`)
	if len(b) > size {
		t.Fatalf("size %d too small", size)
	}
	return append(b, bytes.Repeat([]byte{' '}, size-len(b))...)
}

func TestIngest_BodyLimit(t *testing.T) {
	t.Parallel()
	const maxBody = 1024
	e := newEnv(t, envOptions{MaxBody: maxBody})
	tests := []struct {
		name    string
		size    int
		chunked bool
		open    bool // leave the body unfinished, the connection open
		want    int
	}{
		{name: "exactly MaxBody", size: maxBody, want: http.StatusOK},
		{name: "exactly MaxBody, chunked", size: maxBody, chunked: true, want: http.StatusOK},
		{name: "one byte over, Content-Length", size: maxBody + 1, want: http.StatusRequestEntityTooLarge},
		{name: "one byte over, chunked", size: maxBody + 1, chunked: true, want: http.StatusRequestEntityTooLarge},
		{name: "far over, chunked", size: 256 << 10, chunked: true, want: http.StatusRequestEntityTooLarge},
		// The sender never finishes: the answer must not wait for the end.
		{name: "over, chunked, body never ends", size: 64 << 10, chunked: true, open: true, want: http.StatusRequestEntityTooLarge},
		{name: "over, Content-Length, body never sent", size: 64 << 10, open: true, want: http.StatusRequestEntityTooLarge},
	}
	tooLarge := 0
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("evt_size_%04d", i)
			body := paddedBody(t, id, tt.size)
			h := e.signed(body)
			var res response
			if tt.chunked || tt.open {
				payload := chunkedRequest(h, body, 100)
				switch {
				case tt.open && tt.chunked:
					payload = bytes.TrimSuffix(payload, []byte("0\r\n\r\n"))
				case tt.open:
					payload = request(headerLines(h), nil)
					payload = bytes.Replace(payload, []byte("Content-Length: 0"), []byte("Content-Length: "+strconv.Itoa(len(body))), 1)
					payload = append(payload, body[:100]...)
				}
				r := rawHTTP(t, e.Public, payload)
				if r == nil {
					t.Fatal("no response")
				}
				b, _ := readAll(r)
				res = response{Status: r.StatusCode, Header: r.Header, Body: b}
			} else {
				res = e.post(t, body, h)
			}
			if tt.want == http.StatusOK {
				if res.Status != http.StatusOK || decode[ack](t, res) != (ack{"accepted", id}) {
					t.Fatalf("got %s, want 200 accepted", res)
				}
				if got := e.storedEvent(t, id).Raw.BodyBase64; !bytes.Equal(got, body) {
					t.Errorf("stored body is not the %d bytes sent", len(body))
				}
				return
			}
			wantError(t, res, http.StatusRequestEntityTooLarge, "too_large", "RELAY_MAX_BODY_BYTES")
			if _, err := e.Store.GetEvent(context.Background(), id); relay.ErrorCode(err) != relay.ENOTFOUND {
				t.Errorf("a refused body was stored (GetEvent: %v)", err)
			}
		})
		if tt.want != http.StatusOK {
			tooLarge++
		}
	}
	if got := e.metric(t, "tagihan_relay_received_total", `result="too_large",source="default"`); got != float64(tooLarge) {
		t.Errorf("received_total{too_large} = %v, want %d", got, tooLarge)
	}
}

// TestIngest_BodyLimitDefault sends 2 MiB to the production limit of 1 MiB:
// refused without reading it all, and the server goes on serving.
func TestIngest_BodyLimitDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{}) // MaxBody 1 MiB
	big := paddedBody(t, "evt_big_0001", 2<<20)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			var res response
			if chunked {
				r := rawHTTP(t, e.Public, chunkedRequest(e.signed(big), big, 32<<10))
				if r == nil {
					t.Fatal("no response")
				}
				b, _ := readAll(r)
				res = response{Status: r.StatusCode, Header: r.Header, Body: b}
			} else {
				res = e.post(t, big, e.signed(big))
			}
			wantError(t, res, http.StatusRequestEntityTooLarge, "too_large")
			e.wantNothingStored(t)
		})
	}
	e.deliver(t, paddedBody(t, "evt_after_big", 200), "accepted")
}

// headerLines writes h as raw header lines.
func headerLines(h http.Header) string {
	var b strings.Builder
	_ = h.Write(&b)
	return b.String()
}
