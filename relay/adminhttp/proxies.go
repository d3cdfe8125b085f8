package adminhttp

import (
	"fmt"
	"net"
	"strings"

	"github.com/labstack/echo/v4"
)

// TrustedProxies are the peers (RELAY_TRUSTED_PROXIES) whose
// X-Forwarded-For and X-Forwarded-Proto are believed. The zero value trusts
// nobody: the client address is the TCP peer and the scheme is that of the
// connection.
type TrustedProxies []*net.IPNet

// ParseTrustedProxies parses comma-separated CIDRs ("10.0.0.0/8",
// "192.0.2.7/32", "fd00::/8"). Empty entries are dropped; anything else
// that is not a CIDR is an error naming the entry.
func ParseTrustedProxies(entries []string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		_, n, err := net.ParseCIDR(e)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR (write a single address as 192.0.2.7/32)", e)
		}
		out = append(out, n)
	}
	return out, nil
}

// options are Echo's trust options for exactly these ranges: Echo's
// defaults (loopback, link-local and private networks) are turned off.
func (p TrustedProxies) options() []echo.TrustOption {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range p {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return opts
}

// Configure sets e's IP and scheme extractors, so that c.RealIP() and
// c.Scheme() read X-Forwarded-For and X-Forwarded-Proto only from a
// trusted proxy, and ignore them from anyone else.
func (p TrustedProxies) Configure(e *echo.Echo) {
	if len(p) == 0 {
		e.IPExtractor = echo.ExtractIPDirect()
		e.SchemeExtractor = echo.ExtractSchemeDirect()
		return
	}
	e.IPExtractor = echo.ExtractIPFromXFFHeader(p.options()...)
	e.SchemeExtractor = echo.ExtractSchemeFromHeaders(p.options()...)
}
