package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
)

// countingTarget is an HTTP forward target that counts deliveries per
// webhook-id and can be switched between up (200) and down (503).
type countingTarget struct {
	srv  *httptest.Server
	up   atomic.Bool
	mu   sync.Mutex
	seen map[string]int
}

func newCountingTarget(t *testing.T, up bool) *countingTarget {
	ct := &countingTarget{seen: map[string]int{}}
	ct.up.Store(up)
	ct.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if !ct.up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ct.mu.Lock()
		ct.seen[r.Header.Get("webhook-id")]++
		ct.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(ct.srv.Close)
	return ct
}

func (ct *countingTarget) counts() (distinct, total int) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for _, n := range ct.seen {
		distinct++
		total += n
	}
	return
}

func (ct *countingTarget) has(id string) bool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.seen[id] > 0
}

// TestCrash_ResumeAfterSIGKILLWhileTargetDown: deliveries pending (target
// down) when the relay is killed are all delivered after restart and
// recovery.
func TestCrash_ResumeAfterSIGKILLWhileTargetDown(t *testing.T) {
	dir := t.TempDir()
	target := newCountingTarget(t, false)
	env := []string{"RELAY_SINKS=erp", "SINK_ERP_KIND=http", "SINK_ERP_URL=" + target.srv.URL,
		"SINK_ERP_RETRY_SCHEDULE=50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms,50ms", "SINK_ERP_SIGNING_SECRET=whsec_dGVzdHNlY3JldA=="}
	p := startRelay(t, dir, env...)
	client := &http.Client{Timeout: 5 * time.Second}
	const n = 40
	for i := 0; i < n; i++ {
		if code, body := post(client, p.public, fixture(t, "transaction.paid", fmt.Sprintf("evt_resume_%03d", i), "")); code != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, code, body)
		}
	}
	p.kill()
	client.CloseIdleConnections()
	target.up.Store(true)
	p2 := startRelay(t, dir, env...)
	testkit.Eventually(t, 20*time.Second, "every event delivered after restart", func() bool {
		d, _ := target.counts()
		return d == n
	})
	for i := 0; i < n; i++ {
		if id := fmt.Sprintf("evt_resume_%03d", i); !target.has(id) {
			t.Errorf("%s never delivered", id)
		}
	}
	var stats struct {
		Sinks map[string]struct {
			Pending   int `json:"pending"`
			Delivered int `json:"delivered"`
		} `json:"sinks"`
	}
	testkit.Eventually(t, 10*time.Second, "stats to show all delivered", func() bool {
		getJSON(t, p2.admin+"/v1/stats", &stats)
		return stats.Sinks["erp"].Delivered == n && stats.Sinks["erp"].Pending == 0
	})
}

// TestCrash_AccountingPlusKilledMidRequest: the relay dies while its POST
// to AccountingPlus is in flight. After restart the delivery is in
// needs_review, and AccountingPlus never gets a second request.
func TestCrash_AccountingPlusKilledMidRequest(t *testing.T) {
	dir := t.TempDir()
	var posts atomic.Int32
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	ap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path != "/v1/sales-invoices" {
			http.NotFound(w, r)
			return
		}
		posts.Add(1)
		select {
		case arrived <- struct{}{}:
		default:
		}
		select { // hold the request: the relay dies meanwhile
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "00", "message": "success", "data": map[string]any{"document_number": "00001/FPJ/11/26"}})
	}))
	t.Cleanup(func() { close(release); ap.Close() })
	env := []string{"RELAY_SINKS=ap", "SINK_AP_KIND=accountingplus", "SINK_AP_BASE_URL=" + ap.URL,
		"SINK_AP_CLIENT_ID=client-1", "SINK_AP_CLIENT_SECRET=client-secret", "SINK_AP_SIGNATURE_SECRET=sig-secret",
		"SINK_AP_EMAIL=finance@example.co.id", "SINK_AP_TENANT_ID=841eaf97-c428-47d1-9f6d-c61cc9df7bee", "SINK_AP_DEFAULT_ITEM_CODE=ITM00001"}
	p := startRelay(t, dir, env...)
	client := &http.Client{Timeout: 5 * time.Second}
	const id = "evt_ap_midrequest"
	if code, body := post(client, p.public, fixture(t, "transaction.sent", id, "")); code != http.StatusOK {
		t.Fatalf("post: %d %s", code, body)
	}
	select {
	case <-arrived:
	case <-time.After(15 * time.Second):
		t.Fatalf("AccountingPlus never got the request:\n%s", p.logs())
	}
	p.kill()
	client.CloseIdleConnections()

	p2 := startRelay(t, dir, env...)
	var ev struct {
		Status     string `json:"status"`
		Deliveries []struct {
			Sink  string `json:"sink"`
			State string `json:"state"`
		} `json:"deliveries"`
	}
	testkit.Eventually(t, 10*time.Second, "needs_review after restart", func() bool {
		getJSON(t, p2.admin+"/v1/events/"+id, &ev)
		return len(ev.Deliveries) == 1 && ev.Deliveries[0].State == "needs_review"
	})
	if ev.Status != "needs_review" {
		t.Errorf("event status %q, want needs_review", ev.Status)
	}
	var dl struct {
		DeadLetters []struct {
			EventID string `json:"event_id"`
			State   string `json:"state"`
		} `json:"dead_letters"`
	}
	getJSON(t, p2.admin+"/v1/dead-letters", &dl)
	if len(dl.DeadLetters) != 1 || dl.DeadLetters[0].State != "needs_review" {
		t.Errorf("dead-letters = %+v, want the needs_review item", dl.DeadLetters)
	}
	if n := posts.Load(); n != 1 {
		t.Fatalf("AccountingPlus got %d POSTs, want exactly 1 (no blind retry)", n)
	}
}

// TestCrash_RepeatedKillsUnderLoad is the short fault harness: several
// SIGKILL cycles under load with an HTTP sink that dedups by webhook-id.
// Every acked event is stored and delivered; redeliveries reuse the id.
func TestCrash_RepeatedKillsUnderLoad(t *testing.T) {
	dir := t.TempDir()
	target := newCountingTarget(t, true)
	env := []string{"RELAY_SINKS=erp", "SINK_ERP_KIND=http", "SINK_ERP_URL=" + target.srv.URL, "SINK_ERP_RETRY_SCHEDULE=20ms,50ms,100ms,200ms,500ms"}
	var mu sync.Mutex
	acked := map[string]bool{}
	seq := 0
	for cycle := 0; cycle < 3; cycle++ {
		p := startRelay(t, dir, env...)
		client := &http.Client{Timeout: 5 * time.Second}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					seq++
					id := fmt.Sprintf("evt_cycle_%06d", seq)
					mu.Unlock()
					code, _ := post(client, p.public, fixture(t, "payment.completed", id, ""))
					if code == 0 {
						return
					}
					if code == http.StatusOK {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
					}
				}
			}()
		}
		before := len(acked)
		testkit.Eventually(t, 20*time.Second, "load in this cycle", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acked) >= before+100
		})
		p.kill()
		close(stop)
		wg.Wait()
		client.CloseIdleConnections()
	}
	p := startRelay(t, dir, env...)
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	testkit.Eventually(t, 30*time.Second, "every acked event delivered", func() bool {
		for id := range acked {
			if !target.has(id) {
				return false
			}
		}
		return true
	})
	stored := eventIDs(t, p.admin)
	for id := range acked {
		if stored[id] != 1 {
			t.Errorf("acked %s stored %d times", id, stored[id])
		}
	}
	distinct, total := target.counts()
	t.Logf("acked %d, stored %d, sink saw %d distinct webhook-ids in %d requests (%d at-least-once redeliveries)", want, len(stored), distinct, total, total-distinct)
}
