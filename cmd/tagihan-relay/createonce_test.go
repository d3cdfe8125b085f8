package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
)

// TestCreateOnce_AccountingPlusEndToEnd drives the real AccountingPlus sink
// through the running relay: one invoice per TagihanAI transaction whatever
// arrives later, and an unknown outcome goes to needs_review.
func TestCreateOnce_AccountingPlusEndToEnd(t *testing.T) {
	var mu sync.Mutex
	postsByDate := map[string]int{}
	stall := map[string]bool{}
	n := 0
	ap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/sales-invoices" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") ||
			r.Header.Get("A-Signature") == "" || r.Header.Get("A-Data") == "" {
			http.Error(w, `{"status":"99","message":"bad request"}`, http.StatusBadRequest)
			return
		}
		var inv struct {
			CustomerName string `json:"customer_name"`
			Items        []struct {
				ItemName string `json:"item_name"`
			} `json:"items"`
		}
		json.Unmarshal(body, &inv)
		key := inv.CustomerName
		mu.Lock()
		n++
		postsByDate[key]++
		doc := fmt.Sprintf("%05d/FPJ/11/26", n)
		stalls := stall[key]
		mu.Unlock()
		if stalls {
			<-r.Context().Done() // never answers: the relay times out after sending
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"00","message":"success","data":{"document_number":%q}}`, doc)
	}))
	defer ap.Close()
	dir := t.TempDir()
	apEnv := []string{"RELAY_SINKS=ap", "SINK_AP_KIND=accountingplus", "SINK_AP_BASE_URL=" + ap.URL,
		"SINK_AP_CLIENT_ID=client-1", "SINK_AP_CLIENT_SECRET=client-secret", "SINK_AP_SIGNATURE_SECRET=sig-secret",
		"SINK_AP_EMAIL=finance@example.co.id", "SINK_AP_TENANT_ID=tenant-1", "SINK_AP_DEFAULT_ITEM_CODE=ITM00001",
		"SINK_AP_TIMEOUT=300ms", "SINK_AP_EVENTS=transaction.sent,transaction.revised"}
	p := startRelay(t, dir, apEnv...)
	client := &http.Client{Timeout: 5 * time.Second}
	// Distinct customers make distinct invoices in the fake.
	send := func(id, tx, customer string) {
		t.Helper()
		body := fixture(t, "transaction.sent", id, tx)
		body = bytes.ReplaceAll(body, []byte(`"PT Maju Jaya"`), []byte(fmt.Sprintf("%q", customer)))
		if code, b := post(client, p.public, body); code != http.StatusOK {
			t.Fatalf("post %s: %d %s", id, code, b)
		}
	}
	type delivery struct {
		Sink      string            `json:"sink"`
		State     string            `json:"state"`
		LastError string            `json:"last_error"`
		Result    map[string]string `json:"result"`
	}
	state := func(id string) delivery {
		var ev struct {
			Deliveries []delivery `json:"deliveries"`
		}
		getJSON(t, p.admin+"/v1/events/"+id, &ev)
		if len(ev.Deliveries) != 1 {
			return delivery{}
		}
		return ev.Deliveries[0]
	}
	waitState := func(id, want string) delivery {
		t.Helper()
		var d delivery
		testkit.Eventually(t, 10*time.Second, id+" "+want, func() bool { d = state(id); return d.State == want })
		return d
	}
	posts := func(customer string) int {
		mu.Lock()
		defer mu.Unlock()
		return postsByDate[customer]
	}

	const txA = "11111111-1111-4111-8111-111111111111"
	send("evt_a1", txA, "PT Satu")
	d := waitState("evt_a1", "delivered")
	if d.Result["document_number"] == "" {
		t.Fatalf("no document number recorded: %+v", d)
	}
	t.Run("SecondTransactionSentSkipped", func(t *testing.T) {
		send("evt_a2", txA, "PT Satu")
		d := waitState("evt_a2", "skipped")
		if !strings.Contains(d.LastError, "already created") {
			t.Errorf("skip reason %q", d.LastError)
		}
	})
	t.Run("DuplicateDeliveryNotRouted", func(t *testing.T) {
		code, b := post(client, p.public, fixture(t, "transaction.sent", "evt_a1", txA))
		if code != http.StatusOK || !strings.Contains(string(b), "duplicate") {
			t.Fatalf("duplicate: %d %s", code, b)
		}
	})
	t.Run("ReplaySkipped", func(t *testing.T) {
		// SPEC 3: a replay never erases what a delivery achieved. The
		// event that created the invoice stays delivered with its number;
		// the replay is in its history as skipped and nothing is sent.
		resp, err := http.Post(p.admin+"/v1/events/evt_a1/replay", "application/json", strings.NewReader(`{"sink":"ap"}`))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("replay: %v %v", err, resp.Status)
		}
		var res struct {
			Queued  *int   `json:"queued"`
			Skipped int    `json:"skipped"`
			Reason  string `json:"reason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || res.Queued == nil || *res.Queued != 0 || res.Skipped != 1 || !strings.Contains(res.Reason, d.Result["document_number"]) {
			t.Fatalf("replay answer %+v (%v), want queued 0, skipped 1, a reason naming %s", res, err, d.Result["document_number"])
		}
		if got := state("evt_a1"); got.State != "delivered" || got.Result["document_number"] != d.Result["document_number"] {
			t.Fatalf("after the replay: %+v, want delivered with %s", got, d.Result["document_number"])
		}

		// The CLI, as an operator runs it on a terminal: what happened, exit 0.
		out, code := runOnTerminal(t, nil, "replay", "evt_a1", "--sink", "ap", "--admin", p.admin)
		want := "evt_a1 → ap: skipped: document " + d.Result["document_number"] + " already created for "
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "by event evt_a1; the replay sent nothing") ||
			!strings.Contains(out, "selected 1, queued 0, skipped 1, failed 0") || strings.Contains(out, "sent 1") {
			t.Fatalf("replay evt_a1 --sink ap: exit %d\n%s\nwant exit 0, %q and the summary queued 0, skipped 1", code, out, want)
		}
		// Another event of the transaction: skipped for the one that created it.
		out, code = runOnTerminal(t, nil, "replay", "evt_a2", "evt_a1", "--sink", "ap", "--admin", p.admin)
		if code != 0 || !strings.Contains(out, "evt_a2 → ap: skipped: document "+d.Result["document_number"]) ||
			!strings.Contains(out, "selected 2, queued 0, skipped 2, failed 0") {
			t.Fatalf("replay evt_a2 evt_a1 --sink ap: exit %d\n%s", code, out)
		}
		// Piped, the summary is JSON with each event's result.
		cmd := exec.Command(os.Args[0], "replay", "evt_a1", "--sink", "ap", "--admin", p.admin)
		cmd.Env = []string{childEnv + "=1", "PATH=" + os.Getenv("PATH")}
		js, err := cmd.Output()
		var sum struct {
			Queued  *int `json:"queued"`
			Skipped int  `json:"skipped"`
			Failed  int  `json:"failed"`
			Results []struct {
				ID      string `json:"id"`
				Skipped int    `json:"skipped"`
				Reason  string `json:"reason"`
			} `json:"results"`
		}
		if err != nil || json.Unmarshal(js, &sum) != nil || sum.Queued == nil || *sum.Queued != 0 || sum.Skipped != 1 || sum.Failed != 0 ||
			len(sum.Results) != 1 || sum.Results[0].ID != "evt_a1" || !strings.Contains(sum.Results[0].Reason, "already created") {
			t.Fatalf("replay --sink piped: %v\n%s", err, js)
		}
		out, code = runOnTerminal(t, nil, "events", "show", "evt_a1", "--admin", p.admin)
		if code != 0 || !strings.Contains(out, "delivered") || !strings.Contains(out, "document="+d.Result["document_number"]) ||
			strings.Count(out, "the replay sent nothing") != 8 || strings.Count(out, " replay:skipped ap ") != 4 {
			// Four replays: each in the delivery's history and in the operator history.
			t.Fatalf("events show evt_a1: exit %d\n%s\nwant delivered with its document and the four replays in its history", code, out)
		}
		if got := state("evt_a1"); got.State != "delivered" || got.Result["document_number"] != d.Result["document_number"] {
			t.Fatalf("after the CLI replays: %+v, want delivered with %s", got, d.Result["document_number"])
		}
	})
	if got := posts("PT Satu"); got != 1 {
		t.Fatalf("AccountingPlus got %d invoices for one transaction, want 1", got)
	}

	t.Run("TimeoutAfterSendingNeedsReview", func(t *testing.T) {
		const txB = "22222222-2222-4222-8222-222222222222"
		mu.Lock()
		stall["PT Dua"] = true
		mu.Unlock()
		send("evt_b1", txB, "PT Dua")
		waitState("evt_b1", "needs_review")
		send("evt_b2", txB, "PT Dua")
		// The later event of the transaction waits behind the review.
		// Waiting behind the review means pending with no due time at all
		// (not scheduled), so it cannot be sent until the review is settled.
		var ev struct {
			Deliveries []struct {
				State         string     `json:"state"`
				NextAttemptAt *time.Time `json:"next_attempt_at"`
			} `json:"deliveries"`
		}
		getJSON(t, p.admin+"/v1/events/evt_b2", &ev)
		if len(ev.Deliveries) != 1 || ev.Deliveries[0].State != "pending" || ev.Deliveries[0].NextAttemptAt != nil {
			t.Fatalf("second event of a reviewed transaction: %+v, want pending with no next attempt (waiting)", ev.Deliveries)
		}
		// It says what it waits for, in the API and in events show.
		var w struct {
			Deliveries []struct {
				WaitingFor      string `json:"waiting_for"`
				WaitingForState string `json:"waiting_for_state"`
			} `json:"deliveries"`
		}
		getJSON(t, p.admin+"/v1/events/evt_b2", &w)
		if len(w.Deliveries) != 1 || w.Deliveries[0].WaitingFor != "evt_b1" || w.Deliveries[0].WaitingForState != "needs_review" {
			t.Fatalf("evt_b2 waiting_for %+v, want evt_b1 (needs_review)", w.Deliveries)
		}
		if out, code := runOnTerminal(t, nil, "events", "show", "evt_b2", "--admin", p.admin); code != 0 ||
			!strings.Contains(out, "pending      attempts=0 · waiting for evt_b1 (needs_review)") {
			t.Fatalf("events show evt_b2: exit %d\n%s\nwant it waiting for evt_b1 (needs_review)", code, out)
		}
		if got := posts("PT Dua"); got != 1 {
			t.Fatalf("unknown outcome was retried: %d POSTs", got)
		}
		// events show gives the operator what settles it: what to look for
		// in AccountingPlus, the exact body sent, and the two commands.
		out, code := runOnTerminal(t, nil, "events", "show", "evt_b1", "--admin", p.admin)
		for _, want := range []string{
			"needs review: the last attempt's outcome is unknown",
			"look in ap for:", "Customer          PT Dua", "Transaction       " + txB, "Total             IDR ",
			"request sent at ", `"customer_name": "PT Dua"`, `"items": [`,
			"tagihan-relay events resolve evt_b1 --sink ap --delivered --document-number NUMBER",
			"tagihan-relay events resolve evt_b1 --sink ap --retry",
		} {
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("events show evt_b1: exit %d\n%s\nwant %q", code, out, want)
			}
		}
		resp, err := http.Post(p.admin+"/v1/events/evt_b1/resolve", "application/json",
			strings.NewReader(`{"sink":"ap","outcome":"delivered","result":{"document_number":"00099/FPJ/11/26"}}`))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("resolve: %v %v", err, resp.Status)
		}
		resp.Body.Close()
		waitState("evt_b1", "delivered")
		d := waitState("evt_b2", "skipped")
		if !strings.Contains(d.LastError, "00099/FPJ/11/26") {
			t.Errorf("skip reason %q does not name the resolved document", d.LastError)
		}
		if got := posts("PT Dua"); got != 1 {
			t.Fatalf("AccountingPlus got %d POSTs for the reviewed transaction, want 1", got)
		}
	})

	t.Run("OfflineReplaySkipped", func(t *testing.T) {
		// replay --db, with the service stopped, knows from the
		// configuration that ap creates once.
		if err := p.stop(); err != nil {
			t.Fatalf("stop: %v\n%s", err, p.logs())
		}
		env := append([]string{"TAGIHANAI_WEBHOOK_SECRETS=" + testSecret, "RELAY_DATA_DIR=" + dir}, apEnv...)
		out, code := runOnTerminal(t, env, "replay", "evt_a1", "--sink", "ap", "--db", dir+"/relay.db")
		if code != 0 || !strings.Contains(out, "evt_a1 → ap: skipped: document "+d.Result["document_number"]) ||
			!strings.Contains(out, "selected 1, queued 0, skipped 1, failed 0") {
			t.Fatalf("replay --db: exit %d\n%s", code, out)
		}
	})
	if got := posts("PT Satu"); got != 1 {
		t.Fatalf("AccountingPlus got %d invoices for one transaction, want 1", got)
	}
}

// TestReplay_SinkCLI: replay --sink to a sink that is not create-once
// queues a delivered event again and says so; a refused replay fails.
func TestReplay_SinkCLI(t *testing.T) {
	sent := make(chan string, 8)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent <- r.Header.Get("webhook-id")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()
	p := startRelay(t, t.TempDir(), "RELAY_SINKS=erp", "SINK_ERP_KIND=http", "SINK_ERP_URL="+app.URL)
	client := &http.Client{Timeout: 5 * time.Second}
	if code, b := post(client, p.public, fixture(t, "transaction.sent", "evt_r1", "")); code != http.StatusOK {
		t.Fatalf("post: %d %s", code, b)
	}
	if got := <-sent; got != "evt_r1" {
		t.Fatalf("first delivery %q, want evt_r1", got)
	}
	testkit.Eventually(t, 10*time.Second, "evt_r1 delivered", func() bool {
		var ev struct {
			Status string `json:"status"`
		}
		getJSON(t, p.admin+"/v1/events/evt_r1", &ev)
		return ev.Status == "delivered"
	})
	out, code := runOnTerminal(t, nil, "replay", "evt_r1", "--sink", "erp", "--admin", p.admin)
	if code != 0 || !strings.Contains(out, "evt_r1 → erp: queued") || !strings.Contains(out, "selected 1, queued 1, skipped 0, failed 0") {
		t.Fatalf("replay --sink erp: exit %d\n%s", code, out)
	}
	select {
	case got := <-sent:
		if got != "evt_r1" {
			t.Fatalf("replayed delivery %q, want evt_r1", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the replay was not sent")
	}
	out, code = runOnTerminal(t, nil, "replay", "evt_missing", "--sink", "erp", "--admin", p.admin)
	if code == 0 || !strings.Contains(out, "evt_missing: admin API: 404") || !strings.Contains(out, "queued 0, skipped 0, failed 1") {
		t.Fatalf("replay of a missing event: exit %d\n%s\nwant a failure", code, out)
	}
}
