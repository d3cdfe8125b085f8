package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
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
	p := startRelay(t, t.TempDir(), "RELAY_SINKS=ap", "SINK_AP_KIND=accountingplus", "SINK_AP_BASE_URL="+ap.URL,
		"SINK_AP_CLIENT_ID=client-1", "SINK_AP_CLIENT_SECRET=client-secret", "SINK_AP_SIGNATURE_SECRET=sig-secret",
		"SINK_AP_EMAIL=finance@example.co.id", "SINK_AP_TENANT_ID=tenant-1", "SINK_AP_DEFAULT_ITEM_CODE=ITM00001",
		"SINK_AP_TIMEOUT=300ms", "SINK_AP_EVENTS=transaction.sent,transaction.revised")
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
		waitFor(t, 10*time.Second, id+" "+want, func() bool { d = state(id); return d.State == want })
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
		resp, err := http.Post(p.admin+"/v1/events/evt_a1/replay", "application/json", strings.NewReader(`{"sink":"ap"}`))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("replay: %v %v", err, resp.Status)
		}
		resp.Body.Close()
		waitState("evt_a1", "skipped")
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
		if got := posts("PT Dua"); got != 1 {
			t.Fatalf("unknown outcome was retried: %d POSTs", got)
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
}
