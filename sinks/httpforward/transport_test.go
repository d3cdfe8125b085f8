package httpforward_test

import (
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
)

func TestNewTransport(t *testing.T) {
	tr := httpforward.NewTransport()
	defer tr.CloseIdleConnections()
	if tr.MaxIdleConnsPerHost < 8 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
		t.Errorf("idle pool %d/%d per host is too small to reuse connections", tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	}
	if tr.IdleConnTimeout <= 0 || tr.TLSHandshakeTimeout <= 0 || tr.TLSHandshakeTimeout > 30*time.Second {
		t.Errorf("IdleConnTimeout %v, TLSHandshakeTimeout %v: want both bounded", tr.IdleConnTimeout, tr.TLSHandshakeTimeout)
	}
	if tr.ResponseHeaderTimeout != 0 {
		t.Errorf("ResponseHeaderTimeout = %v, want 0: the attempt's context governs", tr.ResponseHeaderTimeout)
	}
	if !tr.ForceAttemptHTTP2 {
		t.Error("ForceAttemptHTTP2 = false")
	}
	if tr.DialContext == nil || tr.Proxy == nil {
		t.Error("DialContext or Proxy unset")
	}
}
