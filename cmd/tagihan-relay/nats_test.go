package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
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

// TestServe_NATSSourcesOnEveryReplica: with RELAY_BACKEND=nats a source
// needs RELAY_MASTER_KEY (a replica's own data-dir key would not open
// another's secrets); with it, a source PUT through replica a serves on
// replica b without a restart, and disabling it on b stops intake on a.
func TestServe_NATSSourcesOnEveryReplica(t *testing.T) {
	url := startNATS(t)
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	body := `{"secrets":["whsec_nats-replica-source-secret"],"sinks":{"log":{"KIND":"stdout"}}}`

	noKey := startRelay(t, t.TempDir(), "RELAY_BACKEND=nats", "NATS_URL="+url, "NATS_PREFIX=SRCNOKEY")
	if code := putSource(client, noKey.admin, "acme", body); code != http.StatusServiceUnavailable {
		t.Fatalf("PUT without RELAY_MASTER_KEY on NATS: %d, want 503", code)
	}
	if code := getJSON(t, noKey.admin+"/v1/sources/acme", nil); code != http.StatusNotFound {
		t.Fatalf("the refused source: GET %d, want 404 (not stored)", code)
	}

	env := []string{"RELAY_BACKEND=nats", "NATS_URL=" + url, "NATS_PREFIX=SRCKEY", "RELAY_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'k'}, 32))}
	a := startRelay(t, t.TempDir(), env...)
	b := startRelay(t, t.TempDir(), env...)
	if code := putSource(client, a.admin, "acme", body); code != http.StatusCreated {
		t.Fatalf("PUT on a: %d", code)
	}
	post := func(p *relayProc, id string) int {
		t.Helper()
		b := fixture(t, "transaction.paid", id, "")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, _ := http.NewRequest(http.MethodPost, p.public+"/webhooks/tagihanai/acme", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(relay.HeaderSignature, signature.SignatureHeader([]byte("whsec_nats-replica-source-secret"), ts, b))
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	testkit.Eventually(t, 10*time.Second, "replica b to serve the source PUT on a", func() bool { return post(b, "evt_nats_src_b") == http.StatusOK })
	if code := post(a, "evt_nats_src_a"); code != http.StatusOK {
		t.Fatalf("replica a: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, b.admin+"/v1/sources/acme/disable", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("disable on b: %d", res.StatusCode)
	}
	testkit.Eventually(t, 10*time.Second, "replica a to stop intake", func() bool { return post(a, "evt_nats_src_off") == http.StatusNotFound })
}
