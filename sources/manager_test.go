package sources_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sinks"
	"github.com/tagihan-relay/tagihan-relay/sources"
	"github.com/tagihan-relay/tagihan-relay/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	acmeSecret  = "whsec_YWNtZS13b3Jrc3BhY2Utc2VjcmV0LTAx"
	acmeSecret2 = "whsec_YWNtZS13b3Jrc3BhY2Utc2VjcmV0LTAy"
	betaSecret  = "whsec_YmV0YS13b3Jrc3BhY2Utc2VjcmV0LTAx"
	sinkSecret  = "whsec_c2luay1zaWduaW5nLXNlY3JldC1hY21lLTAx"
)

// target is an HTTP destination that records the event ids it got, after
// a delay (a real destination is not instant).
type target struct {
	*httptest.Server
	mu   sync.Mutex
	ids  []string
	hold chan struct{} // when not nil, every request waits for it to close
}

func newTarget(t *testing.T) *target {
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		tg.mu.Lock()
		hold := tg.hold
		tg.mu.Unlock()
		if hold != nil {
			<-hold
		}
		time.Sleep(2 * time.Millisecond)
		tg.mu.Lock()
		tg.ids = append(tg.ids, r.Header.Get("webhook-id"))
		tg.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) got() []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]string(nil), tg.ids...)
}

// relayUnderTest is a store, a dispatcher and a source manager wired as
// serve wires them.
type relayUnderTest struct {
	st   *store.Store
	disp *relay.Dispatcher
	mgr  *sources.Manager
	path string
}

func testKey(t testing.TB, b byte) func() (*sealed.Key, error) {
	k, err := sealed.ParseKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return func() (*sealed.Key, error) { return k, nil }
}

func testKeyB(b *testing.B) func() (*sealed.Key, error) { return testKey(b, 9) }

func start(t *testing.T, path string, key func() (*sealed.Key, error)) *relayUnderTest {
	t.Helper()
	st := testkit.OpenStoreAt(t, path, store.Options{})
	disp := relay.NewDispatcher(st, nil, relay.DispatcherOptions{})
	mgr := sources.New(st, key, sources.Options{
		Events: st, Dispatcher: disp, Notify: disp.Notify, CloudEventsSource: "tagihanai",
		Tolerance: 5 * time.Minute, Deps: sinks.Deps{HTTP: http.DefaultClient, Stdout: io.Discard},
		DrainGrace: -1, // one process: its view of the store is never behind
	})
	if err := mgr.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &relayUnderTest{st: st, disp: disp, mgr: mgr, path: path}
	t.Cleanup(r.stop)
	return r
}

func (r *relayUnderTest) stop() {
	r.disp.Stop()
	r.mgr.Close()
}

func spec(name, url string, secrets ...string) relay.SourceSpec {
	return relay.SourceSpec{Name: name, Secrets: secrets, Sinks: map[string]map[string]string{
		"erp": {"KIND": "http", "URL": url, "SIGNING_SECRET": sinkSecret, "RETRY_SCHEDULE": "20ms,20ms,20ms"},
	}}
}

// deliver signs body with secret and passes it through source's intake as
// the ingest handler does; it returns the answer's status (404 for a
// source not served, 401 for a signature that does not verify).
func deliver(t *testing.T, m *sources.Manager, source, secret string, body []byte) (int, relay.Receipt) {
	t.Helper()
	in := m.Intake(source)
	if in == nil {
		return http.StatusNotFound, relay.Receipt{}
	}
	key, err := signature.DecodeSecret(secret, "raw")
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	if err := in.Verifier.Verify(signature.SignatureHeader(key, ts, body), ts, body); err != nil {
		return http.StatusUnauthorized, relay.Receipt{}
	}
	rc, err := in.Receiver.Receive(context.Background(), relay.Delivery{ReceivedAt: time.Now(), Body: body})
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return http.StatusOK, rc
}

func body(t testing.TB, id, trx string) []byte {
	t.Helper()
	b, err := fixtures.Body("transaction.sent", fixtures.Options{EventID: id, TransactionID: trx, DocumentNumber: "INV-2026-0042"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func apply(t *testing.T, m *sources.Manager, sp relay.SourceSpec, want relay.ApplyAction) relay.SourceInfo {
	t.Helper()
	res, err := m.ApplySource(context.Background(), sp)
	if err != nil {
		t.Fatalf("ApplySource %s: %v", sp.Name, err)
	}
	if res.Action != want {
		t.Fatalf("ApplySource %s: %s, want %s", sp.Name, res.Action, want)
	}
	return res.Source
}

func waitDelivered(t *testing.T, tg *target, n int) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "deliveries at the target", func() bool { return len(tg.got()) >= n })
}

// TestSources_Isolation: two workspaces, each with its own secret and its
// own destination. A delivery signed with one source's secret is refused
// at the other; each source's events reach only its own sink.
func TestSources_Isolation(t *testing.T) {
	acmeT, betaT := newTarget(t), newTarget(t)
	r := start(t, filepath.Join(t.TempDir(), "relay.db"), testKey(t, 1))
	apply(t, r.mgr, spec("acme", acmeT.URL, acmeSecret), relay.ApplyCreated)
	apply(t, r.mgr, spec("beta", betaT.URL, betaSecret), relay.ApplyCreated)

	if code, _ := deliver(t, r.mgr, "beta", acmeSecret, body(t, "evt_iso_x", "trx_iso")); code != http.StatusUnauthorized {
		t.Fatalf("acme's secret at beta: %d, want 401", code)
	}
	if code, _ := deliver(t, r.mgr, "gamma", acmeSecret, body(t, "evt_iso_y", "trx_iso")); code != http.StatusNotFound {
		t.Fatalf("unknown source: %d, want 404", code)
	}
	// The same TagihanAI event id and transaction in both workspaces: two
	// events, neither a duplicate of the other.
	code, rc := deliver(t, r.mgr, "acme", acmeSecret, body(t, "evt_iso_1", "trx_iso"))
	if code != http.StatusOK || rc.Status != relay.IngestAccepted || rc.ID != "acme:evt_iso_1" || len(rc.Sinks) != 1 || rc.Sinks[0] != "acme/erp" {
		t.Fatalf("acme: %d %+v, want acme:evt_iso_1 accepted to acme/erp", code, rc)
	}
	if code, rc := deliver(t, r.mgr, "beta", betaSecret, body(t, "evt_iso_1", "trx_iso")); code != http.StatusOK ||
		rc.Status != relay.IngestAccepted || rc.ID != "beta:evt_iso_1" || rc.Sinks[0] != "beta/erp" {
		t.Fatalf("beta, the same id: %d %+v, want beta:evt_iso_1 accepted", code, rc)
	}
	if _, rc := deliver(t, r.mgr, "beta", betaSecret, body(t, "evt_iso_1", "trx_iso")); rc.Status != relay.IngestDuplicate {
		t.Fatalf("beta again: %+v, want duplicate", rc)
	}
	waitDelivered(t, acmeT, 1)
	waitDelivered(t, betaT, 1)
	if a, b := acmeT.got(), betaT.got(); len(a) != 1 || len(b) != 1 {
		t.Fatalf("acme got %v, beta got %v: want one event each", a, b)
	}
	ctx := context.Background()
	page, err := r.st.ListEvents(ctx, relay.EventFilter{Source: "beta"})
	if err != nil || len(page.Events) != 1 || page.Events[0].Source != "beta" || page.Events[0].ID != "beta:evt_iso_1" {
		t.Fatalf("events of beta: %+v, %v", page.Events, err)
	}

	// A replay stays in its workspace (once the first delivery is recorded:
	// a pending delivery is not replayed).
	testkit.Eventually(t, 10*time.Second, "acme's delivery recorded", func() bool {
		ev, err := r.st.GetEvent(ctx, "acme:evt_iso_1")
		return err == nil && len(ev.Deliveries) == 1 && ev.Deliveries[0].State == relay.StateDelivered
	})
	ops := &relay.Operations{Store: r.st, Receiver: &relay.Receiver{Store: r.st}, Notify: r.disp.Notify, Sources: r.mgr, SourceRoutes: r.mgr.Routes, SourceReceiver: r.mgr.Receiver}
	if _, err := ops.Replay(ctx, "acme:evt_iso_1", "beta/erp", "test"); !errors.Is(err, relay.ErrInvalid) || !strings.Contains(err.Error(), "workspace") {
		t.Fatalf("replay of acme's event to beta's sink: %v, want refused", err)
	}
	if res, err := ops.Replay(ctx, "acme:evt_iso_1", "acme/erp", "test"); err != nil || res.Queued != 1 {
		t.Fatalf("replay to its own sink: %+v, %v", res, err)
	}
	waitDelivered(t, acmeT, 2)
	info, err := r.mgr.ShowSource(ctx, "acme")
	if err != nil || info.Stats.Received24h != 0 { // no Received counter wired in this harness
		t.Fatalf("show: %+v, %v", info.Stats, err)
	}
	if n, err := sources.CountReceived(ctx, r.st, "acme", time.Now().Add(-24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("CountReceived(acme) = %d, %v; want 1", n, err)
	}
}

// TestSources_ExportImport: an export keeps each delivery's source, and
// an import into a relay that serves the source stores it as that source's
// event, routed to that source's sinks.
func TestSources_ExportImport(t *testing.T) {
	tg := newTarget(t)
	from := start(t, filepath.Join(t.TempDir(), "relay.db"), testKey(t, 1))
	apply(t, from.mgr, spec("acme", tg.URL, acmeSecret), relay.ApplyCreated)
	deliver(t, from.mgr, "acme", acmeSecret, body(t, "evt_exp_1", "trx_exp"))
	ctx := context.Background()
	opsFrom := &relay.Operations{Store: from.st, Receiver: &relay.Receiver{Store: from.st}}
	var recs []*relay.ExportRecord
	if err := opsFrom.Export(ctx, relay.ExportFilter{}, func(r *relay.ExportRecord) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Source != "acme" || recs[0].ID != "acme:evt_exp_1" {
		t.Fatalf("export: %+v", recs)
	}

	to := start(t, filepath.Join(t.TempDir(), "relay.db"), testKey(t, 2))
	opsTo := &relay.Operations{Store: to.st, Receiver: &relay.Receiver{Store: to.st, Source: "tagihanai"}, Notify: to.disp.Notify, SourceReceiver: to.mgr.Receiver}
	if _, err := opsTo.Import(ctx, recs[0], true); !errors.Is(err, relay.ErrInvalid) {
		t.Fatalf("routed import of a source not served: %v, want refused", err)
	}
	other := newTarget(t)
	apply(t, to.mgr, spec("acme", other.URL, acmeSecret), relay.ApplyCreated)
	if ok, err := opsTo.Import(ctx, recs[0], true); err != nil || !ok {
		t.Fatalf("import: %v, %v", ok, err)
	}
	ev, err := to.st.GetEvent(ctx, "acme:evt_exp_1")
	if err != nil || ev.Source != "acme" || len(ev.Deliveries) != 1 || ev.Deliveries[0].Sink != "acme/erp" {
		t.Fatalf("imported event: %+v, %v", ev, err)
	}
	waitDelivered(t, other, 1)
}

// TestSources_ApplyIdempotent: applying the same spec again changes
// nothing (no write, same updated_at); a changed sink URL applies to the
// next delivery.
func TestSources_ApplyIdempotent(t *testing.T) {
	oldT, newT := newTarget(t), newTarget(t)
	r := start(t, filepath.Join(t.TempDir(), "relay.db"), testKey(t, 1))
	first := apply(t, r.mgr, spec("acme", oldT.URL, acmeSecret), relay.ApplyCreated)
	again := apply(t, r.mgr, spec("acme", oldT.URL, acmeSecret), relay.ApplyUnchanged)
	if !again.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatalf("unchanged apply moved updated_at %s → %s", first.UpdatedAt, again.UpdatedAt)
	}
	deliver(t, r.mgr, "acme", acmeSecret, body(t, "evt_idem_1", "trx_idem_1"))
	waitDelivered(t, oldT, 1)

	changed := apply(t, r.mgr, spec("acme", newT.URL, acmeSecret), relay.ApplyUpdated)
	if !changed.CreatedAt.Equal(first.CreatedAt) || !changed.UpdatedAt.After(first.UpdatedAt) && !changed.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatalf("update: created %s → %s, updated %s → %s", first.CreatedAt, changed.CreatedAt, first.UpdatedAt, changed.UpdatedAt)
	}
	if changed.Secrets[0].CreatedAt != first.Secrets[0].CreatedAt {
		t.Fatal("a kept secret's created_at changed on update")
	}
	deliver(t, r.mgr, "acme", acmeSecret, body(t, "evt_idem_2", "trx_idem_2"))
	waitDelivered(t, newT, 1)
	if n := len(oldT.got()); n != 1 {
		t.Fatalf("the old URL got %d deliveries after the change, want only the first", n)
	}
}

// TestSources_BadConfigRefused: a refused spec names source, sink and key
// and leaves the running source exactly as it was.
func TestSources_BadConfigRefused(t *testing.T) {
	tg := newTarget(t)
	r := start(t, filepath.Join(t.TempDir(), "relay.db"), testKey(t, 1))
	apply(t, r.mgr, spec("acme", tg.URL, acmeSecret), relay.ApplyCreated)
	for _, tc := range []struct {
		name string
		keys map[string]string
		want []string
	}{
		{"unknown key", map[string]string{"KIND": "http", "URL": tg.URL, "SIGNING_SECRET": sinkSecret, "HEADRES": "a=b"}, []string{`source "acme"`, `sink "erp"`, "HEADRES"}},
		{"missing URL", map[string]string{"KIND": "http", "SIGNING_SECRET": sinkSecret}, []string{`sink "erp"`, "URL"}},
		{"bad URL", map[string]string{"KIND": "http", "URL": "ftp://x", "SIGNING_SECRET": sinkSecret}, []string{`sink "erp"`, "URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := spec("acme", tg.URL, acmeSecret2)
			sp.Sinks["erp"] = tc.keys
			_, err := r.mgr.ApplySource(context.Background(), sp)
			if !errors.Is(err, relay.ErrInvalid) {
				t.Fatalf("ApplySource = %v, want invalid_request", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if strings.Contains(err.Error(), sinkSecret) || strings.Contains(err.Error(), acmeSecret2) {
				t.Fatalf("error shows a secret: %v", err)
			}
			// Still the old secret and the old sink.
			if code, _ := deliver(t, r.mgr, "acme", acmeSecret2, body(t, "evt_bad_"+tc.name[:3], "trx_bad")); code != http.StatusUnauthorized {
				t.Fatalf("the refused spec's secret verifies: %d", code)
			}
		})
	}
	before := len(tg.got())
	deliver(t, r.mgr, "acme", acmeSecret, body(t, "evt_bad_ok", "trx_bad_ok"))
	waitDelivered(t, tg, before+1)
}

// TestSources_Rotation: add the new secret, both verify; remove the old,
// only the new does; the last secret cannot be removed. No restart.
func TestSources_Rotation(t *testing.T) {
	tg := newTarget(t)
	r := start(t, filepath.Join(t.TempDir(), "relay.db"), testKey(t, 1))
	apply(t, r.mgr, spec("acme", tg.URL, acmeSecret), relay.ApplyCreated)
	ctx := context.Background()
	info, err := r.mgr.AddSourceSecret(ctx, "acme", acmeSecret2)
	if err != nil || len(info.Secrets) != 2 {
		t.Fatalf("AddSourceSecret: %+v, %v", info, err)
	}
	if _, err := r.mgr.AddSourceSecret(ctx, "acme", acmeSecret2); !errors.Is(err, &relay.Error{Code: relay.ECONFLICT}) {
		t.Fatalf("adding a secret twice: %v, want conflict", err)
	}
	for i, sec := range []string{acmeSecret, acmeSecret2} {
		if code, _ := deliver(t, r.mgr, "acme", sec, body(t, "evt_rot_both_"+strconv.Itoa(i), "trx_rot")); code != http.StatusOK {
			t.Fatalf("secret %d during the rotation: %d", i, code)
		}
	}
	oldID := sealed.Fingerprint(acmeSecret)
	if _, err := r.mgr.RemoveSourceSecret(ctx, "acme", oldID); err != nil {
		t.Fatal(err)
	}
	if code, _ := deliver(t, r.mgr, "acme", acmeSecret, body(t, "evt_rot_old", "trx_rot")); code != http.StatusUnauthorized {
		t.Fatalf("the removed secret: %d, want 401", code)
	}
	if code, _ := deliver(t, r.mgr, "acme", acmeSecret2, body(t, "evt_rot_new", "trx_rot")); code != http.StatusOK {
		t.Fatalf("the new secret: %d, want 200", code)
	}
	_, err = r.mgr.RemoveSourceSecret(ctx, "acme", sealed.Fingerprint(acmeSecret2))
	if !errors.Is(err, relay.ErrInvalid) || !strings.Contains(err.Error(), "last") {
		t.Fatalf("removing the last secret: %v, want refused", err)
	}
}

// TestSources_DisableAndDeleteDrain: disabling or deleting a source stops
// intake at once, while what it had pending still reaches its sink; a
// deleted source's record goes once its sinks drained.
func TestSources_DisableAndDeleteDrain(t *testing.T) {
	tg := newTarget(t)
	hold := make(chan struct{})
	tg.hold = hold
	r := start(t, filepath.Join(t.TempDir(), "relay.db"), testKey(t, 1))
	apply(t, r.mgr, spec("acme", tg.URL, acmeSecret), relay.ApplyCreated)
	ctx := context.Background()
	for i := range 3 {
		if code, _ := deliver(t, r.mgr, "acme", acmeSecret, body(t, "evt_drain_"+strconv.Itoa(i), "trx_drain_"+strconv.Itoa(i))); code != http.StatusOK {
			t.Fatal(code)
		}
	}
	if _, err := r.mgr.SetSourceEnabled(ctx, "acme", false); err != nil {
		t.Fatal(err)
	}
	if code, _ := deliver(t, r.mgr, "acme", acmeSecret, body(t, "evt_drain_off", "trx_drain_off")); code != http.StatusNotFound {
		t.Fatalf("disabled source: %d, want 404", code)
	}
	if err := r.mgr.DeleteSource(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.mgr.ShowSource(ctx, "acme"); !errors.Is(err, relay.ErrNotFound) {
		t.Fatalf("show a deleted source: %v, want not found", err)
	}
	list, err := r.mgr.ListSources(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("list after delete: %+v, %v", list, err)
	}
	if _, err := r.st.GetSource(ctx, "acme"); err != nil {
		t.Fatalf("the deleted source's record went while its sink had work pending: %v", err)
	}
	tg.mu.Lock()
	tg.hold = nil
	tg.mu.Unlock()
	close(hold)
	waitDelivered(t, tg, 3)
	testkit.Eventually(t, 10*time.Second, "the drained source's record to go", func() bool {
		if err := r.mgr.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := r.st.GetSource(ctx, "acme")
		return errors.Is(err, relay.ErrNotFound)
	})
	// The name is free again.
	apply(t, r.mgr, spec("acme", tg.URL, acmeSecret), relay.ApplyCreated)
}

// TestSources_AtRestAndRestart: a restarted relay serves the stored
// sources; the database file holds no secret in plain text; under another
// master key a source is not served and says why, and the others are.
func TestSources_AtRestAndRestart(t *testing.T) {
	tg := newTarget(t)
	path := filepath.Join(t.TempDir(), "relay.db")
	r := start(t, path, testKey(t, 1))
	apply(t, r.mgr, spec("acme", tg.URL, acmeSecret), relay.ApplyCreated)
	r.stop()
	if err := r.st.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{acmeSecret, sinkSecret, strings.TrimPrefix(acmeSecret, "whsec_"), strings.TrimPrefix(sinkSecret, "whsec_")} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("the database file holds a secret in plain text (%s…)", s[:8])
		}
	}

	again := start(t, path, testKey(t, 1))
	if code, _ := deliver(t, again.mgr, "acme", acmeSecret, body(t, "evt_restart", "trx_restart")); code != http.StatusOK {
		t.Fatalf("after a restart: %d, want 200", code)
	}
	waitDelivered(t, tg, 1)
	again.stop()
	if err := again.st.Close(); err != nil {
		t.Fatal(err)
	}

	other := start(t, path, testKey(t, 2))
	if other.mgr.Intake("acme") != nil {
		t.Fatal("served under another master key")
	}
	list, err := other.mgr.ListSources(context.Background())
	if err != nil || len(list) != 1 || !strings.Contains(list[0].Error, "RELAY_MASTER_KEY") {
		t.Fatalf("list under another key: %+v, %v; want the source with an error naming RELAY_MASTER_KEY", list, err)
	}
}

// TestSources_DeleteGrace: a deleted source's record stays a grace period
// (default a minute) even when its sinks look drained, since another
// replica may have accepted a delivery for it just before it saw the
// delete; after it, the sweep removes the record.
func TestSources_DeleteGrace(t *testing.T) {
	tg := newTarget(t)
	st := testkit.OpenStoreAt(t, filepath.Join(t.TempDir(), "relay.db"), store.Options{})
	disp := relay.NewDispatcher(st, nil, relay.DispatcherOptions{})
	clock := testkit.NewClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	mgr := sources.New(st, testKey(t, 1), sources.Options{Events: st, Dispatcher: disp, Notify: disp.Notify,
		CloudEventsSource: "tagihanai", Deps: sinks.Deps{HTTP: http.DefaultClient, Stdout: io.Discard}, Now: clock.Now})
	if err := disp.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { disp.Stop(); mgr.Close() })
	ctx := context.Background()
	apply(t, mgr, spec("acme", tg.URL, acmeSecret), relay.ApplyCreated)
	if err := mgr.DeleteSource(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Second)
	if err := mgr.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSource(ctx, "acme"); err != nil {
		t.Fatalf("swept within the grace: %v", err)
	}
	clock.Advance(2 * time.Second)
	if err := mgr.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetSource(ctx, "acme"); !errors.Is(err, relay.ErrNotFound) {
		t.Fatalf("after the grace: %v, want the record gone", err)
	}
}
