package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// browserUpdateScreenshots rewrites docs/console/*.png from the browser test.
var browserUpdateScreenshots = flag.Bool("update-screenshots", false, "write the console's screenshots to docs/console/")

// browserChromium is where the Debian package chromium puts the browser
// (.ci/install-chromium.sh installs it).
const browserChromium = "/usr/bin/chromium"

// TestConsole_Browser drives the console in headless Chromium against a
// running relay with fake sinks: it logs in, searches for a document
// number, opens the event, redrives a dead letter and resolves a
// needs-review item, taking a screenshot of each page.
func TestConsole_Browser(t *testing.T) {
	if _, err := os.Stat(browserChromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: run .ci/install-chromium.sh", browserChromium)
		}
		t.Skipf("%s is missing (run .ci/install-chromium.sh); skipping the real-browser test", browserChromium)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// erp answers 400 to the invoice until the test fixes it; other events
	// it accepts.
	var erpFixed atomic.Bool
	erp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !erpFixed.Load() && bytes.Contains(body, []byte("INV-2026-0042")) {
			http.Error(w, `{"error":"customer code unknown"}`, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer erp.Close()
	// AccountingPlus takes the invoice and never answers: past the sink's
	// timeout the outcome is unknown, so the delivery needs review.
	release := make(chan struct{})
	ap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer ap.Close()
	defer close(release)

	const secret, token = "whsec_console_browser_test", "admin-token-for-the-browser-test"
	relayCtx, stopRelay := context.WithCancel(ctx)
	stderr := &browserLog{}
	done := make(chan error, 1)
	go func() {
		done <- run(relayCtx, []string{"serve"}, []string{
			"RELAY_DATA_DIR=" + t.TempDir(),
			"RELAY_LISTEN_ADDR=127.0.0.1:0", "RELAY_ADMIN_ADDR=127.0.0.1:0",
			"RELAY_ADMIN_TOKEN=" + token, "RELAY_SHUTDOWN_TIMEOUT=5s",
			"TAGIHANAI_WEBHOOK_SECRETS=" + secret,
			"RELAY_SINKS=erp,ap",
			"SINK_ERP_KIND=http", "SINK_ERP_URL=" + erp.URL,
			"SINK_AP_KIND=accountingplus", "SINK_AP_BASE_URL=" + ap.URL, "SINK_AP_TIMEOUT=300ms",
			"SINK_AP_CLIENT_ID=relay-test", "SINK_AP_CLIENT_SECRET=client-secret-0123456789",
			"SINK_AP_SIGNATURE_SECRET=signature-secret-0123456789", "SINK_AP_EMAIL=finance@example.co.id",
			"SINK_AP_TENANT_ID=tenant-1", "SINK_AP_DEFAULT_ITEM_CODE=JASA-000",
		}, strings.NewReader(""), io.Discard, stderr)
	}()
	defer func() {
		stopRelay()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("relay: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the relay did not stop")
		}
	}()
	public, admin := browserWaitListening(t, stderr, done)
	api := &browserAdmin{base: "http://" + admin, token: token}

	// Events: the invoice (dead at erp, needs review at AccountingPlus) and
	// a few others that erp takes.
	key, err := signature.DecodeSecret(secret, "raw")
	if err != nil {
		t.Fatal(err)
	}
	invoice := browserSend(t, public, key, "transaction.sent", fixtures.Options{DocumentNumber: "INV-2026-0042"})
	browserSend(t, public, key, "transaction.paid", fixtures.Options{DocumentNumber: "INV-2026-0037"})
	browserSend(t, public, key, "payment.completed", fixtures.Options{DocumentNumber: "INV-2026-0037"})
	browserSend(t, public, key, "party.updated", fixtures.Options{})
	api.waitState(t, invoice, "erp", relay.StateDead)
	api.waitState(t, invoice, "ap", relay.StateNeedsReview)

	// The browser.
	h, stopBrowser := startHeadless(ctx, t)
	defer stopBrowser()
	b := h.ctx

	ui := "http://" + admin
	shots := newBrowserShots(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	wantText := func(sel string, want ...string) {
		t.Helper()
		got := text(sel)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Fatalf("%s says %q, want it to contain %q", sel, got, w)
			}
		}
	}

	// Log in: / redirects to /ui/, which asks for the token.
	step("open the console", chromedp.Navigate(ui+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	shots.take(b, "login")
	step("log in",
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.SetValue(chromedp.ID("name"), "Ana"),
		chromedp.Click(chromedp.CSS(`.login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#live table.sinks`)),
	)
	wantText(".who .operator", "Ana")
	wantText("#live", "erp", "ap", "accepted")
	shots.take(b, "overview")

	// The overview refreshes itself, without a reload: a marker set on the
	// page survives while a new delivery shows up in the ingest counts.
	accepted := `[...document.querySelectorAll("#live dt")].find(e => e.textContent === "accepted").nextElementSibling.textContent`
	if _, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.relayTestMarker = true`)); err != nil {
		t.Fatal(err)
	}
	browserSend(t, public, key, "transaction.viewed", fixtures.Options{DocumentNumber: "INV-2026-0037"})
	browserWaitFor(t, 15*time.Second, "the overview to show 5 accepted deliveries", func() bool {
		n, err := chromedp.Run(b, chromedp.Evaluate[string](accepted))
		return err == nil && n == "5"
	})
	if kept, err := chromedp.Run(b, chromedp.Evaluate[bool](`window.relayTestMarker === true`)); err != nil || !kept {
		t.Fatalf("the overview reloaded the page to refresh (err %v)", err)
	}

	// Search for the invoice's document number and open it.
	step("search",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/events"]`)),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "INV-2026-0042\r"),
		// The results page echoes the query in the box's value attribute.
		chromedp.WaitVisible(chromedp.CSS(`input#q[value="INV-2026-0042"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.doc[href="/ui/events/`+invoice+`"]`)),
	)
	wantText("table.events tbody", "INV-2026-0042", "needs_review")
	if rows := text("table.events tbody"); strings.Contains(rows, "INV-2026-0037") {
		t.Fatalf("the search shows other invoices: %s", rows)
	}
	shots.take(b, "events")
	step("open the event",
		chromedp.Click(chromedp.CSS(`a.doc[href="/ui/events/`+invoice+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section.where`)),
	)
	wantText(`article.answer[data-sink="ap"]`, "AccountingPlus", "needs_review", "Unknown")
	wantText(`article.answer[data-sink="erp"]`, "dead", "Not in erp")
	shots.take(b, "event")

	// Redrive the dead letter, now that erp takes the invoice.
	erpFixed.Store(true)
	row := `input[name=sel][value="erp:` + invoice + `"]`
	step("open the dead letters",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/dead-letters"]`)),
		chromedp.WaitVisible(chromedp.CSS(row)),
		// console.js disables the bulk button while nothing is ticked.
		chromedp.WaitReady(chromedp.CSS(`#redrive-selected[disabled]`)),
	)
	shots.take(b, "dead-letters")
	step("tick and redrive",
		chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitEnabled(chromedp.ID("redrive-selected")),
		chromedp.Click(chromedp.ID("redrive-selected")),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	wantText("p.flash", "1 dead delivery redriven.")
	api.waitState(t, invoice, "erp", relay.StateDelivered)
	step("reload the dead letters", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`table.deadletters`)))
	if gone, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.querySelector('`+row+`') === null`)); err != nil || !gone {
		t.Fatalf("the dead letter is still listed after the redrive (err %v)", err)
	}

	// Resolve the needs-review item: the operator found the document.
	step("open needs review",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/review"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.review a.button`)),
	)
	wantText("table.review", invoice, "ap", "outcome unknown")
	shots.take(b, "review")
	step("confirm",
		chromedp.Click(chromedp.CSS(`table.review a.button`)),
		chromedp.WaitVisible(chromedp.CSS(`form.resolve-delivered input[name=document_number]`)),
	)
	wantText("form.resolve-retry", "a retry may create a second document")
	shots.take(b, "resolve")
	step("mark delivered",
		chromedp.SendKeys(chromedp.CSS(`form.resolve-delivered input[name=document_number]`), "AP/INV/2026/0042"),
		chromedp.Click(chromedp.CSS(`form.resolve-delivered button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	wantText("p.flash", "Marked delivered to ap with document AP/INV/2026/0042.")
	wantText("table.review tbody", "Nothing needs review.")

	// The event now answers the question: in AccountingPlus once, and the
	// history says who did what.
	d := api.event(t, invoice)
	var ops []string
	for _, o := range d.Operations {
		ops = append(ops, o.Operator+" "+o.Action+" "+o.Sink)
	}
	if want := []string{"console:Ana redrive erp", "console:Ana resolve:delivered ap"}; strings.Join(ops, "; ") != strings.Join(want, "; ") {
		t.Errorf("history = %q, want %q", ops, want)
	}
	step("open the event again", chromedp.Navigate(ui+"/ui/events/"+invoice), chromedp.WaitVisible(chromedp.CSS(`section.where`)))
	wantText(`article.answer[data-sink="ap"]`, "AP/INV/2026/0042", "In AccountingPlus once: console:Ana found it there")
	wantText(`article.answer[data-sink="erp"]`, "delivered")
	shots.take(b, "event-resolved")

	// Log out ends the session.
	step("log out",
		chromedp.Click(chromedp.CSS(`.who button`)),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.Navigate(ui+"/ui/events"),
		chromedp.WaitVisible(chromedp.ID("token")),
	)

	h.checkConsole(t)
}

// headless is a headless Chromium whose pages' console is watched.
type headless struct {
	ctx         context.Context // the browser tab
	stopConsole func()
	consoleDone sync.WaitGroup
	problems    []string // what the pages logged as errors or warnings
}

// startHeadless starts headless Chromium (the tests' fixed flags, a fresh
// profile) and collects what its pages log: a CSP violation or a script
// error is one. The caller defers stop.
func startHeadless(ctx context.Context, t *testing.T) (h *headless, stop func()) {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browserChromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	b, cancelBrowser := chromedp.NewContext(allocCtx)
	stop = func() {
		cancelBrowser()
		cancelAlloc()
	}
	h = &headless{ctx: b}
	consoleCtx, stopConsole := context.WithCancel(b)
	h.stopConsole = stopConsole
	if err := chromedp.Do(b, chromedp.EmulateViewport(1280, 900)); err != nil {
		stop()
		t.Fatalf("start Chromium: %v", err)
	}
	messages := chromedp.Console(consoleCtx)
	h.consoleDone.Add(1)
	go func() {
		defer h.consoleDone.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.Type == chromedp.ConsoleException {
				h.problems = append(h.problems, fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL))
			}
		}
	}()
	return h, stop
}

// checkConsole stops watching the console and fails the test with what
// the pages reported.
func (h *headless) checkConsole(t *testing.T) {
	t.Helper()
	h.stopConsole()
	h.consoleDone.Wait()
	if len(h.problems) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(h.problems, "\n"))
	}
}

// browserWaitFor polls cond until it holds, failing the test after timeout.
func browserWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// browserLog is an io.Writer the relay logs to while the test reads.
type browserLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *browserLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *browserLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// browserWaitListening waits for the relay's "listening" log line and returns its
// public and admin addresses.
func browserWaitListening(t *testing.T, log *browserLog, done <-chan error) (public, admin string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, line := range strings.Split(log.String(), "\n") {
			var l struct{ Msg, Public, Admin string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
				return l.Public, l.Admin
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the relay stopped: %v\n%s", err, log)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay did not start:\n%s", log)
		}
	}
}

// browserSend posts a signed TagihanAI delivery of typ and returns its id.
func browserSend(t *testing.T, public string, key []byte, typ string, o fixtures.Options) string {
	t.Helper()
	body, err := fixtures.Body(typ, o)
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ ID string }
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+public+"/webhooks/tagihanai", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(relay.HeaderSignature, signature.SignatureHeader(key, strconv.FormatInt(time.Now().Unix(), 10), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		answer, _ := io.ReadAll(resp.Body)
		t.Fatalf("send %s: %s %s", typ, resp.Status, answer)
	}
	return env.ID
}

// browserAdmin reads the admin API the way the CLI does.
type browserAdmin struct {
	base, token string
}

func (a *browserAdmin) event(t *testing.T, id string) *relay.EventDetail {
	t.Helper()
	d, err := a.get(id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (a *browserAdmin) get(id string) (*relay.EventDetail, error) {
	req, err := http.NewRequest(http.MethodGet, a.base+"/v1/events/"+id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/events/%s: %s", id, resp.Status)
	}
	var d relay.EventDetail
	return &d, json.NewDecoder(resp.Body).Decode(&d)
}

// waitState polls the admin API until id's delivery to sink is in state.
func (a *browserAdmin) waitState(t *testing.T, id, sink, state string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := "no delivery"
	for time.Now().Before(deadline) {
		d, err := a.get(id)
		if err != nil && !errors.Is(err, context.Canceled) {
			last = err.Error()
		}
		if d != nil {
			for _, ds := range d.Deliveries {
				if ds.Sink == sink {
					last = ds.State + " " + ds.LastError
					if ds.State == state {
						return
					}
				}
			}
		}
		<-tick.C
	}
	t.Fatalf("%s at %s: still %s, want %s", id, sink, last, state)
}

// browserShots saves full-page PNGs into the test's temp dir and, with
// -update-screenshots, into docs/console/.
type browserShots struct {
	t   *testing.T
	dir string
}

func newBrowserShots(t *testing.T) *browserShots {
	return &browserShots{t: t, dir: t.TempDir()}
}

func (s *browserShots) take(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if *browserUpdateScreenshots {
		docs := filepath.Join("..", "..", "docs", "console")
		if err := os.MkdirAll(docs, 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(docs, name+".png"), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}
