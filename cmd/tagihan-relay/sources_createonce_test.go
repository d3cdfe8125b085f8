package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// TestSources_CreateOncePerWorkspace: two workspaces send the same
// TagihanAI transaction (same event id, same transaction id) to their own
// AccountingPlus tenants. Each tenant gets exactly one sales invoice —
// never zero, never two — and a later transaction.sent of the same
// transaction in one workspace creates nothing more there (SPEC 6:
// create-once records are per source, sink and subject).
func TestSources_CreateOncePerWorkspace(t *testing.T) {
	var mu sync.Mutex
	invoices := map[string]int{} // tenant → sales invoices created
	ap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		raw, err := base64.StdEncoding.DecodeString(r.Header.Get("A-Data"))
		q, qerr := url.ParseQuery(string(raw))
		if r.URL.Path != "/v1/sales-invoices" || r.Method != http.MethodPost || err != nil || qerr != nil ||
			q.Get("tenant_id") == "" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") || r.Header.Get("A-Signature") == "" {
			http.Error(w, `{"status":"99","message":"bad request"}`, http.StatusBadRequest)
			return
		}
		time.Sleep(5 * time.Millisecond) // a real API is not instant
		mu.Lock()
		invoices[q.Get("tenant_id")]++
		doc := fmt.Sprintf("%05d/FPJ/12/26", invoices[q.Get("tenant_id")])
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"00","message":"success","data":{"document_number":%q}}`, doc)
	}))
	defer ap.Close()
	count := func(tenant string) int {
		mu.Lock()
		defer mu.Unlock()
		return invoices[tenant]
	}

	p := startRelay(t, t.TempDir())
	client := &http.Client{Timeout: 10 * time.Second}
	secret := func(ws string) string { return "whsec_" + ws + "-workspace-signing-secret" }
	for _, ws := range []string{"acme", "beta"} {
		body := fmt.Sprintf(`{"secrets":[%q],"sinks":{"ap":{"KIND":"accountingplus","BASE_URL":%q,"CLIENT_ID":"client-%s",
			"CLIENT_SECRET":"client-secret-%s","SIGNATURE_SECRET":"sig-secret-%s","EMAIL":"finance@%s.example","TENANT_ID":"tenant-%s",
			"DEFAULT_ITEM_CODE":"ITM00001","TIMEOUT":"2s"}}}`, secret(ws), ap.URL, ws, ws, ws, ws, ws)
		if code := putSource(client, p.admin, ws, body); code != http.StatusCreated {
			t.Fatalf("PUT %s: %d", ws, code)
		}
	}
	send := func(ws, id, tx string) string {
		t.Helper()
		b := fixture(t, "transaction.sent", id, tx)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, _ := http.NewRequest(http.MethodPost, p.public+"/webhooks/tagihanai/"+ws, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(relay.HeaderSignature, signature.SignatureHeader([]byte(secret(ws)), ts, b))
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		ans, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", ws, id, res.StatusCode, ans)
		}
		return string(ans)
	}
	state := func(id string) string {
		var ev struct {
			Source     string `json:"source"`
			Deliveries []struct {
				Sink  string `json:"sink"`
				State string `json:"state"`
			} `json:"deliveries"`
		}
		getJSON(t, p.admin+"/v1/events/"+id, &ev)
		if len(ev.Deliveries) != 1 || ev.Source+"/ap" != ev.Deliveries[0].Sink {
			return fmt.Sprintf("%+v", ev)
		}
		return ev.Deliveries[0].State
	}

	const tx = "22222222-2222-4222-8222-222222222222"
	for _, ws := range []string{"acme", "beta"} {
		if ans := send(ws, "evt_same_1", tx); !strings.Contains(ans, `"accepted"`) || !strings.Contains(ans, ws+":evt_same_1") {
			t.Fatalf("%s: %s, want accepted as %s:evt_same_1", ws, ans, ws)
		}
	}
	for _, ws := range []string{"acme", "beta"} {
		id := ws + ":evt_same_1"
		testkit.Eventually(t, 15*time.Second, id+" delivered", func() bool { return state(id) == relay.StateDelivered })
	}
	if a, b := count("tenant-acme"), count("tenant-beta"); a != 1 || b != 1 {
		t.Fatalf("invoices: tenant-acme %d, tenant-beta %d; want one each", a, b)
	}

	// TagihanAI retries beta's delivery: a duplicate, nothing new.
	if ans := send("beta", "evt_same_1", tx); !strings.Contains(ans, "duplicate") {
		t.Fatalf("beta's retry: %s, want duplicate", ans)
	}
	// A second transaction.sent of the transaction in acme: skipped there.
	send("acme", "evt_same_2", tx)
	testkit.Eventually(t, 15*time.Second, "acme:evt_same_2 skipped", func() bool { return state("acme:evt_same_2") == relay.StateSkipped })
	if a, b := count("tenant-acme"), count("tenant-beta"); a != 1 || b != 1 {
		t.Fatalf("after retries: tenant-acme %d, tenant-beta %d; want one each", a, b)
	}
}

// TestSend_Source: `send --source NAME --secret S` posts to the source's
// endpoint, signed with its secret; without --secret it is refused before
// anything is sent.
func TestSend_Source(t *testing.T) {
	p := startRelay(t, t.TempDir())
	client := &http.Client{Timeout: 10 * time.Second}
	const sec = "whsec_send-to-a-source-secret"
	if code := putSource(client, p.admin, "acme", `{"secrets":["`+sec+`"],"sinks":{"log":{"KIND":"stdout"}}}`); code != http.StatusCreated {
		t.Fatalf("PUT: %d", code)
	}
	env := []string{"RELAY_LISTEN_ADDR=" + strings.TrimPrefix(p.public, "http://"), "TAGIHANAI_WEBHOOK_SECRETS=" + testSecret}
	out, _, err := runCLI(t, env, "send", "transaction.sent", "--source", "acme", "--secret", sec, "--id", "evt_send_src")
	if err != nil || !strings.Contains(out, `"status":"accepted"`) || !strings.Contains(out, "acme:evt_send_src") {
		t.Fatalf("send --source: %v\n%s", err, out)
	}
	if _, stderr, err := runCLI(t, env, "send", "transaction.sent", "--source", "acme"); err == nil || !strings.Contains(err.Error()+stderr, "--secret") {
		t.Fatalf("send --source without --secret: %v %s, want refused", err, stderr)
	}
	// The environment's secret does not verify at the source.
	out, _, _ = runCLI(t, env, "send", "transaction.sent", "--source", "acme", "--secret", testSecret)
	if !strings.Contains(out, "401") {
		t.Fatalf("send --source with the environment's secret: %s, want 401", out)
	}
}
