// Package dashboard checks docs/grafana-dashboard.json: it is a Grafana
// dashboard (schema 39, a Prometheus data source variable) and every metric
// its queries use is one the service exports (relay/metrics), so a renamed
// metric breaks this test instead of a panel.
package dashboard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
)

// describer is a prometheus.Registerer that records the names of the
// metrics registered on it.
type describer struct {
	mu    sync.Mutex
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	d.mu.Lock()
	defer d.mu.Unlock()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}

func (d *describer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

func (d *describer) Unregister(prometheus.Collector) bool { return false }

type dashboard struct {
	SchemaVersion int `json:"schemaVersion"`
	Title         string
	UID           string
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []json.RawMessage `json:"panels"`
}

func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion = %d, want about 39", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("uid and title are required")
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Error("no Prometheus data source variable named datasource")
	}

	// Every expr and the panel ids/titles.
	var exprs []string
	ids := map[float64]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				exprs = append(exprs, e)
			}
			if _, isPanel := v["gridPos"]; isPanel {
				id, _ := v["id"].(float64)
				if ids[id] {
					t.Errorf("panel id %v used twice", id)
				}
				ids[id] = true
				if ds, ok := v["datasource"].(map[string]any); ok && ds["uid"] != "${datasource}" {
					t.Errorf("panel %q: datasource %v, want the ${datasource} variable", v["title"], ds)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var all any
	_ = json.Unmarshal(raw, &all)
	walk(all)
	if len(exprs) < 10 {
		t.Fatalf("only %d queries", len(exprs))
	}

	reg := &describer{names: map[string]bool{}}
	metrics.New(reg, nil)
	used := map[string]bool{}
	name := regexp.MustCompile(`\b(tagihan_relay_[a-z_]+|process_[a-z_]+|go_[a-z_]+)\b`)
	for _, e := range exprs {
		for _, m := range name.FindAllString(e, -1) {
			used[m] = true
			base := m
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(m, suffix); ok && reg.names[b] {
					base = b
				}
			}
			if !reg.names[base] {
				t.Errorf("query uses %s, which relay/metrics does not export: %s", m, e)
			}
		}
	}
	// The README's "Metrics and logs" list is covered.
	for _, want := range []string{"tagihan_relay_received_total", "tagihan_relay_ingest_duration_seconds_bucket",
		"tagihan_relay_store_commit_duration_seconds_bucket", "tagihan_relay_store_commit_batch_size_sum",
		"tagihan_relay_outbox_depth", "tagihan_relay_outbox_oldest_pending_age_seconds", "tagihan_relay_deliveries_total",
		"tagihan_relay_dead_letters", "tagihan_relay_needs_review", "tagihan_relay_signature_failures_total",
		"tagihan_relay_store_commit_errors_total", "tagihan_relay_delivery_duration_seconds_bucket",
		"tagihan_relay_admin_auth_failures_total", "tagihan_relay_overloaded_total"} {
		if !used[want] {
			t.Errorf("no panel uses %s", want)
		}
	}
	if t.Failed() {
		var names []string
		for n := range reg.names {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Logf("exported: %s", strings.Join(names, " "))
	}
}
