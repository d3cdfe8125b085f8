package adminhttp

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Guard refuses, before routing, what no legitimate admin client sends:
// a Host the listener does not answer to (DNS rebinding) and a
// state-changing request from another site. It is safe for concurrent use.
type Guard struct {
	// CheckHost turns on the Host allow-list: loopback names (localhost,
	// 127.0.0.1, [::1] and the other loopback addresses, any port) and
	// AllowedHosts. serve sets it without RELAY_ADMIN_TOKEN, and with one
	// when RELAY_ADMIN_ALLOWED_HOSTS is set.
	CheckHost bool
	// AllowedHosts are the further names of the listener, as
	// ParseAllowedHosts returns them.
	AllowedHosts []string
}

// Middleware is the guard as Echo (pre-routing) middleware. It refuses
//
//   - any request whose Host is not allowed (when CheckHost), with 403
//     forbidden_host;
//   - any POST, PUT, PATCH or DELETE that CrossSite refuses, with 403
//     cross_site, on every path of the admin listener (/v1/ and /ui/ alike).
func (g *Guard) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if g.CheckHost && !HostAllowed(r.Host, g.AllowedHosts) {
			return relay.Errorf(relay.EFORBIDDENHOST,
				"this admin listener does not answer to that Host; use localhost or 127.0.0.1, or add the name to RELAY_ADMIN_ALLOWED_HOSTS")
		}
		if Unsafe(r.Method) {
			if err := CrossSite(r, c.Scheme()); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// Unsafe reports whether method changes state (POST, PUT, PATCH, DELETE,
// or anything unknown): the methods a cross-site request must never carry.
func Unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// CrossSite returns a cross_site error when r was sent by a page of another
// site: Sec-Fetch-Site is "cross-site" or "same-site", or an Origin header
// is present and is not the listener's own origin (scheme, the scheme the
// client reached us with, plus r.Host). An empty or a repeated Origin is
// refused too. It returns nil otherwise, including for clients that send
// neither header (curl, the CLI).
//
// "Origin: null" is what a browser sends for a same-origin form POST from
// a page served with "Referrer-Policy: no-referrer", which the console's
// pages are (Fetch, "serialize a request origin"); it is also what a
// sandboxed or file: page sends. It is accepted only when the browser
// vouches for the request with "Sec-Fetch-Site: same-origin" (or "none",
// a request the user made, not a page), a header no page can set; without
// that it is refused.
//
// This is the one cross-site rule of the admin listener; the console's form
// check calls it as well.
func CrossSite(r *http.Request, scheme string) error {
	site := strings.ToLower(strings.TrimSpace(r.Header.Get("Sec-Fetch-Site")))
	switch site {
	case "cross-site", "same-site":
		return relay.Errorf(relay.ECROSSSITE, "refused: the browser says this request came from another site (Sec-Fetch-Site: %s)", site)
	}
	origins := r.Header.Values("Origin")
	if len(origins) == 0 {
		return nil
	}
	if len(origins) == 1 && strings.TrimSpace(origins[0]) == "null" && (site == "same-origin" || site == "none") {
		return nil
	}
	if len(origins) > 1 || !sameOrigin(origins[0], scheme, r.Host) {
		return relay.Errorf(relay.ECROSSSITE, "refused: the request's Origin is not this admin listener")
	}
	return nil
}

// sameOrigin reports whether origin (an Origin header) is scheme://host.
func sameOrigin(origin, scheme, host string) bool {
	u, err := url.Parse(strings.TrimSpace(origin))
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	a, okA := canonicalHost(u.Host, scheme)
	b, okB := canonicalHost(host, scheme)
	return okA && okB && a == b
}

// canonicalHost lower-cases hostport and drops the scheme's default port.
func canonicalHost(hostport, scheme string) (string, bool) {
	host, port, err := splitHostPort(hostport)
	if err != nil {
		return "", false
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	return joinHostPort(host, port), true
}

// HostAllowed reports whether hostport (a Host header) names the admin
// listener: a loopback name or address at any port, or one of allowed
// (entries without a port match any port, entries with one only that).
// An empty or malformed Host is never allowed.
func HostAllowed(hostport string, allowed []string) bool {
	host, port, err := splitHostPort(hostport)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, a := range allowed {
		ah, ap, _ := splitHostPort(a)
		if ah == host && (ap == "" || ap == port) {
			return true
		}
	}
	return false
}

// ParseAllowedHosts validates RELAY_ADMIN_ALLOWED_HOSTS entries ("name",
// "name:port", "[v6]" or "[v6]:port") and returns them lower-cased.
// Empty entries are dropped.
func ParseAllowedHosts(entries []string) ([]string, error) {
	var out []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		host, port, err := splitHostPort(e)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", e, err)
		}
		if host == "" || strings.ContainsAny(host, "/\\@?#*%") || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("%q: not a host name (give a name such as relay.internal or relay.internal:8081, no scheme or path)", e)
		}
		out = append(out, joinHostPort(host, port))
	}
	return out, nil
}

var errBadPort = errors.New("the port must be a number from 1 to 65535")

// splitHostPort splits a Host value whose port is optional, lower-casing
// the host and removing IPv6 brackets.
func splitHostPort(hostport string) (host, port string, err error) {
	hostport = strings.ToLower(hostport)
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", "", errors.New("missing ] in an IPv6 address")
		}
		var rest string
		host, rest = hostport[1:end], hostport[end+1:]
		if net.ParseIP(host) == nil || strings.Contains(host, ".") && !strings.Contains(host, ":") {
			return "", "", errors.New("not an IPv6 address in brackets")
		}
		switch {
		case rest == "":
			return host, "", nil
		case strings.HasPrefix(rest, ":"):
			port = rest[1:]
		default:
			return "", "", errors.New("unexpected text after the IPv6 address")
		}
	} else {
		var found bool
		host, port, found = strings.Cut(hostport, ":")
		if !found {
			return host, "", nil
		}
		if strings.Contains(port, ":") {
			return "", "", errors.New("an IPv6 address needs brackets, as in [::1]:8081")
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", "", errBadPort
	}
	return host, port, nil
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}
