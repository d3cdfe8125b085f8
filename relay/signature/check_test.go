package signature_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// TestVerifier_CheckHeader: every failure that needs no body is found by
// CheckHeader, the same as Verify reports it; what passes it is settled by
// VerifyBody over the body.
func TestVerifier_CheckHeader(t *testing.T) {
	v := signature.NewVerifier([][]byte{keyCurrent, keyPrevious}, testTolerance).WithClock(func() time.Time { return testNow })
	good := signature.SignatureHeader(keyPrevious, testTS, testBody)
	ts := func(d time.Duration) string { return signature.SignatureHeader(keyCurrent, unix(d), testBody) }
	tests := []struct {
		name       string
		sig, ts    string
		wantHeader error // from CheckHeader
		wantBody   error // from VerifyBody, when the header passed
	}{
		{name: "OK", sig: good},
		{name: "OK bare with timestamp header", sig: good[len("t="+testTS+",v1="):], ts: testTS},
		{name: "Missing", sig: "", wantHeader: signature.ErrMissingSignature},
		{name: "Blank", sig: "  ", wantHeader: signature.ErrMissingSignature},
		{name: "Malformed", sig: "t=1767225600,v1=zz", wantHeader: signature.ErrMalformedHeader},
		{name: "No timestamp", sig: good[len("t="+testTS+","):], wantHeader: signature.ErrMalformedHeader},
		{name: "Stale", sig: ts(-testTolerance - time.Second), wantHeader: signature.ErrTooOld},
		{name: "Future", sig: ts(testTolerance + time.Second), wantHeader: signature.ErrTooNew},
		{name: "Edge of window", sig: ts(-testTolerance)},
		{name: "Wrong secret", sig: signature.SignatureHeader(keyStranger, testTS, testBody), wantBody: signature.ErrNoValidSignature},
		{name: "Other body", sig: signature.SignatureHeader(keyCurrent, testTS, []byte("{}")), wantBody: signature.ErrNoValidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.CheckHeader(tt.sig, tt.ts)
			if !errors.Is(err, tt.wantHeader) || (tt.wantHeader == nil && err != nil) {
				t.Fatalf("CheckHeader = %v, want %v", err, tt.wantHeader)
			}
			verr := v.Verify(tt.sig, tt.ts, testBody)
			if err != nil {
				if signature.Code(verr) != signature.Code(err) {
					t.Fatalf("Verify = %v, CheckHeader = %v", verr, err)
				}
				if berr := v.VerifyBody(c, testBody); berr == nil {
					t.Fatal("VerifyBody passed the Checked of a failed CheckHeader")
				}
				return
			}
			berr := v.VerifyBody(c, testBody)
			if !errors.Is(berr, tt.wantBody) || (tt.wantBody == nil && berr != nil) {
				t.Fatalf("VerifyBody = %v, want %v", berr, tt.wantBody)
			}
			if signature.Code(verr) != signature.Code(berr) {
				t.Fatalf("Verify = %v, VerifyBody = %v", verr, berr)
			}
		})
	}
	if err := v.VerifyBody(signature.Checked{}, testBody); !errors.Is(err, signature.ErrMalformedHeader) {
		t.Fatalf("VerifyBody(zero Checked) = %v, want malformed", err)
	}
}
