package signature_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// FuzzParseSignatureHeader feeds arbitrary header pairs to ParseHeader and
// Verify. Its seed corpus is testdata/fuzz/FuzzParseSignatureHeader; run
// `go test -fuzz=FuzzParseSignatureHeader ./relay/signature/` to search.
func FuzzParseSignatureHeader(f *testing.F) {
	f.Add(signature.SignatureHeader(keyCurrent, testTS, testBody), "")
	f.Add("t=1767225600,v1="+hexA+",v1="+hexB+",v0=zz", "1700000000")
	f.Add(hexA, testTS)
	f.Add("sha256="+hexA, "1767225600000")
	f.Add("v1= "+hexA+" ,", " 1767225600 ")
	f.Add(",=,t=,v1", "")

	v := signature.NewVerifier([][]byte{keyCurrent}, testTolerance).WithClock(func() time.Time { return testNow })
	f.Fuzz(func(t *testing.T, sig, ts string) {
		h, err := signature.ParseHeader(sig, ts)
		verr := v.Verify(sig, ts, testBody)
		// The header pre-check the handler runs before reading the body
		// agrees with Verify: it fails the same way, or VerifyBody does.
		if c, cerr := v.CheckHeader(sig, ts); cerr != nil {
			if signature.Code(cerr) != signature.Code(verr) {
				t.Fatalf("CheckHeader: %v, but Verify: %v", cerr, verr)
			}
		} else if berr := v.VerifyBody(c, testBody); signature.Code(berr) != signature.Code(verr) {
			t.Fatalf("CheckHeader+VerifyBody: %v, but Verify: %v", berr, verr)
		}
		if err != nil {
			if !errors.Is(err, signature.ErrMissingSignature) && !errors.Is(err, signature.ErrMalformedHeader) {
				t.Fatalf("ParseHeader error %v is neither missing nor malformed", err)
			}
			// Verify must fail the same way before it looks at anything else.
			if signature.Code(verr) != signature.Code(err) {
				t.Fatalf("ParseHeader: %v, but Verify: %v", err, verr)
			}
			return
		}
		switch h.Form {
		case "t,v1", "bare", "sha256=", "v1=":
		default:
			t.Fatalf("unknown form %q", h.Form)
		}
		if h.Timestamp == "" {
			t.Fatal("nil error without a timestamp")
		}
		if _, err := signature.ParseTimestamp(h.Timestamp); err != nil {
			t.Fatalf("timestamp %q does not parse: %v", h.Timestamp, err)
		}
		if len(h.Signatures) == 0 {
			t.Fatal("nil error without a signature")
		}
		for _, s := range h.Signatures {
			if len(s) != 32 {
				t.Fatalf("signature of %d bytes", len(s))
			}
		}
		if errors.Is(verr, signature.ErrMissingSignature) || errors.Is(verr, signature.ErrMalformedHeader) {
			t.Fatalf("ParseHeader accepted what Verify calls %v", verr)
		}
		// Re-signing the parsed timestamp in the primary form must verify
		// (inside the window) and parse back to the same timestamp.
		resigned := signature.SignatureHeader(keyCurrent, h.Timestamp, testBody)
		back, err := signature.ParseHeader(resigned, "")
		if err != nil || back.Timestamp != h.Timestamp {
			t.Fatalf("re-signed header %q: %+v, %v", resigned, back, err)
		}
		if err := v.Verify(resigned, "", testBody); err != nil && signature.Code(err) != "timestamp_out_of_tolerance" {
			t.Fatalf("re-signed header %q: Verify = %v", resigned, err)
		}
	})
}
