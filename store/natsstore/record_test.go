package natsstore

import (
	"strings"
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

// TestRecord_oldFormatSource: a record written before events carried their
// source (no "src" member) reads as the environment's, in GetEvent's
// summary and in the view that lists and filters.
func TestRecord_oldFormatSource(t *testing.T) {
	old := []byte(`{"id":"evt_old","t":"transaction.sent","s":"trx_1","r":1772442000000000000,"lr":1772442000000000000,` +
		`"dl":[{"sink":"ap","state":"pending","attempts":0,"next_attempt_at":"2026-03-02T09:00:00Z","last_error":"","last_status":0,` +
		`"result":null,"history":null,"updated_at":"2026-03-02T09:00:00Z","due":1772442000000000000,"since":1772442000000000000}]}`)
	r, err := decodeRecord(old, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.summary().Source; got != relay.DefaultSource {
		t.Errorf("record summary source %q, want default", got)
	}
	v := newView("test")
	if _, err := v.apply(eventKey("evt_old"), 7, false, old); err != nil {
		t.Fatal(err)
	}
	ev := v.events["evt_old"]
	if ev == nil {
		t.Fatal("view lost the old record")
	}
	if got := ev.summary().Source; got != relay.DefaultSource {
		t.Errorf("view summary source %q, want default", got)
	}

	// And the field round-trips; the environment's events are stored
	// without it.
	acme := newRecord(&relay.NewEvent{ID: "acme:evt_1", Source: "acme"})
	buf, err := acme.encode()
	if err != nil {
		t.Fatal(err)
	}
	if r, err := decodeRecord(buf, 8); err != nil || r.summary().Source != "acme" {
		t.Errorf("acme record read back: %+v, %v", r, err)
	}
	plain := newRecord(&relay.NewEvent{ID: "evt_2", Source: relay.DefaultSource})
	if buf, _ := plain.encode(); strings.Contains(string(buf), `"src"`) {
		t.Errorf("the environment's record carries a source: %s", buf)
	}
}
