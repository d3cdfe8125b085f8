package httpforward_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
)

// TestSink_Deliver_RequestCannotBeBuilt: an event whose id (or, in raw mode,
// a kept TagihanAI header) is not a valid header value is a permanent
// failure with the reason, never sent and never retried for a day.
func TestSink_Deliver_RequestCannotBeBuilt(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		cfg  httpforward.Config
		out  func() *relay.Outbound
	}{
		{"id with SOH", httpforward.Config{URL: srv.URL}, withID("evt_\x01")},
		{"id with newline, signed", httpforward.Config{URL: srv.URL, SigningSecret: testSecret}, withID("evt\r\nX-Evil: 1")},
		{"raw header with NUL", httpforward.Config{URL: srv.URL, Mode: httpforward.ModeRaw}, func() *relay.Outbound {
			o := NewOutbound("evt_ok_1")
			o.Delivery.Headers["X-TagihanAI-Delivery-Id"] = "dlv\x00"
			return o
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			res := MustNewSink(t, tt.cfg).Deliver(context.Background(), tt.out())
			if res.Outcome != relay.OutcomePermanent {
				t.Fatalf("outcome %v (%s), want permanent", res.Outcome, res.Reason)
			}
			if !strings.Contains(res.Reason, "cannot build the request") {
				t.Errorf("reason %q does not say the request cannot be built", res.Reason)
			}
			if strings.ContainsAny(res.Reason, "\x00\x01\r\n") {
				t.Errorf("reason %q holds a control character", res.Reason)
			}
			if hits.Load() != before {
				t.Error("the request was sent")
			}
		})
	}
	// A valid event still goes out.
	if res := MustNewSink(t, httpforward.Config{URL: srv.URL}).Deliver(context.Background(), NewOutbound("evt_ok_2")); res.Outcome != relay.OutcomeDelivered {
		t.Fatalf("valid event: %v %s", res.Outcome, res.Reason)
	}
}

// withID is a valid outbound event whose id is then replaced (as stored
// before ids were checked at ingest, or imported).
func withID(id string) func() *relay.Outbound {
	return func() *relay.Outbound {
		o := NewOutbound("evt_placeholder")
		o.EventID = id
		return o
	}
}
