package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// fakeSync is a relay.SourceSync that only knows last reports.
type fakeSync struct {
	last map[string]relay.ReconcileReport
}

func (f *fakeSync) Connect(context.Context, string, relay.ConnectRequest) (relay.ConnectResult, error) {
	return relay.ConnectResult{}, relay.Errorf(relay.EINVALID, "not in this test")
}
func (f *fakeSync) Disconnect(context.Context, string) (string, error) { return "", nil }
func (f *fakeSync) Reconcile(context.Context, string, time.Duration, bool) (relay.ReconcileReport, error) {
	return relay.ReconcileReport{}, nil
}
func (f *fakeSync) LastReport(name string) (relay.ReconcileReport, bool) {
	r, ok := f.last[name]
	return r, ok
}

// TestConsole_SourceReconcileReport: a source's page shows its last
// reconcile (SPEC 7) with every gap and whether it was fixed; a source
// without a report shows none.
func TestConsole_SourceReconcileReport(t *testing.T) {
	f, _ := MustOpenSourcesFixture(t)
	op := f.login("Ana")
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	rep := relay.ReconcileReport{Source: "acme", Since: at.Add(-168 * time.Hour), Until: at, Fix: true, Backfilled: 1,
		Gaps: []relay.Gap{
			{Kind: relay.GapMissingDocument, TransactionID: "tx-7", DocumentNumber: "INV-2026-0007", Status: "SENT", Sink: "ap", Detail: "backfilled as acme:reconcile:tx-7:sent", Fixed: true},
			{Kind: relay.GapUndelivered, TransactionID: "tx-9", Status: "dead_letter", Detail: "the relay never stored event evt_9"},
		}}
	rep.Checked.Transactions, rep.Checked.Deliveries = 12, 3
	f.ops.Sync = &fakeSync{last: map[string]relay.ReconcileReport{"acme": rep}}

	w := f.get(op, "/ui/sources/acme")
	wantStatus(t, w, http.StatusOK)
	wantBody(t, w, `<h2 id="reconcile">Last reconcile</h2>`, "12 transactions and 3 failed deliveries checked", "1 backfilled",
		"1 gap(s) open", "<code>missing_document</code>", "INV-2026-0007", "<code>undelivered_by_tagihanai</code>",
		"the relay never stored event evt_9", "<strong>no</strong>")
	w = f.get(op, "/ui/sources/default")
	wantStatus(t, w, http.StatusOK)
	if strings.Contains(w.Body.String(), "Last reconcile") {
		t.Fatal("a source without a report shows one")
	}
}
