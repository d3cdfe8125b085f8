package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// The event page of a needs_review AccountingPlus delivery says what to
// look for in AccountingPlus and shows the exact request body sent,
// escaped.
func TestConsole_ReviewCard(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Ana")
	id := f.ingest("transaction.sent", fixtures.Options{DocumentNumber: "INV-2026-0042", TransactionID: "7d1f4a52-0c37-4c8f-9a51-1f2f0f3b8e42"})
	sent := []byte(`{"customer_name":"PT <script>alert(1)</script> & Co","document_date":"15/01/2026","items":[]}`)
	req, truncated := relay.RequestRecord(sent)
	f.finish("ap", id, relay.Attempt{Duration: 30 * time.Second, Outcome: "unknown", Error: "context deadline exceeded", Request: req, RequestTruncated: truncated},
		relay.Transition{State: relay.StateNeedsReview, Reason: "outcome unknown: context deadline exceeded"})

	w := f.get(op, "/ui/events/"+id)
	if w.Code != http.StatusOK {
		t.Fatalf("event page: %d", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{
		"Look in AccountingPlus for:",
		"<dt>Transaction</dt><dd>7d1f4a52-0c37-4c8f-9a51-1f2f0f3b8e42</dd>",
		"<dt>TagihanAI number</dt><dd>INV-2026-0042</dd>",
		"<dt>Total</dt><dd>IDR ",
		`id="request-ap" open`,
		"Request sent to AccountingPlus at ",
		// The body as sent, escaped once by the page (not \u003c).
		`&#34;customer_name&#34;: &#34;PT &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co&#34;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("event page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, `\u003c`) {
		t.Error("the request body is not shown escaped exactly once")
	}
}
