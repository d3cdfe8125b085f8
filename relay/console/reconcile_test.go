package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
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

// TestConsole_EventsBySource: the events page filters by source (SPEC 6)
// and keeps the filter in its links; a bad name is a form error.
func TestConsole_EventsBySource(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Ana")
	envID := f.ingest("transaction.sent", fixtures.Options{EventID: "evt_env_1"})
	acme := &relay.Receiver{Store: f.store, Source: "tagihanai/acme", SourceName: "acme"}
	body, err := fixtures.Body("transaction.sent", fixtures.Options{EventID: "evt_acme_1", Now: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := acme.Receive(context.Background(), relay.Delivery{ReceivedAt: f.clock.Now(), Body: body, Headers: map[string]string{}})
	if err != nil || rc.ID != "acme:evt_acme_1" {
		t.Fatalf("acme delivery: %+v, %v", rc, err)
	}
	w := f.get(op, "/ui/events?source=acme")
	wantStatus(t, w, http.StatusOK)
	if !strings.Contains(w.Body.String(), "acme:evt_acme_1") || strings.Contains(w.Body.String(), envID) {
		t.Fatalf("source=acme lists the wrong events:\n%s", w.Body.String())
	}
	wantBody(t, w, `name="source" value="acme"`)
	w = f.get(op, "/ui/events?source=default")
	if !strings.Contains(w.Body.String(), envID) || strings.Contains(w.Body.String(), "acme:evt_acme_1") {
		t.Fatalf("source=default lists the wrong events")
	}
	wantStatus(t, f.get(op, "/ui/events?source=Not_A_Name"), http.StatusBadRequest)
}
