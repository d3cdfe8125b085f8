package relay_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestRequestRecord(t *testing.T) {
	long := `{"items":"` + strings.Repeat("é", relay.MaxRequestRecord) + `"}`
	tests := []struct {
		name          string
		body          string
		wantTruncated bool
		check         func(t *testing.T, rec json.RawMessage)
	}{
		{name: "Empty", check: func(t *testing.T, rec json.RawMessage) {
			if rec != nil {
				t.Errorf("record = %s, want nil", rec)
			}
		}},
		{name: "JSONAsSent", body: `{"total":9007199254740993,"customer_name":"PT A"}`, check: func(t *testing.T, rec json.RawMessage) {
			if string(rec) != `{"total":9007199254740993,"customer_name":"PT A"}` {
				t.Errorf("record = %s, want the body byte for byte", rec)
			}
		}},
		{name: "NotJSON", body: "a=1&b=2", check: func(t *testing.T, rec json.RawMessage) {
			var s string
			if err := json.Unmarshal(rec, &s); err != nil || s != "a=1&b=2" {
				t.Errorf("record = %s (%v), want the body as a JSON string", rec, err)
			}
		}},
		{name: "TooLong", body: long, wantTruncated: true, check: func(t *testing.T, rec json.RawMessage) {
			var s string
			if err := json.Unmarshal(rec, &s); err != nil {
				t.Fatalf("record is not a JSON string: %v", err)
			}
			if len(s) > relay.MaxRequestRecord || len(s) < relay.MaxRequestRecord-4 || !strings.HasPrefix(long, s) {
				t.Errorf("kept %d bytes, want the first %d at a rune boundary", len(s), relay.MaxRequestRecord)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, truncated := relay.RequestRecord([]byte(tc.body))
			if truncated != tc.wantTruncated {
				t.Errorf("truncated = %v, want %v", truncated, tc.wantTruncated)
			}
			tc.check(t, rec)
		})
	}
}

func TestReturnedNumbers(t *testing.T) {
	got := relay.ReturnedNumbers(map[string]string{"document_number": "D1", "invoice_number": "D1", "invoice_id": "OP-2", "found_by": "lookup"})
	if diff := cmp.Diff([]string{"D1", "OP-2"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
