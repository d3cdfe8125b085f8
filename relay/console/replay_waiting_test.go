package console

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// TestConsole_ReplaySkipped: the replay button on an invoice AccountingPlus
// already has shows what really happened: nothing sent, the delivery still
// delivered with its document number, the skip in its history.
func TestConsole_ReplaySkipped(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Ana")
	id := f.ingest("transaction.sent", fixturesOpts("INV-2026-0042"))
	f.deliver("ap", id, f.event(id).Subject, map[string]string{"document_number": "00042/FPJ/01/26"})

	w := f.post(op, "/ui/events/"+id+"/replay", url.Values{"sink": {"ap"}})
	wantLocation(t, w, "/ui/events/"+id+"?done=replay-skipped&to=ap")
	if got := f.state(id, "ap"); got != relay.StateDelivered {
		t.Errorf("delivery = %s after a skipped replay, want delivered", got)
	}
	if diff := cmp.Diff([]string{"console:Ana replay:skipped ap"}, f.history(id)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	page := f.get(op, w.Header().Get("Location"))
	wantBody(t, page,
		`<p class="flash" role="status">Replay to ap skipped: the document is already there, so nothing was sent (see the delivery&#39;s history).</p>`,
		`<p class="docnum">00042/FPJ/01/26</p>`, "Created once in AccountingPlus by this event.",
		"document 00042/FPJ/01/26 already created for "+f.event(id).Subject+" by event "+id+"; the replay sent nothing",
		"<code>replay:skipped</code>")
	if strings.Contains(page.Body.String(), "queued.") {
		t.Error("the page says the replay was queued")
	}
}

// TestConsole_EventWaitingFor: a delivery waiting behind an earlier event of
// its subject says which, with a link, instead of "pending, 0 attempts".
func TestConsole_EventWaitingFor(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Budi")
	o := fixtures.Options{DocumentNumber: "INV-2026-0007", TransactionID: "7a7a7a7a-0000-4000-8000-000000000007"}
	first := f.ingest("transaction.sent", o)
	second := f.ingest("transaction.sent", o)
	f.stall("ap", first)

	w := f.get(op, "/ui/events/"+second)
	wantStatus(t, w, 200)
	wantBody(t, w,
		`Waiting for its turn behind event <a href="/ui/events/`+first+`"><code>`+first+`</code></a> (<span class="badge`,
		`>needs_review</span>), an earlier event of this subject at AccountingPlus`,
		` · waiting for <a href="/ui/events/`+first+`"><code>`+first+`</code></a> (needs_review)`)

	w = f.get(op, "/ui/events/"+first)
	wantStatus(t, w, 200)
	if strings.Contains(w.Body.String(), "aiting for") {
		t.Errorf("the needs-review event itself says it is waiting:\n%s", w.Body)
	}
}
