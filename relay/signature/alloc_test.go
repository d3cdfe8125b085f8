//go:build !race

// The race detector makes sync.Pool drop items on purpose, so allocation
// counts only mean something without it.

package signature_test

import (
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

func TestVerifier_VerifyAllocs(t *testing.T) {
	v := signature.NewVerifier([][]byte{keyCurrent, keyPrevious}, testTolerance).WithClock(func() time.Time { return testNow })
	sig := signature.SignatureHeader(keyPrevious, testTS, testBody)
	tests := []struct{ name, sig, ts string }{
		{"OK", sig, ""},
		{"Mismatch", signature.SignatureHeader(keyStranger, testTS, testBody), ""},
		{"Malformed", "t=1,v1=zz", ""},
		{"TooOld", "t=1," + sig[len("t="+testTS+","):], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v.Verify(tt.sig, tt.ts, testBody) // fill the pools
			if n := testing.AllocsPerRun(100, func() { v.Verify(tt.sig, tt.ts, testBody) }); n != 0 {
				t.Errorf("Verify allocates %v times per call, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() {
				if c, err := v.CheckHeader(tt.sig, tt.ts); err == nil {
					_ = v.VerifyBody(c, testBody)
				}
			}); n != 0 {
				t.Errorf("CheckHeader+VerifyBody allocate %v times per call, want 0", n)
			}
		})
	}
}
