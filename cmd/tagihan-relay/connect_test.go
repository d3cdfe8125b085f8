package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
	"github.com/tagihan-relay/tagihan-relay/tagihanai/tagihanaitest"
)

// TestConnectReconcile_CLI: `connect` against the real relay (a child
// process) and a fake TagihanAI exits 0 once the test event arrived;
// `reconcile` reports what TagihanAI gave up on (exit 1) as SPEC 7's JSON;
// no output holds the API key.
func TestConnectReconcile_CLI(t *testing.T) {
	const key = "sk_live_cli_connect_key_0001"
	ta := tagihanaitest.New(t, key)
	p := startRelay(t, t.TempDir(), "TAGIHANAI_API_BASE_URL="+ta.URL(), "RELAY_TAGIHANAI_MAX_RPS=0")
	env := []string{"TAGIHANAI_WEBHOOK_SECRETS=" + testSecret}
	var outputs []string
	run := func(args ...string) (string, error) {
		t.Helper()
		out, stderr, err := runCLI(t, env, append(args, "--admin", p.admin)...)
		outputs = append(outputs, out, stderr)
		return out + stderr, err
	}

	out, err := run("connect", "acme", "--api-key", key, "--public-url", p.public)
	if err != nil || !strings.Contains(out, "connected acme") || !strings.Contains(out, "test event: received and verified") {
		t.Fatalf("connect: %v\n%s", err, out)
	}
	subs := ta.Webhooks()
	if len(subs) != 1 || subs[0].URL != p.public+"/webhooks/tagihanai/acme" {
		t.Fatalf("subscriptions: %+v", subs)
	}
	out, err = run("connect", "acme", "--api-key", key, "--public-url", p.public, "--json")
	var res relay.ConnectResult
	if err != nil || json.NewDecoder(strings.NewReader(out)).Decode(&res) != nil || res.Subscribed != "reused" || !res.Test.Received {
		t.Fatalf("connect again: %v\n%s", err, out)
	}

	// The relay was down: TagihanAI gave up on a payment event.
	body, _ := fixtures.Body("payment.completed", fixtures.Options{EventID: "evt_cli_lost"})
	ta.GiveUp(subs[0].ID, "payment.completed", body)
	out, err = run("reconcile", "acme", "--json")
	var rep relay.ReconcileReport
	if json.NewDecoder(strings.NewReader(out)).Decode(&rep) != nil {
		t.Fatalf("reconcile --json: not a report:\n%s", out)
	}
	if err == nil || exitCode(err) != 1 || len(rep.Gaps) != 1 || rep.Gaps[0].Kind != relay.GapUndelivered || rep.Gaps[0].EventID != "evt_cli_lost" {
		t.Fatalf("reconcile: exit %v, report %+v", err, rep)
	}
	var gl *gapsLeft
	if !errors.As(err, &gl) || gl.n != 1 {
		t.Fatalf("reconcile error %v, want 1 gap left", err)
	}

	// A bad --since, a missing --api-key: usage errors before any call.
	if _, err := run("reconcile", "acme", "--since", "soon"); err == nil {
		t.Fatal("reconcile --since soon: no error")
	}
	if _, err := run("connect", "acme", "--public-url", p.public); exitCode(err) != 2 {
		t.Fatalf("connect without --api-key: %v, want a usage error", err)
	}
	if out, err := run("disconnect", "acme"); err != nil || !strings.Contains(out, "disconnected acme") || len(ta.Webhooks()) != 0 {
		t.Fatalf("disconnect: %v\n%s", err, out)
	}
	for _, o := range append(outputs, p.logs()) {
		if strings.Contains(o, key) {
			t.Fatalf("an output or the log holds the API key:\n%s", o)
		}
	}
}

// TestReconcileObserverMetrics: a background run becomes the SPEC 7
// metrics.
func TestReconcileObserverMetrics(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), nil)
	obs := reconcileObserver(m, slog.New(slog.DiscardHandler))
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	obs("acme", relay.ReconcileReport{Source: "acme", Until: at, Gaps: []relay.Gap{
		{Kind: relay.GapMissingDocument}, {Kind: relay.GapMissingDocument, Fixed: true}, {Kind: relay.GapUndelivered},
	}}, nil)
	obs("beta", relay.ReconcileReport{Source: "beta", Until: at}, nil)
	obs("gamma", relay.ReconcileReport{}, errors.New("TagihanAI refused the API key"))
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(m.ReconcileGaps.WithLabelValues("acme", relay.GapMissingDocument)), 1, "acme missing_document (open only)"},
		{testutil.ToFloat64(m.ReconcileGaps.WithLabelValues("acme", relay.GapUndelivered)), 1, "acme undelivered"},
		{testutil.ToFloat64(m.ReconcileGaps.WithLabelValues("beta", relay.GapMissingDocument)), 0, "beta missing_document"},
		{testutil.ToFloat64(m.ReconcileRuns.WithLabelValues("acme", "gaps")), 1, "acme runs{gaps}"},
		{testutil.ToFloat64(m.ReconcileRuns.WithLabelValues("beta", "ok")), 1, "beta runs{ok}"},
		{testutil.ToFloat64(m.ReconcileRuns.WithLabelValues("gamma", "error")), 1, "gamma runs{error}"},
		{testutil.ToFloat64(m.ReconcileLastSuccess.WithLabelValues("beta")), float64(at.Unix()), "beta last success"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}
