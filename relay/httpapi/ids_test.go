package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// TestIngest_InvalidIDsAreKeptUnparsed: a signed delivery whose id or
// subject cannot be a store key or a header value is kept as unparsed (202,
// the reason recorded), its retry is a duplicate, it reaches no sink, and
// the log lines stay short.
func TestIngest_InvalidIDsAreKeptUnparsed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	longID := "evt_" + strings.Repeat("L", 296) // 300 bytes
	hugeSubject := strings.Repeat("S", 100<<10)
	tests := []struct {
		name       string
		body       []byte
		wantID     string // "" means the body's sha256
		wantReason string
	}{
		{"id of 300 bytes", []byte(`{"id":"` + longID + `","type":"transaction.sent","data":{"id":"trx_ids_1"}}`), "", "300 bytes"},
		{"id with SOH", []byte(`{"id":"evt_ids_\u0001","type":"transaction.sent","data":{"id":"trx_ids_2"}}`), "", "control character"},
		{"subject of 100 KB", []byte(`{"id":"evt_ids_subject","type":"transaction.sent","data":{"id":"` + hugeSubject + `"}}`), "evt_ids_subject", "resource id is 102400 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.wantID
			if want == "" {
				want = sha256ID(tt.body)
			}
			if a := e.deliver(t, tt.body, "unparsed"); a.ID != want {
				t.Fatalf("acked id %.80q, want %.80q", a.ID, want)
			}
			// TagihanAI's retry: same bytes, fresh signature.
			e.Clock.Advance(1)
			if a := e.deliver(t, tt.body, "duplicate"); a.ID != want {
				t.Fatalf("retry acked id %.80q, want %.80q", a.ID, want)
			}
			d := e.storedEvent(t, want)
			if d.Status != relay.StatusUnparsed || !strings.Contains(d.ParseError, tt.wantReason) {
				t.Errorf("stored status %q, parse_error %q; want unparsed, mentioning %q", d.Status, d.ParseError, tt.wantReason)
			}
			if len(d.Deliveries) != 0 {
				t.Errorf("routed to %d sinks", len(d.Deliveries))
			}
			if !bytes.Equal(d.Raw.BodyBase64, tt.body) {
				t.Error("the stored body is not the one signed")
			}
			if d.Duplicates != 1 {
				t.Errorf("duplicates = %d, want 1", d.Duplicates)
			}
		})
	}
	for _, line := range strings.Split(strings.TrimSpace(e.Logs.String()), "\n") {
		if len(line) > 1024 {
			t.Errorf("log line of %d bytes: %.200s", len(line), line)
		}
		if strings.Contains(line, strings.Repeat("L", 200)) || strings.Contains(line, strings.Repeat("S", 200)) {
			t.Errorf("log line holds the sender's long value: %.200s", line)
		}
	}
	if got := e.metric(t, "tagihan_relay_received_total", `result="unparsed",source="default"`); got != 3 {
		t.Errorf("received_total{unparsed} = %v, want 3", got)
	}
	// The id rule is not applied twice: a valid 256-byte id is accepted.
	ok := "evt_" + strings.Repeat("k", 252)
	if a := e.deliver(t, []byte(`{"id":"`+ok+`","type":"transaction.sent","data":{"id":"trx_ids_ok"}}`), "accepted"); a.ID != ok {
		t.Fatalf("256-byte id acked as %q", a.ID)
	}
	req, _ := http.NewRequest(http.MethodGet, e.Admin.URL+"/v1/events/"+ok, nil)
	if r := e.do(t, req); r.Status != http.StatusOK {
		t.Errorf("GET the 256-byte id: %s", r)
	}
}
