package relay_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestRequestText(t *testing.T) {
	long := strings.Repeat("x", relay.MaxRequestRecord+10)
	tests := []struct {
		name     string
		body     string
		want     string
		wantNote bool
	}{
		{name: "JSONIndented", body: `{"customer_name":"PT Maju","items":[{"q":1}]}`,
			want: "{\n  \"customer_name\": \"PT Maju\",\n  \"items\": [\n    {\n      \"q\": 1\n    }\n  ]\n}"},
		{name: "HTMLCharactersAsSent", body: `{"note":"<script>&amp; a > b"}`, want: "{\n  \"note\": \"<script>&amp; a > b\"\n}"},
		{name: "EscapedBackslashKept", body: `{"path":"C:\\u003c"}`, want: "{\n  \"path\": \"C:\\\\u003c\"\n}"},
		{name: "NotJSON", body: "a=1&b=<2>", want: "a=1&b=<2>"},
		{name: "Truncated", body: long, want: long[:relay.MaxRequestRecord], wantNote: true},
		{name: "None", body: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, truncated := relay.RequestRecord([]byte(tt.body))
			a := &relay.Attempt{Request: rec, RequestTruncated: truncated}
			// Round-trip through the stored form, as both stores keep it.
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			var stored relay.Attempt
			if err := json.Unmarshal(b, &stored); err != nil {
				t.Fatal(err)
			}
			got, note := relay.RequestText(&stored)
			if got != tt.want || (note != "") != tt.wantNote {
				t.Errorf("RequestText = %q, note %q; want %q, note %v", got, note, tt.want, tt.wantNote)
			}
		})
	}
}

func TestNewReviewCard(t *testing.T) {
	event := `{"specversion":"1.0","id":"evt 1","data":{"id":"trx-1","counterparty_name":"PT Maju Jaya","document_date":"2026-12-03",` +
		`"currency":"IDR","total":23088000,"document_number":"INV-2026-3123","external_invoice_id":"ERP-INV-2026-3123"}}`
	sent := time.Date(2026, 12, 3, 7, 19, 8, 0, time.UTC)
	body, _ := relay.RequestRecord([]byte(`{"customer_name":"PT Maju Jaya","document_date":"03/12/2026"}`))
	d := &relay.EventDetail{EventSummary: relay.EventSummary{ID: "evt 1", Subject: "trx-1"}, Event: json.RawMessage(event)}
	ds := &relay.DeliveryState{Sink: "acc", State: relay.StateNeedsReview, History: []relay.Attempt{
		{At: sent.Add(-time.Minute), Outcome: "transient"},
		{At: sent, Outcome: "unknown", Request: body},
	}}
	c := relay.NewReviewCard(d, ds, "AccountingPlus")
	if c == nil {
		t.Fatal("no card for a needs_review delivery")
	}
	want := []relay.ReviewField{
		{"Customer", "PT Maju Jaya"}, {"Invoice date", "2026-12-03"}, {"Total", "IDR 23,088,000"},
		{"TagihanAI number", "INV-2026-3123"}, {"Reference", "ERP-INV-2026-3123"}, {"Transaction", "trx-1"},
		{"Sent at", "2026-12-03 07:19:08 UTC"},
	}
	if diff := cmp.Diff(want, c.Look); diff != "" {
		t.Errorf("Look (-want +got):\n%s", diff)
	}
	if c.System != "AccountingPlus" || c.Request != &ds.History[1] || !strings.Contains(c.RequestText, `"document_date": "03/12/2026"`) {
		t.Errorf("card %+v", c)
	}
	if c.Found != "tagihan-relay events resolve 'evt 1' --sink acc --delivered --document-number NUMBER" ||
		c.NotFound != "tagihan-relay events resolve 'evt 1' --sink acc --retry" {
		t.Errorf("commands %q / %q", c.Found, c.NotFound)
	}
	ds.State = relay.StateDelivered
	if relay.NewReviewCard(d, ds, "AccountingPlus") != nil {
		t.Error("a card for a delivered delivery")
	}
}

func TestEventSummary_ListStatus(t *testing.T) {
	tests := []struct {
		states []string
		want   string
	}{
		{[]string{relay.StateSkipped}, "skipped"},
		{[]string{relay.StateSkipped, relay.StateDelivered}, "delivered"},
		{[]string{relay.StateSkipped, relay.StatePending}, "pending"},
		{nil, "unrouted"},
	}
	for _, tt := range tests {
		e := relay.EventSummary{Status: relay.EventStatus(false, tt.states), Skipped: relay.AllSkipped(tt.states)}
		if got := e.ListStatus(); got != tt.want {
			t.Errorf("%v: ListStatus = %q, want %q", tt.states, got, tt.want)
		}
	}
}
