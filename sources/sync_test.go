package sources_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sinks"
	"github.com/tagihan-relay/tagihan-relay/sources"
	"github.com/tagihan-relay/tagihan-relay/store"
	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

const apiKey = "sk_live_acme_workspace_key_0001"

// accountingPlus is a fake AccountingPlus that counts the sales invoices
// each transaction got (by the invoice's document reference) and checks
// the headers the real API needs.
type accountingPlus struct {
	*httptest.Server
	mu       sync.Mutex
	invoices map[string]int // tenant → invoices created
	total    int
}

func newAccountingPlus(t *testing.T) *accountingPlus {
	ap := &accountingPlus{invoices: map[string]int{}}
	ap.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		raw, err := base64.StdEncoding.DecodeString(r.Header.Get("A-Data"))
		q, qerr := url.ParseQuery(string(raw))
		if r.URL.Path != "/v1/sales-invoices" || r.Method != http.MethodPost || err != nil || qerr != nil || q.Get("tenant_id") == "" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || r.Header.Get("A-Signature") == "" {
			http.Error(w, `{"status":"99","message":"bad request"}`, http.StatusBadRequest)
			return
		}
		time.Sleep(3 * time.Millisecond)
		ap.mu.Lock()
		ap.invoices[q.Get("tenant_id")]++
		ap.total++
		n := ap.total
		ap.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"00","message":"success","data":{"document_number":"%05d/FPJ/12/26"}}`, n)
	}))
	t.Cleanup(ap.Close)
	return ap
}

func (ap *accountingPlus) count() int {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	return ap.total
}

// syncRelay is a relay with a public listener TagihanAI can reach.
type syncRelay struct {
	*relayUnderTest
	public *httptest.Server
}

func startSyncRelay(t *testing.T) *syncRelay {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay.db")
	st := testkit.OpenStoreAt(t, path, store.Options{})
	disp := relay.NewDispatcher(st, nil, relay.DispatcherOptions{})
	mgr := sources.New(st, testKey(t, 4), sources.Options{
		Events: st, Dispatcher: disp, Notify: disp.Notify, CloudEventsSource: "tagihanai",
		Tolerance: 5 * time.Minute, Deps: sinks.Deps{HTTP: http.DefaultClient, Stdout: io.Discard},
		DrainGrace: -1, TestWait: 5 * time.Second,
	})
	if err := mgr.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &relayUnderTest{st: st, disp: disp, mgr: mgr, path: path}
	t.Cleanup(r.stop)
	m := metrics.New(prometheus.NewRegistry(), func(context.Context) (relay.Stats, error) { return relay.Stats{}, nil })
	h := httpapi.PublicHandler(httpapi.Ingest{Sources: mgr.Intake, Metrics: m, Log: slog.New(slog.DiscardHandler), MaxBody: 1 << 20,
		Now: time.Now, Verifier: signature.NewVerifier(nil, time.Minute), Receiver: &relay.Receiver{Store: st}}, func() bool { return true })
	public := httptest.NewServer(h)
	t.Cleanup(public.Close)
	return &syncRelay{relayUnderTest: r, public: public}
}

func (r *syncRelay) connect(t *testing.T, ta *tagihanaitest.Server, name string) relay.ConnectResult {
	t.Helper()
	res, err := r.mgr.Connect(context.Background(), name, relay.ConnectRequest{APIKey: apiKey, PublicURL: r.public.URL, APIBaseURL: ta.URL()})
	if err != nil {
		t.Fatalf("Connect %s: %v", name, err)
	}
	return res
}

// TestConnect: connect creates the subscription, stores its secret and
// sees TagihanAI's test event arrive verified; run again it reuses it;
// when the source no longer holds the secret it replaces it (new first,
// old deleted after the test); disconnect deletes it.
func TestConnect(t *testing.T) {
	ta := tagihanaitest.New(t, apiKey)
	r := startSyncRelay(t)
	ctx := context.Background()

	first := r.connect(t, ta, "acme")
	subs := ta.Webhooks()
	if first.Subscribed != "created" || !first.Test.Received || len(subs) != 1 || subs[0].URL != r.public.URL+"/webhooks/tagihanai/acme" ||
		subs[0].ID != first.WebhookID {
		t.Fatalf("connect: %+v, subscriptions %+v", first, subs)
	}
	info, err := r.mgr.ShowSource(ctx, "acme")
	if err != nil || len(info.Secrets) != 1 || info.Secrets[0].ID != first.SecretID || info.TagihanAI == nil || info.TagihanAI.WebhookID != first.WebhookID {
		t.Fatalf("the source after connect: %+v, %v", info, err)
	}
	if info.TagihanAI.APIKeyFingerprint == "" || strings.Contains(fmt.Sprint(info), apiKey) {
		t.Fatalf("the API key: %+v", info.TagihanAI)
	}
	page, _ := r.st.ListEvents(ctx, relay.EventFilter{Source: "acme"})
	if len(page.Events) != 1 || !page.Events[0].Test {
		t.Fatalf("the test event: %+v", page.Events)
	}

	again := r.connect(t, ta, "acme")
	if again.Subscribed != "reused" || again.WebhookID != first.WebhookID || len(ta.Webhooks()) != 1 {
		t.Fatalf("connect again: %+v, %d subscriptions", again, len(ta.Webhooks()))
	}

	// The source loses the subscription's secret (an operator rotated it
	// away): the subscription can no longer be verified and is replaced.
	if _, err := r.mgr.AddSourceSecret(ctx, "acme", "whsec_an-operator-secret-0001"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.mgr.RemoveSourceSecret(ctx, "acme", first.SecretID); err != nil {
		t.Fatal(err)
	}
	third := r.connect(t, ta, "acme")
	subs = ta.Webhooks()
	if third.Subscribed != "replaced" || third.Replaced != first.WebhookID || len(subs) != 1 || subs[0].ID != third.WebhookID || third.WebhookID == first.WebhookID {
		t.Fatalf("replace: %+v, subscriptions %+v", third, subs)
	}
	if id, err := r.mgr.Disconnect(ctx, "acme"); err != nil || id != third.WebhookID || len(ta.Webhooks()) != 0 {
		t.Fatalf("disconnect: %q, %v, %d subscriptions left", id, err, len(ta.Webhooks()))
	}
}

// TestConnect_Refusals: an unreachable relay fails with what TagihanAI
// reported; a revoked key is a clear error naming the source, not a
// retry loop; events globs become exact types.
func TestConnect_Refusals(t *testing.T) {
	ta := tagihanaitest.New(t, apiKey)
	r := startSyncRelay(t)
	ctx := context.Background()

	_, err := r.mgr.Connect(ctx, "acme", relay.ConnectRequest{APIKey: apiKey, PublicURL: "http://127.0.0.1:1", APIBaseURL: ta.URL()})
	if err == nil || !strings.Contains(err.Error(), "did not arrive") || !strings.Contains(err.Error(), "TagihanAI reported HTTP") {
		t.Fatalf("unreachable relay: %v", err)
	}

	res, err := r.mgr.Connect(ctx, "beta", relay.ConnectRequest{APIKey: apiKey, PublicURL: r.public.URL, APIBaseURL: ta.URL(),
		Events: []string{"transaction.*", "payment.completed"}})
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := ta.Webhook(res.WebhookID)
	if len(sub.EventTypes) < 10 || !sub.Subscribes("transaction.sent") || !sub.Subscribes("payment.completed") || sub.Subscribes("party.created") {
		t.Fatalf("subscribed types %v", sub.EventTypes)
	}

	ta.RevokeKey()
	before := len(ta.Requests())
	_, err = r.mgr.Connect(ctx, "beta", relay.ConnectRequest{APIKey: apiKey, PublicURL: r.public.URL, APIBaseURL: ta.URL()})
	if !errors.Is(err, relay.ErrInvalid) || !strings.Contains(err.Error(), `source "beta"`) || !strings.Contains(err.Error(), "refused the API key") ||
		strings.Contains(err.Error(), apiKey) {
		t.Fatalf("revoked key: %v", err)
	}
	if n := len(ta.Requests()) - before; n != 1 {
		t.Fatalf("revoked key: %d calls, want 1 (no retry loop)", n)
	}
	if _, err := r.mgr.Reconcile(ctx, "beta", 0, false); !errors.Is(err, relay.ErrInvalid) || !strings.Contains(err.Error(), "refused the API key") {
		t.Fatalf("reconcile with a revoked key: %v", err)
	}
}

// TestReconcile_EndToEnd (the scenario): 5 sent invoices, 3
// delivered by webhook to the real AccountingPlus sink, 2 that TagihanAI
// gave up on while the relay was down. Reconcile reports exactly the 2
// others; --fix creates exactly 2 invoices; a second --fix creates none.
func TestReconcile_EndToEnd(t *testing.T) {
	ta := tagihanaitest.New(t, apiKey)
	ap := newAccountingPlus(t)
	r := startSyncRelay(t)
	ctx := context.Background()
	conn := r.connect(t, ta, "acme")
	sp := relay.SourceSpec{Name: "acme", Sinks: map[string]map[string]string{"ap": {"KIND": "accountingplus", "BASE_URL": ap.URL,
		"CLIENT_ID": "acme", "CLIENT_SECRET": "ap-client-secret", "SIGNATURE_SECRET": "ap-signature-secret", "EMAIL": "finance@acme.example",
		"TENANT_ID": "tenant-acme", "DEFAULT_ITEM_CODE": "ITM00001", "TIMEOUT": "2s"}}}
	if res, err := r.mgr.ApplySource(ctx, sp); err != nil || res.Action != relay.ApplyUpdated || len(res.Source.Secrets) != 1 {
		t.Fatalf("apply the sinks after connect: %+v, %v (the connection's secret must stay)", res, err)
	}

	var txs, lostEvents []string
	for i := range 5 {
		id := ta.AddTransaction(tagihanaitest.Transaction{Status: "SENT", DocumentNumber: fmt.Sprintf("INV-2026-%04d", 100+i)})
		txs = append(txs, id)
		body, err := fixtures.Body("transaction.sent", fixtures.Options{EventID: fmt.Sprintf("evt_rec_%d", i), TransactionID: id,
			DocumentNumber: fmt.Sprintf("INV-2026-%04d", 100+i)})
		if err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			if d := ta.Deliver(conn.WebhookID, "transaction.sent", body); d.Status != tagihanaitest.StatusSuccess {
				t.Fatalf("delivery %d: %+v", i, d)
			}
			continue
		}
		ta.GiveUp(conn.WebhookID, "transaction.sent", body)
		lostEvents = append(lostEvents, fmt.Sprintf("evt_rec_%d", i))
	}
	testkit.Eventually(t, 15*time.Second, "3 invoices from the webhooks", func() bool { return ap.count() == 3 })

	rep, err := r.mgr.Reconcile(ctx, "acme", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	missing, undelivered := gapsOf(rep, relay.GapMissingDocument), gapsOf(rep, relay.GapUndelivered)
	slices.Sort(missing)
	slices.Sort(undelivered)
	lostTxs := slices.Sorted(slices.Values(txs[3:]))
	if fmt.Sprint(missing) != fmt.Sprint(lostTxs) || fmt.Sprint(undelivered) != fmt.Sprint(lostEvents) || rep.Open() != 4 || rep.Backfilled != 0 {
		t.Fatalf("report: missing %v (want %v), undelivered %v (want %v), open %d\n%+v", missing, lostTxs, undelivered, lostEvents, rep.Open(), rep)
	}
	if rep.Checked.Transactions != 5 || rep.Checked.Deliveries == 0 {
		t.Fatalf("checked %+v", rep.Checked)
	}
	for _, g := range rep.Gaps {
		if g.Kind == relay.GapUndelivered && g.Status != "dead_letter" {
			t.Errorf("gap %+v: status %s, want dead_letter (TagihanAI gave up)", g.EventID, g.Status)
		}
	}

	fixed, err := r.mgr.Reconcile(ctx, "acme", 0, true)
	if err != nil || fixed.Backfilled != 2 || fixed.Open() != 0 {
		t.Fatalf("--fix: backfilled %d, open %d, %v\n%+v", fixed.Backfilled, fixed.Open(), err, fixed)
	}
	testkit.Eventually(t, 15*time.Second, "2 backfilled invoices", func() bool { return ap.count() == 5 })
	ev, err := r.st.GetEvent(ctx, "acme:reconcile:"+txs[3]+":sent")
	if err != nil || ev.Subject != txs[3] || !strings.Contains(string(ev.Raw.Body), `"reconciled":true`) {
		t.Fatalf("the backfill event: %+v, %v", ev, err)
	}

	again, err := r.mgr.Reconcile(ctx, "acme", 0, true)
	if err != nil || again.Backfilled != 0 || again.Open() != 0 || len(again.Gaps) != 0 {
		t.Fatalf("second --fix: %+v, %v", again, err)
	}
	if n := ap.count(); n != 5 {
		t.Fatalf("AccountingPlus has %d invoices after a second --fix, want 5", n)
	}
	if last, ok := r.mgr.LastReport("acme"); !ok || last.Until != again.Until {
		t.Fatalf("last report: %+v, %v", last, ok)
	}
}

// TestReconcile_Unmappable: a transaction the sinks could not map stays a
// gap with the reason, not dropped and not backfilled.
func TestReconcile_Unmappable(t *testing.T) {
	ta := tagihanaitest.New(t, apiKey)
	ap := newAccountingPlus(t)
	r := startSyncRelay(t)
	ctx := context.Background()
	r.connect(t, ta, "acme")
	if _, err := r.mgr.ApplySource(ctx, relay.SourceSpec{Name: "acme", Sinks: map[string]map[string]string{"ap": {"KIND": "accountingplus",
		"BASE_URL": ap.URL, "CLIENT_ID": "acme", "CLIENT_SECRET": "s", "SIGNATURE_SECRET": "s", "EMAIL": "f@acme.example", "TENANT_ID": "t",
		"DEFAULT_ITEM_CODE": "ITM00001"}}}); err != nil {
		t.Fatal(err)
	}
	id := ta.AddTransaction(tagihanaitest.Transaction{Status: "PAID", Fields: map[string]any{"line_items": nil}})
	rep, err := r.mgr.Reconcile(ctx, "acme", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Gaps) != 1 || rep.Gaps[0].TransactionID != id || rep.Gaps[0].Fixed || !strings.Contains(rep.Gaps[0].Detail, "no line items") || rep.Backfilled != 0 {
		t.Fatalf("report: %+v", rep)
	}
}

// TestReconcile_Background: the relay was down longer than TagihanAI
// retries; the background reconcile (with fix) closes the gap by itself
// and reports through Observe.
func TestReconcile_Background(t *testing.T) {
	ta := tagihanaitest.New(t, apiKey)
	ap := newAccountingPlus(t)
	r := startSyncRelay(t)
	ctx := context.Background()
	conn := r.connect(t, ta, "acme")
	if _, err := r.mgr.ApplySource(ctx, relay.SourceSpec{Name: "acme", Sinks: map[string]map[string]string{"ap": {"KIND": "accountingplus",
		"BASE_URL": ap.URL, "CLIENT_ID": "acme", "CLIENT_SECRET": "s", "SIGNATURE_SECRET": "s", "EMAIL": "f@acme.example", "TENANT_ID": "t",
		"DEFAULT_ITEM_CODE": "ITM00001"}}}); err != nil {
		t.Fatal(err)
	}
	// Issued two days ago, overdue by now (a short payment term), sent while
	// the relay was down.
	issued := time.Now().UTC().Add(-48 * time.Hour).Format("2006-01-02")
	id := ta.AddTransaction(tagihanaitest.Transaction{Status: "OVERDUE", DocumentDate: issued, DueDate: issued})
	body, _ := fixtures.Body("transaction.sent", fixtures.Options{EventID: "evt_down_1", TransactionID: id})
	ta.GiveUp(conn.WebhookID, "transaction.sent", body)

	var mu sync.Mutex
	var seen []relay.ReconcileReport
	stop := r.mgr.RunReconcile(sources.Schedule{Interval: 20 * time.Millisecond, Fix: true, Observe: func(_ string, rep relay.ReconcileReport, err error) {
		if err != nil {
			t.Errorf("background reconcile: %v", err)
			return
		}
		mu.Lock()
		seen = append(seen, rep)
		mu.Unlock()
	}})
	t.Cleanup(stop) // before the store closes, also when the test fails early
	testkit.Eventually(t, 15*time.Second, "the background reconcile to backfill the invoice", func() bool { return ap.count() == 1 })
	testkit.Eventually(t, 15*time.Second, "a clean run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && len(seen[len(seen)-1].Gaps) == 0
	})
	stop()
	mu.Lock()
	first := seen[0]
	mu.Unlock()
	if first.Backfilled != 1 || len(first.Gaps) != 2 {
		t.Fatalf("first background run: %+v", first)
	}
	if n := ap.count(); n != 1 {
		t.Fatalf("%d invoices, want 1", n)
	}
}

// gapsOf lists the transaction ids (missing_document) or event ids
// (undelivered) of the report's gaps of kind.
func gapsOf(rep relay.ReconcileReport, kind string) []string {
	var out []string
	for _, g := range rep.Gaps {
		if g.Kind != kind {
			continue
		}
		if kind == relay.GapUndelivered {
			out = append(out, g.EventID)
		} else {
			out = append(out, g.TransactionID)
		}
	}
	return out
}

// TestReconcile_LogWithoutEventIDs: when TagihanAI's delivery log names no
// event (as in the reference's example), a dead letter is still reported,
// saying the relay cannot tell whether it stored it, while a merely failed
// entry (TagihanAI still retries it) is not a gap.
func TestReconcile_LogWithoutEventIDs(t *testing.T) {
	ta := tagihanaitest.New(t, apiKey)
	r := startSyncRelay(t)
	conn := r.connect(t, ta, "acme")
	ta.HideDeliveryIDs()
	body, _ := fixtures.Body("payment.completed", fixtures.Options{EventID: "evt_noid_1"})
	ta.GiveUp(conn.WebhookID, "payment.completed", body) // 4 failed + 1 dead letter
	rep, err := r.mgr.Reconcile(context.Background(), "acme", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Gaps) != 1 || rep.Gaps[0].Status != "dead_letter" || !strings.Contains(rep.Gaps[0].Detail, "cannot tell") || rep.Checked.Deliveries != 5 {
		t.Fatalf("report: %+v", rep)
	}
}

// TestConnect_EventsMatchingNothing: an --events glob no TagihanAI type
// matches is refused before any API call.
func TestConnect_EventsMatchingNothing(t *testing.T) {
	ta := tagihanaitest.New(t, apiKey)
	r := startSyncRelay(t)
	_, err := r.mgr.Connect(context.Background(), "acme", relay.ConnectRequest{APIKey: apiKey, PublicURL: r.public.URL, APIBaseURL: ta.URL(),
		Events: []string{"invoice.*"}})
	if !errors.Is(err, relay.ErrInvalid) || !strings.Contains(err.Error(), "matches no TagihanAI event type") || len(ta.Requests()) != 0 {
		t.Fatalf("connect --events invoice.*: %v (%d API calls)", err, len(ta.Requests()))
	}
}
