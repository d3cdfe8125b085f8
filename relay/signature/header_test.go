package signature_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

const (
	hexA = "a62b7427173685556dfbf8961a1fe4339d954f0a5d57fd7a56ba8af01d63b832"
	hexB = "0000000000000000000000000000000000000000000000000000000000000001"
)

func digest(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad test digest %q", s)
	}
	return b
}

func TestParseHeader(t *testing.T) {
	a, b := digest(t, hexA), digest(t, hexB)
	tests := []struct {
		name    string
		sig, ts string
		want    signature.Header
		wantErr error
	}{
		{"TV1", "t=1767225600,v1=" + hexA, "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"V1First", "v1=" + hexA + ",t=1767225600", "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"RepeatedV1", "t=1767225600,v1=" + hexA + ",v1=" + hexB, "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{a, b}}, nil},
		{"TWinsOverTimestampHeader", "t=1767225600,v1=" + hexA, "1700000000",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"Whitespace", " t = 1767225600 ,\tv1 = " + hexA + " ", "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"UppercaseHex", "t=1767225600,v1=" + strings.ToUpper(hexA), "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"OtherKeysIgnored", "t=1767225600,v0=dead,foo=,v1=" + hexA + ",sha256=" + hexB, "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"EmptyPartsSkipped", ",t=1767225600,,v1=" + hexA + ",", "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"InvalidV1Ignored", "t=1767225600,v1=" + hexA[:62] + ",v1=nothex,v1=" + hexB, "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600", Signatures: [][]byte{b}}, nil},
		{"Milliseconds", "t=1767225600000,v1=" + hexA, "",
			signature.Header{Form: "t,v1", Timestamp: "1767225600000", Signatures: [][]byte{a}}, nil},
		{"Bare", hexA, "1767225600",
			signature.Header{Form: "bare", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"BareTimestampHeaderTrimmed", " " + hexA + " ", " 1767225600 ",
			signature.Header{Form: "bare", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"SHA256", "sha256=" + hexA, "1767225600",
			signature.Header{Form: "sha256=", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"SHA256Uppercase", "SHA256=" + strings.ToUpper(hexA), "1767225600",
			signature.Header{Form: "sha256=", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"V1", "v1=" + hexA, "1767225600",
			signature.Header{Form: "v1=", Timestamp: "1767225600", Signatures: [][]byte{a}}, nil},
		{"V1Repeated", "v1=" + hexA + ", v1=" + hexB, "1767225600",
			signature.Header{Form: "v1=", Timestamp: "1767225600", Signatures: [][]byte{a, b}}, nil},

		{"Empty", "", "1767225600", signature.Header{}, signature.ErrMissingSignature},
		{"Blank", "   ", "", signature.Header{}, signature.ErrMissingSignature},
		{"Garbage", "garbage", "1767225600", signature.Header{}, signature.ErrMalformedHeader},
		{"BareTruncated", hexA[:63], "1767225600", signature.Header{}, signature.ErrMalformedHeader},
		{"BareTooLong", hexA + "00", "1767225600", signature.Header{}, signature.ErrMalformedHeader},
		{"BareNoTimestamp", hexA, "", signature.Header{}, signature.ErrMalformedHeader},
		{"V1NoTimestamp", "v1=" + hexA, "", signature.Header{}, signature.ErrMalformedHeader},
		{"SHA256NoTimestamp", "sha256=" + hexA, "", signature.Header{}, signature.ErrMalformedHeader},
		{"SHA256InList", "sha256=" + hexA + ",foo=bar", "1767225600", signature.Header{}, signature.ErrMalformedHeader},
		{"TOnly", "t=1767225600", "", signature.Header{}, signature.ErrMalformedHeader},
		{"TEmpty", "t=,v1=" + hexA, "1767225600", signature.Header{}, signature.ErrMalformedHeader},
		{"TRepeated", "t=1767225600,t=1767225600,v1=" + hexA, "", signature.Header{}, signature.ErrMalformedHeader},
		{"TNotDecimal", "t=1767225600.5,v1=" + hexA, "", signature.Header{}, signature.ErrMalformedHeader},
		{"TPlus", "t=+1767225600,v1=" + hexA, "", signature.Header{}, signature.ErrMalformedHeader},
		{"TimestampHeaderNotDecimal", hexA, "2026-01-01T00:00:00Z", signature.Header{}, signature.ErrMalformedHeader},
		{"AllV1Invalid", "t=1767225600,v1=" + hexA[:62] + ",v1=", "", signature.Header{}, signature.ErrMalformedHeader},
		{"PartWithoutEquals", "t=1767225600,v1=" + hexA + ",junk", "", signature.Header{}, signature.ErrMalformedHeader},
		{"Base64Digest", "t=1767225600,v1=pit0JxcxhVVt+/iWGh/kM52VTwpdV/16VrqK8B1juDI=", "", signature.Header{}, signature.ErrMalformedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := signature.ParseHeader(tt.sig, tt.ts)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("ParseHeader(%q, %q) error = %v, want %v", tt.sig, tt.ts, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseHeader(%q, %q) mismatch (-want +got):\n%s", tt.sig, tt.ts, diff)
			}
		})
	}
}

func TestParseHeader_RoundTrip(t *testing.T) {
	h, err := signature.ParseHeader(signature.SignatureHeader(keyCurrent, testTS, testBody), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(h.Signatures[0]), signature.Sign(keyCurrent, testTS, testBody); got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr error
	}{
		{"1767225600", time.Unix(1767225600, 0), nil},
		{"0", time.Unix(0, 0), nil},
		{"01767225600", time.Unix(1767225600, 0), nil},
		{"1767225600123", time.UnixMilli(1767225600123), nil},
		{"9999999999999", time.UnixMilli(9999999999999), nil},
		{"253402300799", time.Unix(253402300799, 0), nil},
		{"253402300800", time.Time{}, signature.ErrMalformedHeader},
		{"99999999999999999999", time.Time{}, signature.ErrMalformedHeader},
		{"", time.Time{}, signature.ErrMalformedHeader},
		{" 1767225600", time.Time{}, signature.ErrMalformedHeader},
		{"-1", time.Time{}, signature.ErrMalformedHeader},
		{"+1", time.Time{}, signature.ErrMalformedHeader},
		{"1e9", time.Time{}, signature.ErrMalformedHeader},
		{"1767225600.0", time.Time{}, signature.ErrMalformedHeader},
		{"١٢٣", time.Time{}, signature.ErrMalformedHeader}, // Arabic-Indic digits
	}
	for _, tt := range tests {
		got, err := signature.ParseTimestamp(tt.in)
		if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("ParseTimestamp(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseTimestamp(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
