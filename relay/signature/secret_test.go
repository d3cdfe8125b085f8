package signature_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// From the Standard Webhooks reference test suite.
const (
	standardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	standardKeyB64 = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

var standardKeyBytes = []byte{
	0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a, 0xab, 0x4f, 0x08, 0xd4,
	0x3c, 0x3f, 0x08, 0x2c, 0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0,
}

func TestDecodeSecret(t *testing.T) {
	tests := []struct {
		name, secret, encoding string
		want                   []byte
		wantErr                bool
	}{
		{"RawDefault", standardSecret, "", []byte(standardSecret), false},
		{"Raw", standardSecret, "raw", []byte(standardSecret), false},
		{"RawKeepsWhitespace", " s3cret ", "RAW", []byte(" s3cret "), false},
		{"Base64", standardSecret, "base64", standardKeyBytes, false},
		{"Base64NoPrefix", standardKeyB64, "base64", standardKeyBytes, false},
		{"Base64CaseInsensitive", standardSecret, "Base64", standardKeyBytes, false},
		{"Base64Padded", "whsec_YWJjZA==", "base64", []byte("abcd"), false},
		{"Base64Unpadded", "whsec_YWJjZA", "base64", []byte("abcd"), false},
		{"Base64NotBase64", "whsec_not*base64!", "base64", nil, true},
		{"Base64URLAlphabet", "whsec_-_-_", "base64", nil, true},
		{"Base64Empty", "whsec_", "base64", nil, true},
		{"Empty", "", "", nil, true},
		{"UnknownEncoding", "s3cret", "hex", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := signature.DecodeSecret(tt.secret, tt.encoding)
			if (err != nil) != tt.wantErr {
				t.Fatalf("DecodeSecret error = %v, wantErr %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("DecodeSecret = %x, want %x", got, tt.want)
			}
			if secret := strings.TrimPrefix(tt.secret, "whsec_"); err != nil && secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q names the secret", err)
			}
		})
	}
}

func TestStandardKey(t *testing.T) {
	tests := []struct {
		name, secret string
		want         []byte
		wantErr      bool
	}{
		{"OK", standardSecret, standardKeyBytes, false},
		{"Unpadded", "whsec_YWJjZA", []byte("abcd"), false},
		{"NoPrefix", standardKeyB64, nil, true},
		{"NotBase64", "whsec_%%%%", nil, true},
		{"Empty", "whsec_", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := signature.StandardKey(tt.secret)
			if (err != nil) != tt.wantErr {
				t.Fatalf("StandardKey error = %v, wantErr %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("StandardKey = %x, want %x", got, tt.want)
			}
			if secret := strings.TrimPrefix(tt.secret, "whsec_"); err != nil && secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q names the secret", err)
			}
		})
	}
}
