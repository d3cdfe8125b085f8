package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// TestLoadConfig_AdminToken refuses weak admin tokens at start, naming
// the variable and never the value.
func TestLoadConfig_AdminToken(t *testing.T) {
	for _, tt := range []struct {
		name, token string
		wantErr     bool
	}{
		{"Space", " ", true},
		{"Spaces", "                    ", true},
		{"Short", "s3cr3t-tok3n", true},
		{"FifteenChars", "abcdefghijklmno", true},
		{"InnerSpace", "abcdefgh ijklmnopq", true},
		{"Tab", "abcdefgh\tijklmnopq", true},
		{"Newline", "abcdefghijklmnopq\n", true},
		{"NoBreakSpace", "abcdefgh\u00a0ijklmnopq", true},
		{"Control", "abcdefgh\x01ijklmnopq", true},
		{"ShortInRunes", "ééééééééééééééé", true}, // 30 bytes, 15 characters
		{"InvalidUTF8", "abcdefghijklmnop\xff", true},
		{"Sixteen", "abcdefghijklmnop", false},
		{"Hex", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(map[string]string{"RELAY_ADMIN_TOKEN": tt.token})
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("refused a good token: %v", err)
				}
				return
			}
			var ce *relay.ConfigError
			if !errors.As(err, &ce) || ce.Var != "RELAY_ADMIN_TOKEN" {
				t.Fatalf("error %v, want a ConfigError for RELAY_ADMIN_TOKEN", err)
			}
			if strings.TrimSpace(tt.token) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.token)) {
				t.Fatalf("error %q echoes the token", err)
			}
		})
	}
}

func TestLoadConfig_AllowedHostsAndProxies(t *testing.T) {
	c, err := loadConfig(map[string]string{"RELAY_ADMIN_ALLOWED_HOSTS": "Relay.Internal, relay.internal:8443", "RELAY_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.AdminAllowedHosts, ",") != "relay.internal,relay.internal:8443" || len(c.Proxies) != 2 || c.Proxies[1].String() != "fd00::/8" {
		t.Fatalf("hosts %q proxies %v", c.AdminAllowedHosts, c.Proxies)
	}
	for _, tt := range []struct{ name, key, value string }{
		{"ProxyNotCIDR", "RELAY_TRUSTED_PROXIES", "10.0.0.1"},
		{"ProxyBadMask", "RELAY_TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.0/40"},
		{"ProxyName", "RELAY_TRUSTED_PROXIES", "proxy.internal"},
		{"HostWithScheme", "RELAY_ADMIN_ALLOWED_HOSTS", "http://relay.internal"},
		{"HostWithPath", "RELAY_ADMIN_ALLOWED_HOSTS", "relay.internal/ui"},
		{"HostBadPort", "RELAY_ADMIN_ALLOWED_HOSTS", "relay.internal:http"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(map[string]string{tt.key: tt.value})
			var ce *relay.ConfigError
			if !errors.As(err, &ce) || ce.Var != tt.key {
				t.Fatalf("error %v, want a ConfigError for %s", err, tt.key)
			}
		})
	}
}

// TestServe_RefusesWeakToken is the reproduced case: RELAY_ADMIN_TOKEN=' '
// on 0.0.0.0 must not start.
func TestServe_RefusesWeakToken(t *testing.T) {
	stderr := &browserLog{}
	err := run(context.Background(), []string{"serve"}, []string{
		"RELAY_DATA_DIR=" + t.TempDir(), "RELAY_LISTEN_ADDR=127.0.0.1:0", "RELAY_ADMIN_ADDR=0.0.0.0:0",
		"RELAY_ADMIN_TOKEN= ", "TAGIHANAI_WEBHOOK_SECRETS=" + testSecret,
	}, strings.NewReader(""), io.Discard, stderr)
	if err == nil || !strings.Contains(err.Error(), "RELAY_ADMIN_TOKEN") {
		t.Fatalf("run = %v, want an error naming RELAY_ADMIN_TOKEN", err)
	}
	if strings.Contains(stderr.String(), `"listening"`) {
		t.Fatalf("the relay started:\n%s", stderr)
	}
}

// startInProcess runs `serve` in this process with env and returns its
// admin address and captured stdout; it stops when the test ends.
func startInProcess(t *testing.T, env ...string) (admin string, stdout *browserLog, stderr *browserLog) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &browserLog{}, &browserLog{}
	done := make(chan error, 1)
	dataDir := t.TempDir() // before the cleanup below, so removed after the relay stopped
	go func() {
		done <- run(ctx, []string{"serve"}, append([]string{
			"RELAY_DATA_DIR=" + dataDir, "RELAY_LISTEN_ADDR=127.0.0.1:0", "RELAY_ADMIN_ADDR=127.0.0.1:0",
			"TAGIHANAI_WEBHOOK_SECRETS=" + testSecret, "RELAY_SHUTDOWN_TIMEOUT=5s",
		}, env...), strings.NewReader(""), stdout, stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("relay: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("the relay did not stop")
		}
	})
	_, admin = browserWaitListening(t, stderr, done)
	return admin, stdout, stderr
}

// adminDo sends one request to the admin listener.
func adminDo(t *testing.T, client *http.Client, method, url, host string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServe_AdminSecurity runs the whole program in zero-config (no token)
// mode and replays the reproduced attacks: a page posting an unsigned
// event to /v1/import?route=true, and a rebound DNS name reading the
// backup and the console.
func TestServe_AdminSecurity(t *testing.T) {
	admin, stdout, _ := startInProcess(t, "RELAY_ADMIN_ALLOWED_HOSTS=relay.test")
	base := "http://" + admin
	port := admin[strings.LastIndexByte(admin, ':')+1:]
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	body, err := fixtures.Body("transaction.sent", fixtures.Options{EventID: "evt_forged_run", Now: time.Now(), DocumentNumber: "INV-FORGED-9"})
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(relay.ExportRecord{ID: "evt_forged_run", ReceivedAt: time.Now(), Headers: map[string]string{}, BodyBase64: body})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]map[string]string{
		"TextPlainFromEvil": {"Origin": "http://evil.example", "Content-Type": "text/plain"},
		"NDJSONFromEvil":    {"Origin": "http://evil.example", "Content-Type": "application/x-ndjson"},
		"SecFetchCrossSite": {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-ndjson"},
		"TextPlainNoOrigin": {"Content-Type": "text/plain"},
	} {
		status, resp := adminDo(t, client, "POST", base+"/v1/import?route=true", "", h, string(line)+"\n")
		want, code := http.StatusForbidden, `"error":"cross_site"`
		if name == "TextPlainNoOrigin" {
			want, code = http.StatusUnsupportedMediaType, `"error":"unsupported_media_type"`
		}
		if status != want || !strings.Contains(resp, code) {
			t.Errorf("%s: %d %s, want %d %s", name, status, resp, want, code)
		}
	}
	for _, p := range []string{"/v1/backup", "/v1/export", "/ui/", "/metrics"} {
		if status, resp := adminDo(t, client, "GET", base+p, "evil.example:"+port, nil, ""); status != http.StatusForbidden || !strings.Contains(resp, `"error":"forbidden_host"`) {
			t.Errorf("GET %s as evil.example: %d %.100s", p, status, resp)
		}
		if status, _ := adminDo(t, client, "GET", base+p, "relay.test:"+port, nil, ""); status != http.StatusOK {
			t.Errorf("GET %s as relay.test (allowed): %d", p, status)
		}
	}
	status, resp := adminDo(t, client, "GET", base+"/v1/events", "", nil, "")
	if status != http.StatusOK || strings.Contains(resp, "evt_forged_run") || strings.Contains(stdout.String(), "evt_forged_run") {
		t.Fatalf("the forged event got in: %d %s\nstdout: %s", status, resp, stdout)
	}
	// The CLI's own import (no Origin, NDJSON) still works.
	status, resp = adminDo(t, client, "POST", base+"/v1/import", "", map[string]string{"Content-Type": "application/x-ndjson"}, string(line)+"\n")
	if status != http.StatusOK || !strings.Contains(resp, `"imported":1`) {
		t.Fatalf("local import: %d %s", status, resp)
	}
}

// TestServe_AuthFailureMetric checks the wiring of the auth-failure
// counter: wrong bearer tokens and console logins land in
// tagihan_relay_admin_auth_failures_total on /metrics.
func TestServe_AuthFailureMetric(t *testing.T) {
	const token = "admin-token-for-the-metric-test"
	admin, _, stderr := startInProcess(t, "RELAY_ADMIN_TOKEN="+token, "RELAY_TRUSTED_PROXIES=192.0.2.0/24")
	base := "http://" + admin
	client := &http.Client{}
	for range 3 {
		if status, _ := adminDo(t, client, "GET", base+"/v1/backup", "", map[string]string{"Authorization": "Bearer guess-guess-guess-guess", "X-Forwarded-For": "198.51.100.7"}, ""); status != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", status)
		}
	}
	_, metricsText := adminDo(t, client, "GET", base+"/metrics", "", nil, "")
	for _, want := range []string{`tagihan_relay_admin_auth_failures_total{kind="bearer"} 3`, `tagihan_relay_admin_auth_failures_total{kind="login"} 0`} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The log is written in batches: wait for the line, then check there
	// is one.
	testkit.Eventually(t, 10*time.Second, "the failure's log line", func() bool { return strings.Contains(stderr.String(), "admin authentication failed") })
	logs := stderr.String()
	if n := strings.Count(logs, "admin authentication failed"); n != 1 {
		t.Errorf("%d log lines for 3 failures, want 1:\n%s", n, logs)
	}
	// The peer (127.0.0.1) is not a trusted proxy: its X-Forwarded-For is not believed.
	if !strings.Contains(logs, `"remote":"127.0.0.1"`) || strings.Contains(logs, "198.51.100.7") || strings.Contains(logs, "guess-guess") {
		t.Errorf("log of the failures:\n%s", logs)
	}
}
