package httpforward

import (
	"net"
	"net/http"
	"time"
)

// NewTransport returns the outbound Transport the relay builds once and
// shares between all HTTP-speaking sinks, so connections to one destination
// are pooled and reused across workers.
//
// It keeps up to 64 idle connections per host (256 in all) for 90 s, bounds
// dialing (30 s) and TLS handshakes (10 s), tries HTTP/2, and honours the
// usual proxy variables (HTTPS_PROXY, NO_PROXY). It sets no response header
// timeout: each attempt's context, carrying the sink's TIMEOUT, governs how
// long a request may take.
func NewTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}
