package adminhttp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// errCrossSite matches any cross_site error (an *relay.Error without a
// message matches by code).
var errCrossSite = &relay.Error{Code: relay.ECROSSSITE}

func TestHostAllowed(t *testing.T) {
	allowed, err := ParseAllowedHosts([]string{" Relay.Internal ", "ops.example:9000", "[fd00::7]", ""})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"relay.internal", "ops.example:9000", "[fd00::7]"}, allowed); diff != "" {
		t.Fatalf("ParseAllowedHosts (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"localhost", true}, {"localhost:8081", true}, {"LocalHost:1", true},
		{"127.0.0.1", true}, {"127.0.0.1:8081", true}, {"127.9.9.9:8081", true},
		{"[::1]", true}, {"[::1]:8081", true},
		{"relay.internal:8081", true}, {"RELAY.INTERNAL", true},
		{"ops.example:9000", true}, {"ops.example:9001", false}, {"ops.example", false},
		{"[fd00::7]:8081", true}, {"[fd00::8]:8081", false},
		{"", false}, {":8081", false}, {"evil.example", false}, {"evil.example:8081", false},
		{"localhost.evil.example", false}, {"relay.internal.evil.example", false}, {"127.0.0.1.nip.io", false},
		{"localhost:0", false}, {"localhost:65536", false}, {"localhost:80x", false}, {"localhost:+80", false},
		{"::1", false}, {"[::1", false}, {"[::1]x", false}, {"[127.0.0.1]", false}, {"10.0.0.1:8081", false},
	} {
		if got := HostAllowed(tt.host, allowed); got != tt.want {
			t.Errorf("HostAllowed(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	for _, bad := range []string{"http://relay.internal", "relay.internal/ui", "user@relay.internal", "relay.internal:port", "fd00::7", "*.example", "a b"} {
		if _, err := ParseAllowedHosts([]string{bad}); err == nil {
			t.Errorf("ParseAllowedHosts(%q): no error", bad)
		}
	}
}

func TestCrossSite(t *testing.T) {
	for _, tt := range []struct {
		name    string
		scheme  string
		host    string
		headers map[string]string
		wantErr error
	}{
		{"NoHeaders", "http", "127.0.0.1:8081", nil, nil},
		{"SameOrigin", "http", "127.0.0.1:8081", map[string]string{"Origin": "http://127.0.0.1:8081", "Sec-Fetch-Site": "same-origin"}, nil},
		{"UserTyped", "http", "localhost:8081", map[string]string{"Sec-Fetch-Site": "none"}, nil},
		{"DefaultPortHTTP", "http", "relay.example", map[string]string{"Origin": "http://relay.example:80"}, nil},
		{"DefaultPortHTTPS", "https", "relay.example:443", map[string]string{"Origin": "https://Relay.Example"}, nil},
		{"IPv6", "http", "[::1]:8081", map[string]string{"Origin": "http://[::1]:8081"}, nil},
		{"CrossSite", "http", "127.0.0.1:8081", map[string]string{"Sec-Fetch-Site": "cross-site"}, errCrossSite},
		{"SameSite", "http", "127.0.0.1:8081", map[string]string{"Sec-Fetch-Site": "Same-Site"}, errCrossSite},
		{"OtherOrigin", "http", "127.0.0.1:8081", map[string]string{"Origin": "http://evil.example"}, errCrossSite},
		{"OtherOriginDespiteSameOrigin", "http", "127.0.0.1:8081", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"}, errCrossSite},
		{"OtherPort", "http", "127.0.0.1:8081", map[string]string{"Origin": "http://127.0.0.1:8080"}, errCrossSite},
		{"OtherScheme", "http", "127.0.0.1:8081", map[string]string{"Origin": "https://127.0.0.1:8081"}, errCrossSite},
		{"HTTPSPageToHTTP", "https", "relay.example", map[string]string{"Origin": "http://relay.example"}, errCrossSite},
		{"Null", "http", "127.0.0.1:8081", map[string]string{"Origin": "null"}, errCrossSite},
		// A same-origin form POST from a no-referrer page (the console's).
		{"NullSameOrigin", "http", "127.0.0.1:8081", map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, nil},
		// A sandboxed frame of another site: opaque origin, cross-site.
		{"NullCrossSite", "http", "127.0.0.1:8081", map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, errCrossSite},
		{"Empty", "http", "127.0.0.1:8081", map[string]string{"Origin": ""}, errCrossSite},
		{"WithPath", "http", "127.0.0.1:8081", map[string]string{"Origin": "http://127.0.0.1:8081/"}, errCrossSite},
		{"WithUser", "http", "127.0.0.1:8081", map[string]string{"Origin": "http://a@127.0.0.1:8081"}, errCrossSite},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/import", nil)
			r.Host = tt.host
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if err := CrossSite(r, tt.scheme); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("CrossSite = %v, want %v", err, tt.wantErr)
			}
		})
	}
	t.Run("TwoOrigins", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/v1/import", nil)
		r.Host = "127.0.0.1:8081"
		r.Header.Add("Origin", "http://127.0.0.1:8081")
		r.Header.Add("Origin", "http://evil.example")
		if err := CrossSite(r, "http"); !errors.Is(err, errCrossSite) {
			t.Fatalf("CrossSite = %v, want cross_site", err)
		}
	})
}

func TestParseTrustedProxies(t *testing.T) {
	p, err := ParseTrustedProxies([]string{" 10.0.0.0/8", "", "2001:db8::/32 "})
	if err != nil || len(p) != 2 || p[0].String() != "10.0.0.0/8" || p[1].String() != "2001:db8::/32" {
		t.Fatalf("ParseTrustedProxies = %v, %v", p, err)
	}
	for _, bad := range []string{"10.0.0.1", "10.0.0.0/33", "proxy.internal", "10.0.0.0/8/1"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("ParseTrustedProxies(%q): no error", bad)
		}
	}
}
