package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// TestConsole_SourcesBrowser drives the sources page in headless Chromium
// against a running relay serving a run-time source, acme, made through
// the admin API: it checks acme's row, opens it (its figures), adds a
// signing secret through the password box, disables acme through the
// confirmed form, and checks through the API and at the ingest path that
// acme's intake stopped. No page may hold a secret.
func TestConsole_SourcesBrowser(t *testing.T) {
	if _, err := os.Stat(browserChromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: run .ci/install-chromium.sh", browserChromium)
		}
		t.Skipf("%s is missing (run .ci/install-chromium.sh); skipping the real-browser test", browserChromium)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const (
		envSecret  = "whsec_sources_browser_environment"
		acmeSecret = "whsec_dGVzdC1zZWNyZXQtYWNtZQ=="
		newSecret  = "whsec_cm90YXRlZC1zZWNyZXQtYWNtZQ=="
		token      = "admin-token-for-the-sources-browser-test"
	)
	relayCtx, stopRelay := context.WithCancel(ctx)
	stderr := &browserLog{}
	done := make(chan error, 1)
	go func() {
		done <- run(relayCtx, []string{"serve"}, []string{
			"RELAY_DATA_DIR=" + t.TempDir(),
			"RELAY_LISTEN_ADDR=127.0.0.1:0", "RELAY_ADMIN_ADDR=127.0.0.1:0",
			"RELAY_ADMIN_TOKEN=" + token, "RELAY_SHUTDOWN_TIMEOUT=5s",
			"TAGIHANAI_WEBHOOK_SECRETS=" + envSecret,
			"RELAY_SINKS=log", "SINK_LOG_KIND=stdout",
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

	// acme, through the admin API, and one delivery to it.
	status, answer := api.sourceCall(t, http.MethodPut, "/v1/sources/acme",
		`{"secrets":["`+acmeSecret+`"],"sinks":{"log":{"KIND":"stdout"}}}`)
	if status != http.StatusCreated {
		t.Fatalf("PUT /v1/sources/acme: %d %s", status, answer)
	}
	acmeID, newID := sealed.Fingerprint(acmeSecret), sealed.Fingerprint(newSecret)
	if got := browserSendSource(t, public, "acme", acmeSecret); got != http.StatusOK {
		t.Fatalf("a delivery to acme: %d, want 200", got)
	}

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
	wantText := func(sel string, want ...string) {
		t.Helper()
		got, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Fatalf("%s says %q, want it to contain %q", sel, got, w)
			}
		}
	}
	// noSecret fails when the page, as the browser has it, holds a secret.
	noSecret := func(page string) {
		t.Helper()
		html, err := chromedp.Run(b, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		if err != nil {
			t.Fatalf("read the %s page: %v", page, err)
		}
		for _, s := range []string{envSecret, acmeSecret, newSecret, strings.TrimPrefix(acmeSecret, "whsec_"), strings.TrimPrefix(newSecret, "whsec_")} {
			if strings.Contains(html, s) {
				t.Fatalf("the %s page holds the secret %q", page, s)
			}
		}
	}

	step("log in",
		chromedp.Navigate(ui+"/ui/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.SetValue(chromedp.ID("name"), "Ana"),
		chromedp.Click(chromedp.CSS(`.login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#live table.sinks`)),
	)

	// The list: acme next to the environment's source.
	acmeRow := `table.sources tr[data-source="acme"]`
	step("open the sources",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/sources"]`)),
		chromedp.WaitVisible(chromedp.CSS(acmeRow)),
	)
	wantText(acmeRow, "acme", "enabled", "1: "+acmeID, "log (stdout)", "/webhooks/tagihanai/acme")
	wantText(`table.sources tr[data-source="default"]`, "default", "environment", "1: "+sealed.Fingerprint(envSecret), "/webhooks/tagihanai")
	noSecret("sources")
	shots.take(b, "sources")

	// acme's page, with its figures. (Received, last 24 h, is not checked:
	// serve does not give the manager a Received counter yet, so it is 0.)
	step("open acme",
		chromedp.Click(chromedp.CSS(acmeRow+` a[href="/ui/sources/acme"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.disable-source`)),
	)
	for _, stat := range []string{"received_24h", "pending", "in_flight", "dead", "needs_review"} {
		n, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(`dd[data-stat="`+stat+`"]`)))
		if _, perr := strconv.Atoi(n); err != nil || perr != nil {
			t.Fatalf("figure %s = %q (err %v), want a number", stat, n, err)
		}
	}
	wantText(`table.source-sinks tr[data-sink="log"]`, "log", "stdout", "acme/log")
	if n, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll('a[href="/ui/dead-letters?sink=acme%2Flog"]').length`)); err != nil || n != 1 {
		t.Fatalf("links to acme/log's dead letters: %d (err %v), want 1", n, err)
	}
	noSecret("acme")

	// Add a signing secret through the password box.
	if typ, err := chromedp.Run(b, chromedp.Evaluate[string](`document.querySelector('form.add-secret input[name=secret]').type`)); err != nil || typ != "password" {
		t.Fatalf("the secret box is of type %q (err %v), want password", typ, err)
	}
	step("add a secret",
		chromedp.SendKeys(chromedp.CSS(`form.add-secret input[name=secret]`), newSecret),
		chromedp.Click(chromedp.CSS(`form.add-secret button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	wantText("p.flash", "Signing secret "+newID+" added.")
	wantText("table.secrets", acmeID, newID)
	if u, err := chromedp.Run(b, chromedp.Location()); err != nil || strings.Contains(u, "cm90YXRl") {
		t.Fatalf("the page's URL %q holds the secret (err %v)", u, err)
	}
	noSecret("acme after adding a secret")
	if got := api.source(t, "acme"); len(got.Secrets) != 2 {
		t.Fatalf("the API lists %d secrets of acme after the add, want 2", len(got.Secrets))
	}

	// Disable acme: the form will not go without the confirmation.
	if valid, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.querySelector('form.disable-source').checkValidity()`)); err != nil || valid {
		t.Fatalf("the disable form is valid without the confirmation (err %v)", err)
	}
	wantText("form.disable-source", "stops intake at once")
	shots.take(b, "source")
	step("disable acme",
		chromedp.Click(chromedp.CSS(`form.disable-source input[name=confirm]`)),
		chromedp.Click(chromedp.CSS(`form.disable-source button`)),
		chromedp.WaitVisible(chromedp.CSS(`form.enable-source`)),
	)
	wantText("p.flash", "Source acme disabled")
	wantText("h1 .source-state", "disabled")
	if got := api.source(t, "acme"); got.Enabled {
		t.Fatal("GET /v1/sources/acme: still enabled after the console disabled it")
	}
	// Intake stopped: the next delivery to acme is unknown_source.
	browserWaitFor(t, 5*time.Second, "acme to refuse deliveries", func() bool {
		return browserSendSource(t, public, "acme", newSecret) == http.StatusNotFound
	})
	step("back to the list",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/sources"]`)),
		chromedp.WaitVisible(chromedp.CSS(acmeRow)),
	)
	wantText(acmeRow, "disabled", "2: ")

	h.checkConsole(t)
}

// sourceCall sends a JSON request to the admin API and returns the status
// and the answer.
func (a *browserAdmin) sourceCall(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, answer
}

// source reads GET /v1/sources/{name}.
func (a *browserAdmin) source(t *testing.T, name string) relay.SourceInfo {
	t.Helper()
	status, answer := a.sourceCall(t, http.MethodGet, "/v1/sources/"+name, "")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/sources/%s: %d %s", name, status, answer)
	}
	var info relay.SourceInfo
	if err := json.Unmarshal(answer, &info); err != nil {
		t.Fatalf("GET /v1/sources/%s: %v", name, err)
	}
	return info
}

// browserSendSource posts a transaction.sent signed with secret (raw
// encoding) to the source's path and returns the status.
func browserSendSource(t *testing.T, public, source, secret string) int {
	t.Helper()
	body, err := fixtures.Body("transaction.sent", fixtures.Options{DocumentNumber: "INV-2026-0500"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := signature.DecodeSecret(secret, "raw")
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+public+relay.SourcePath(source), bytes.NewReader(body))
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
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
