package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

func TestIngest_SignatureFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	body := fixture(t, "transaction.sent", fixtures.Options{EventID: "evt_sig_0001", Now: t0, DocumentNumber: "INV-SIG-0001"})
	now := e.Clock.Now()
	unix := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	key := []byte(primarySecret)
	tests := []struct {
		name     string
		sig, ts  string // header values; "" leaves the header out
		wantCode string
	}{
		{name: "no signature header", wantCode: "missing_signature"},
		{name: "blank signature header", sig: "   ", wantCode: "missing_signature"},
		{name: "not key=value", sig: "garbage", ts: unix(0), wantCode: "malformed_signature"},
		{name: "t= not a number", sig: "t=soon,v1=" + signature.Sign(key, unix(0), body), wantCode: "malformed_signature"},
		{name: "v1 not hex", sig: "t=" + unix(0) + ",v1=not-hex", wantCode: "malformed_signature"},
		{name: "v1 truncated", sig: "t=" + unix(0) + ",v1=" + signature.Sign(key, unix(0), body)[:40], wantCode: "malformed_signature"},
		{name: "bare hex without X-TagihanAI-Timestamp", sig: signature.Sign(key, unix(0), body), wantCode: "malformed_signature"},
		{name: "t= repeated", sig: "t=" + unix(0) + ",t=" + unix(0) + ",v1=" + signature.Sign(key, unix(0), body), wantCode: "malformed_signature"},
		{name: "old timestamp", sig: signature.SignatureHeader(key, unix(-6*time.Minute), body), wantCode: "timestamp_out_of_tolerance"},
		{name: "old timestamp, one second past the window", sig: signature.SignatureHeader(key, unix(-tolerance-time.Second), body), wantCode: "timestamp_out_of_tolerance"},
		{name: "future timestamp", sig: signature.SignatureHeader(key, unix(6*time.Minute), body), wantCode: "timestamp_out_of_tolerance"},
		{name: "old X-TagihanAI-Timestamp (bare form)", sig: signature.Sign(key, unix(-time.Hour), body), ts: unix(-time.Hour), wantCode: "timestamp_out_of_tolerance"},
		{name: "wrong secret", sig: signature.SignatureHeader([]byte("whsec_someone-else"), unix(0), body), wantCode: "signature_mismatch"},
		{name: "whsec_ prefix left out of the key", sig: signature.SignatureHeader([]byte(strings.TrimPrefix(primarySecret, "whsec_")), unix(0), body), wantCode: "signature_mismatch"},
		{name: "body changed after signing", sig: signature.SignatureHeader(key, unix(0), append(append([]byte(nil), body...), ' ')), wantCode: "signature_mismatch"},
		{name: "signed with another timestamp", sig: "t=" + unix(0) + ",v1=" + signature.Sign(key, unix(-time.Second), body), wantCode: "signature_mismatch"},
		{name: "bare hex over another X-TagihanAI-Timestamp", sig: signature.Sign(key, unix(0), body), ts: unix(-2 * time.Second), wantCode: "signature_mismatch"},
	}
	wantCounts := map[string]float64{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			if tt.sig != "" {
				h.Set(relay.HeaderSignature, tt.sig)
			}
			if tt.ts != "" {
				h.Set(relay.HeaderTimestamp, tt.ts)
			}
			wantError(t, e.post(t, body, h), http.StatusUnauthorized, tt.wantCode)
		})
		wantCounts[tt.wantCode]++
	}
	e.wantNothingStored(t)
	for code, want := range wantCounts {
		if got := e.metric(t, "tagihan_relay_signature_failures_total", `code="`+code+`"`); got != want {
			t.Errorf("signature_failures_total{code=%q} = %v, want %v", code, got, want)
		}
	}
	if got := e.metric(t, "tagihan_relay_received_total", `result="unauthorized",source="default"`); got != float64(len(tests)) {
		t.Errorf("received_total{unauthorized} = %v, want %d", got, len(tests))
	}
	logs := e.Logs.String()
	if strings.Contains(logs, primarySecret) || strings.Contains(logs, "INV-SIG-0001") {
		t.Errorf("logs hold a secret or a body:\n%s", logs)
	}
	// The same body, signed right, still goes in.
	e.deliver(t, body, "accepted")
}

func TestIngest_SignatureForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	primary, rotated := []byte(primarySecret), []byte(rotatedSecret)
	other := []byte("whsec_not-configured")
	tests := []struct {
		name string
		sign func(ts string, body []byte) (sig, tsHeader string)
		ts   func(now time.Time) string // default: Unix seconds of now
	}{
		{name: "t=,v1= (primary form)", sign: func(ts string, b []byte) (string, string) {
			return signature.SignatureHeader(primary, ts, b), ""
		}},
		{name: "t=,v1= with several v1 and other keys", sign: func(ts string, b []byte) (string, string) {
			return "t=" + ts + ",v0=legacy,v1=" + signature.Sign(other, ts, b) + ", v1=" + signature.Sign(primary, ts, b) + ",scheme=hmac", ""
		}},
		{name: "bare hex + X-TagihanAI-Timestamp", sign: func(ts string, b []byte) (string, string) {
			return signature.Sign(primary, ts, b), ts
		}},
		{name: "sha256=hex + X-TagihanAI-Timestamp", sign: func(ts string, b []byte) (string, string) {
			return "sha256=" + signature.Sign(primary, ts, b), ts
		}},
		{name: "v1=hex + X-TagihanAI-Timestamp", sign: func(ts string, b []byte) (string, string) {
			return "v1=" + signature.Sign(primary, ts, b), ts
		}},
		{name: "t= wins over X-TagihanAI-Timestamp", sign: func(ts string, b []byte) (string, string) {
			return signature.SignatureHeader(primary, ts, b), "1"
		}},
		{name: "13-digit millisecond timestamp", sign: func(ts string, b []byte) (string, string) {
			return signature.SignatureHeader(primary, ts, b), ""
		}, ts: func(now time.Time) string { return strconv.FormatInt(now.UnixMilli()+123, 10) }},
		{name: "exactly at the edge of the window", sign: func(ts string, b []byte) (string, string) {
			return signature.SignatureHeader(primary, ts, b), ""
		}, ts: func(now time.Time) string { return strconv.FormatInt(now.Add(-tolerance).Unix(), 10) }},
		{name: "rotated secret (second key)", sign: func(ts string, b []byte) (string, string) {
			return signature.SignatureHeader(rotated, ts, b), ""
		}},
		{name: "rotated secret, bare form", sign: func(ts string, b []byte) (string, string) {
			return signature.Sign(rotated, ts, b), ts
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("evt_form_%04d", i)
			body := fixture(t, "transaction.paid", fixtures.Options{EventID: id, Now: t0})
			ts := strconv.FormatInt(e.Clock.Now().Unix(), 10)
			if tt.ts != nil {
				ts = tt.ts(e.Clock.Now())
			}
			sig, tsHeader := tt.sign(ts, body)
			h := http.Header{relay.HeaderSignature: {sig}}
			if tsHeader != "" {
				h.Set(relay.HeaderTimestamp, tsHeader)
			}
			res := e.post(t, body, h)
			if res.Status != http.StatusOK || decode[ack](t, res) != (ack{"accepted", id}) {
				t.Fatalf("got %s, want 200 accepted %s", res, id)
			}
			if got := lowerKeys(e.storedEvent(t, id).Raw.Headers)["x-tagihanai-signature"]; got != sig {
				t.Errorf("stored signature header %q, want %q", got, sig)
			}
		})
	}
}
