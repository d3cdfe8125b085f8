package signature_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

func TestExplain(t *testing.T) {
	keys := [][]byte{keyCurrent, keyPrevious}
	cur := signature.Sign(keyCurrent, testTS, testBody)[:12]
	prev := signature.Sign(keyPrevious, testTS, testBody)[:12]
	stranger := signature.Sign(keyStranger, testTS, testBody)[:12]
	stale := unix(-time.Hour)

	tests := []struct {
		name    string
		mutate  func(d *delivery)
		want    signature.Report
		wantOut []string // lines String must contain
	}{
		{"OK", func(d *delivery) {}, signature.Report{
			OK: true, Form: "t,v1", Timestamp: testTS, Time: testNow, Tolerance: testTolerance,
			Received: []string{cur}, Expected: []string{cur, prev}, MatchedSecret: 0,
		}, []string{"verdict:   OK (signature matches secret #1)", "skew:      just now (now - t = 0s, tolerance ±5m0s): within the window", "expected:  secret #1 " + cur + "… (matches)"}},
		{"Rotation", func(d *delivery) {
			d.sig, d.ts = signature.Sign(keyPrevious, testTS, d.body), testTS
		}, signature.Report{
			OK: true, Form: "bare", Timestamp: testTS, Time: testNow, Tolerance: testTolerance,
			Received: []string{prev}, Expected: []string{cur, prev}, MatchedSecret: 1,
		}, []string{"form:      <hex> (timestamp from X-TagihanAI-Timestamp)", "secret #2 " + prev + "… (matches)"}},
		{"WrongSecret", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyStranger, testTS, d.body)
		}, signature.Report{
			Code: "signature_mismatch", Err: signature.ErrNoValidSignature,
			Form: "t,v1", Timestamp: testTS, Time: testNow, Tolerance: testTolerance,
			Received: []string{stranger}, Expected: []string{cur, prev}, MatchedSecret: -1,
		}, []string{"verdict:   FAIL signature_mismatch", "received:  #1 " + stranger + "…", "TAGIHANAI_SECRET_ENCODING"}},
		{"StaleButRightSecret", func(d *delivery) {
			d.sig = signature.SignatureHeader(keyCurrent, stale, d.body)
		}, signature.Report{
			Code: "timestamp_out_of_tolerance", Err: signature.ErrTooOld,
			Form: "t,v1", Timestamp: stale, Time: testNow.Add(-time.Hour), Skew: time.Hour, Tolerance: testTolerance,
			Received:      []string{signature.Sign(keyCurrent, stale, testBody)[:12]},
			Expected:      []string{signature.Sign(keyCurrent, stale, testBody)[:12], signature.Sign(keyPrevious, stale, testBody)[:12]},
			MatchedSecret: 0,
		}, []string{"skew:      1 hour in the past (now - t = 1h0m0s, tolerance ±5m0s): too old", "signature is right (secret #1)"}},
		{"Missing", func(d *delivery) { d.sig = "" }, signature.Report{
			Code: "missing_signature", Err: signature.ErrMissingSignature, Tolerance: testTolerance, MatchedSecret: -1,
		}, []string{"form:      none"}},
		{"NoTimestamp", func(d *delivery) { d.sig = hexOf(d.sig) }, signature.Report{
			Code: "malformed_signature", Err: signature.ErrMalformedHeader, Form: "bare", Tolerance: testTolerance,
			Received: []string{cur}, MatchedSecret: -1,
		}, []string{"timestamp: none", "X-TagihanAI-Timestamp header"}},
		{"Unrecognized", func(d *delivery) { d.sig = "t=1,t=2" }, signature.Report{
			Code: "malformed_signature", Err: signature.ErrMalformedHeader, Tolerance: testTolerance, MatchedSecret: -1,
		}, []string{"form:      not recognized"}},
		{"Truncated", func(d *delivery) { d.sig = d.sig[:len(d.sig)-4] }, signature.Report{
			Code: "malformed_signature", Err: signature.ErrMalformedHeader,
			Form: "t,v1", Timestamp: testTS, Time: testNow, Tolerance: testTolerance,
			Expected: []string{cur, prev}, MatchedSecret: -1,
		}, []string{"received:  no signature is a 64-character hex SHA-256 digest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDelivery()
			tt.mutate(&d)
			got := signature.Explain(d.sig, d.ts, d.body, keys, testTolerance, testNow)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("Explain mismatch (-want +got):\n%s", diff)
			}
			out := got.String()
			for _, line := range tt.wantOut {
				if !strings.Contains(out, line) {
					t.Errorf("String() lacks %q:\n%s", line, out)
				}
			}
			for _, secret := range [][]byte{keyCurrent, keyPrevious, keyStranger, d.body} {
				if strings.Contains(out, string(secret)) {
					t.Errorf("String() prints a secret or the body:\n%s", out)
				}
			}
		})
	}
}

func TestAge(t *testing.T) {
	for _, tt := range []struct {
		skew time.Duration
		want string
	}{
		{0, "just now"},
		{40 * time.Second, "40 seconds in the past"},
		{-time.Second, "1 second in the future"},
		{5*time.Minute + 3*time.Second, "5 minutes 3 seconds in the past"},
		{-(3*time.Hour + 12*time.Minute), "3 hours 12 minutes in the future"},
		{8055*time.Hour + 3*time.Minute + 14*time.Second, "335 days in the past"},
	} {
		if got := signature.Age(tt.skew); got != tt.want {
			t.Errorf("Age(%v) = %q, want %q", tt.skew, got, tt.want)
		}
	}
}
