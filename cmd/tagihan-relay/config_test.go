package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joho/godotenv"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks"
)

func TestLoadConfig_Defaults(t *testing.T) {
	c, err := loadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != "127.0.0.1:8080" || c.AdminAddr != "127.0.0.1:8081" || c.DataDir != "./data" ||
		c.MaxBodyBytes != 1<<20 || c.Source != "tagihanai" || c.SecretEncoding != "raw" || c.SignatureTolerance.String() != "5m0s" ||
		c.Retention.String() != "720h0m0s" || c.RetentionInterval.String() != "10m0s" {
		t.Fatalf("defaults: %+v", c)
	}
	if len(c.SinkConfs) != 1 || c.SinkConfs[0].Name != "stdout" || c.SinkConfs[0].Common.Kind != "stdout" {
		t.Fatalf("default sink: %+v", c.SinkConfs)
	}
	sc := c.SinkConfs[0].Common
	if sc.Concurrency != 8 || sc.Ordering != "subject" || sc.OnUnknown != "retry" || sc.Events[0] != "*" || len(c.SinkConfs[0].Schedule) != 10 {
		t.Fatalf("default sink keys: %+v", sc)
	}
}

func TestLoadConfig_Errors(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		noEcho  string // a value that must not appear in the error
	}{
		{"BadTolerance", map[string]string{"TAGIHANAI_SIGNATURE_TOLERANCE": "5 minutes"}, `TAGIHANAI_SIGNATURE_TOLERANCE="5 minutes"`, ""},
		{"BadMaxBody", map[string]string{"RELAY_MAX_BODY_BYTES": "lots"}, "RELAY_MAX_BODY_BYTES", ""},
		{"NegativeMaxBody", map[string]string{"RELAY_MAX_BODY_BYTES": "-1"}, "RELAY_MAX_BODY_BYTES", ""},
		{"BadEncoding", map[string]string{"TAGIHANAI_SECRET_ENCODING": "hex"}, "TAGIHANAI_SECRET_ENCODING", ""},
		{"Base64SecretNotBase64", map[string]string{"TAGIHANAI_SECRET_ENCODING": "base64", "TAGIHANAI_WEBHOOK_SECRETS": "whsec_!!!not-base64!!!"}, "TAGIHANAI_WEBHOOK_SECRETS", "!!!not-base64!!!"},
		{"NoKind", map[string]string{"RELAY_SINKS": "erp"}, "SINK_ERP_KIND", ""},
		{"BadKind", map[string]string{"RELAY_SINKS": "erp", "SINK_ERP_KIND": "kafka"}, "SINK_ERP_KIND", ""},
		{"BadSinkName", map[string]string{"RELAY_SINKS": "ERP-1"}, "RELAY_SINKS", ""},
		{"BadSchedule", map[string]string{"RELAY_SINKS": "a", "SINK_A_KIND": "stdout", "SINK_A_RETRY_SCHEDULE": "5s,soon"}, "SINK_A_RETRY_SCHEDULE", ""},
		{"BadGlob", map[string]string{"RELAY_SINKS": "a", "SINK_A_KIND": "stdout", "SINK_A_EVENTS": "transaction.[x"}, "SINK_A_EVENTS", ""},
		{"BadTimeout", map[string]string{"RELAY_SINKS": "a", "SINK_A_KIND": "stdout", "SINK_A_TIMEOUT": "fast"}, "SINK_A_TIMEOUT", ""},
		{"BadConcurrency", map[string]string{"RELAY_SINKS": "a", "SINK_A_KIND": "stdout", "SINK_A_CONCURRENCY": "0"}, "SINK_A_CONCURRENCY", ""},
		{"APNeedsSubjectOrdering", map[string]string{"RELAY_SINKS": "ap", "SINK_AP_KIND": "accountingplus", "SINK_AP_ORDERING": "none"}, "SINK_AP_ORDERING", ""},
		{"BadOnUnknown", map[string]string{"RELAY_SINKS": "a", "SINK_A_KIND": "stdout", "SINK_A_ON_UNKNOWN": "ignore"}, "SINK_A_ON_UNKNOWN", ""},
		{"UnknownBackend", map[string]string{"RELAY_BACKEND": "cassandra"}, "RELAY_BACKEND", ""},
		{"BadMasterKey", map[string]string{"RELAY_MASTER_KEY": "c2hvcnQta2V5LXRoYXQtbXVzdC1ub3QtZWNobw=="}, "RELAY_MASTER_KEY", "c2hvcnQta2V5LXRoYXQtbXVzdC1ub3QtZWNobw=="},
		{"NegativeMaxRPS", map[string]string{"RELAY_TAGIHANAI_MAX_RPS": "-1"}, "RELAY_TAGIHANAI_MAX_RPS", ""},
		{"ReconcileTooOften", map[string]string{"RELAY_RECONCILE_INTERVAL": "10s"}, "RELAY_RECONCILE_INTERVAL", ""},
		{"BadReconcileWindow", map[string]string{"RELAY_RECONCILE_WINDOW": "a week"}, "RELAY_RECONCILE_WINDOW", ""},
		{"BadLookupGrace", map[string]string{"RELAY_SINKS": "tax", "SINK_TAX_KIND": "onlinepajak", "SINK_TAX_LOOKUP_GRACE": "two minutes"}, `SINK_TAX_LOOKUP_GRACE="two minutes"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(tt.env)
			if err == nil {
				t.Fatal("want an error")
			}
			var ce *relay.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *relay.ConfigError", err)
			}
			if !strings.Contains(err.Error(), tt.wantVar) {
				t.Fatalf("error %q does not name %s", err, tt.wantVar)
			}
			if tt.noEcho != "" && strings.Contains(err.Error(), tt.noEcho) {
				t.Fatalf("error %q echoes a secret", err)
			}
		})
	}
}

func TestEnvMap_SecretFiles(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	token := filepath.Join(dir, "token")
	os.WriteFile(secrets, []byte("whsec_one\n# old one below\nwhsec_two\n"), 0o600)
	os.WriteFile(token, []byte("tok-0123456789abcdef\n"), 0o600)
	m, err := envMap([]string{"TAGIHANAI_WEBHOOK_SECRETS_FILE=" + secrets, "RELAY_ADMIN_TOKEN_FILE=" + token, "NATS_CREDS_FILE=/keep/as/path"})
	if err != nil {
		t.Fatal(err)
	}
	if m["TAGIHANAI_WEBHOOK_SECRETS"] != "whsec_one,whsec_two" || m["RELAY_ADMIN_TOKEN"] != "tok-0123456789abcdef" {
		t.Fatalf("resolved %q / %q", m["TAGIHANAI_WEBHOOK_SECRETS"], m["RELAY_ADMIN_TOKEN"])
	}
	if _, ok := m["NATS_CREDS"]; ok {
		t.Fatal("NATS_CREDS_FILE is a path, not a secret to inline")
	}
	c, err := loadConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Keys) != 2 {
		t.Fatalf("keys: %d, want 2 (rotation)", len(c.Keys))
	}
	if _, err := envMap([]string{"RELAY_ADMIN_TOKEN_FILE=" + filepath.Join(dir, "missing")}); err == nil || !strings.Contains(err.Error(), "RELAY_ADMIN_TOKEN_FILE") {
		t.Fatalf("missing secret file: %v", err)
	}
}

// TestConfigExample_Loads keeps config.example.env true to the code: it
// parses, and every sink in it builds.
func TestConfigExample_Loads(t *testing.T) {
	f, err := godotenv.Read("../../config.example.env")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	os.MkdirAll("data", 0o700)
	var environ []string
	for k, v := range f {
		environ = append(environ, k+"="+v)
	}
	m, err := envMap(environ)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(m)
	if err != nil {
		t.Fatalf("config.example.env does not load:\n%v", err)
	}
	specs, closers, err := buildSinks(c, io.Discard, http.DefaultClient, nil)
	if err != nil {
		t.Fatalf("config.example.env sinks do not build:\n%v", err)
	}
	for _, c := range closers {
		c.Close()
	}
	if len(specs) != 4 {
		t.Fatalf("%d sinks, want 4", len(specs))
	}
}

// TestDocs_EveryVariable keeps README.md and config.example.env listing
// every variable the code reads.
func TestDocs_EveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../config.example.env")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sinks.FieldEnvNames(&Config{}) {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document %s", name)
		}
		if !strings.Contains(string(example), name+"=") {
			t.Errorf("config.example.env does not list %s", name)
		}
	}
	keys := sinks.FieldEnvNames(&sinks.Common{})
	for _, k := range sinks.Kinds {
		for _, key := range k.OwnKeys() {
			keys[k.Name+"."+key] = key
		}
	}
	for _, key := range keys {
		if !strings.Contains(string(readme), "`"+key+"`") && !strings.Contains(string(readme), "`"+key+"`,") && !strings.Contains(string(readme), key) {
			t.Errorf("README.md does not document sink key %s", key)
		}
		if !strings.Contains(string(example), "_"+key) {
			t.Errorf("config.example.env does not show sink key %s", key)
		}
	}
}
