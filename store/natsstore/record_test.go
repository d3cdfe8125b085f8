package natsstore

import (
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestRawRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		ce      []byte
	}{
		{"Full", map[string]string{"X-Tagihanai-Signature": "t=1,v1=ab", "Content-Type": "application/json"}, []byte("{\"id\": 1}\n"), []byte(`{"specversion":"1.0"}`)},
		{"NoHeadersNoEvent", nil, []byte("\x00\xff binary"), nil},
		{"EmptyBody", map[string]string{"A": ""}, nil, []byte(`{}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, body, ce, err := decodeRaw(encodeRaw(&relay.Delivery{Headers: tt.headers, Body: tt.body}, tt.ce))
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != len(tt.headers) || string(body) != string(tt.body) || string(ce) != string(tt.ce) {
				t.Errorf("got %v %q %q", h, body, ce)
			}
			for k, v := range tt.headers {
				if h[k] != v {
					t.Errorf("header %s = %q, want %q", k, h[k], v)
				}
			}
		})
	}
	if _, _, _, err := decodeRaw([]byte{1, 5}); err == nil {
		t.Error("decodeRaw of a truncated value succeeded")
	}
}
