package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
)

// startNATS runs an in-process NATS server with JetStream on a random port.
func startNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s.ClientURL()
}

// TestServe_NATSBackendTwoReplicas runs two relay processes on one NATS
// JetStream: the same event posted to both is accepted once, either replica
// answers for every event, and the sink gets each event once.
func TestServe_NATSBackendTwoReplicas(t *testing.T) {
	url := startNATS(t)
	target := newCountingTarget(t, true)
	env := []string{"RELAY_BACKEND=nats", "NATS_URL=" + url, "NATS_PREFIX=RELAYTEST",
		"RELAY_SINKS=erp", "SINK_ERP_KIND=http", "SINK_ERP_URL=" + target.srv.URL, "SINK_ERP_TIMEOUT=2s"}
	a := startRelay(t, t.TempDir(), env...)
	b := startRelay(t, t.TempDir(), env...)
	testkit.Eventually(t, 10*time.Second, "both replicas ready", func() bool {
		return getJSON(t, a.public+"/readyz", nil) == http.StatusOK && getJSON(t, b.public+"/readyz", nil) == http.StatusOK
	})
	client := &http.Client{Timeout: 5 * time.Second}

	body := fixture(t, "transaction.paid", "evt_nats_same", "")
	codeA, ansA := post(client, a.public, body)
	codeB, ansB := post(client, b.public, body)
	if codeA != http.StatusOK || codeB != http.StatusOK {
		t.Fatalf("answers %d %s / %d %s", codeA, ansA, codeB, ansB)
	}
	if n := strings.Count(string(ansA)+string(ansB), `"accepted"`); n != 1 {
		t.Fatalf("same event on two replicas accepted %d times: %s / %s", n, ansA, ansB)
	}

	const n = 30
	for i := 0; i < n; i++ {
		p := a
		if i%2 == 1 {
			p = b
		}
		if code, ans := post(client, p.public, fixture(t, "payment.completed", fmt.Sprintf("evt_nats_%02d", i), "")); code != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, code, ans)
		}
	}
	testkit.Eventually(t, 20*time.Second, "every event delivered", func() bool {
		d, _ := target.counts()
		return d == n+1
	})
	if d, total := target.counts(); total != d {
		t.Errorf("sink saw %d requests for %d events (no crash here, so no redelivery expected)", total, d)
	}
	// Replica b answers for an event replica a ingested.
	var ev struct {
		ID         string `json:"id"`
		Deliveries []struct {
			State string `json:"state"`
		} `json:"deliveries"`
	}
	testkit.Eventually(t, 10*time.Second, "replica b shows a's event delivered", func() bool {
		return getJSON(t, b.admin+"/v1/events/evt_nats_00", &ev) == http.StatusOK && len(ev.Deliveries) == 1 && ev.Deliveries[0].State == "delivered"
	})
}

func TestLoadConfig_NATS(t *testing.T) {
	c, err := loadConfig(map[string]string{"RELAY_BACKEND": "nats"})
	if err != nil {
		t.Fatal(err)
	}
	if c.NATSURL != "nats://127.0.0.1:4222" || c.NATSReplicas != 1 || c.NATSPrefix != "TAGIHAN_RELAY" {
		t.Fatalf("NATS defaults: %q %d %q", c.NATSURL, c.NATSReplicas, c.NATSPrefix)
	}
	for _, tt := range []struct{ k, v string }{{"NATS_STREAM_REPLICAS", "7"}, {"NATS_PREFIX", "bad prefix"}, {"NATS_CREDS_FILE", "/no/such/creds"}} {
		if _, err := loadConfig(map[string]string{"RELAY_BACKEND": "nats", tt.k: tt.v}); err == nil || !strings.Contains(err.Error(), tt.k) {
			t.Errorf("%s=%q: %v", tt.k, tt.v, err)
		}
	}
	if got := redactURL("nats://user:secret@h1:4222,nats://h2:4222"); strings.Contains(got, "secret") {
		t.Errorf("redactURL left the password: %s", got)
	}
}
