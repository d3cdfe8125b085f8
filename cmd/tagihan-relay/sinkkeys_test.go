package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks"
)

func TestCheckSinkKeys(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantErrs  []string // each one error's text contains it, in order
		wantWarns []string
	}{
		{"Valid", map[string]string{"RELAY_SINKS": "erp", "SINK_ERP_KIND": "http", "SINK_ERP_URL": "https://erp.example/hook", "SINK_ERP_EVENTS": "transaction.*"}, nil, nil},
		{"SecretFileForm", map[string]string{"RELAY_SINKS": "ap", "SINK_AP_KIND": "accountingplus", "SINK_AP_CLIENT_SECRET_FILE": "/run/secrets/ap"}, nil, nil},
		{"Typo", map[string]string{"RELAY_SINKS": "erp", "SINK_ERP_KIND": "http", "SINK_ERP_URL": "https://erp.example/hook", "SINK_ERP_EVENTZ": "x"},
			[]string{"SINK_ERP_EVENTZ: not a key of sinks of KIND=http; did you mean SINK_ERP_EVENTS?"}, nil},
		{"KeyOfAnotherKind", map[string]string{"RELAY_SINKS": "erp", "SINK_ERP_KIND": "http", "SINK_ERP_URL": "https://erp.example/hook", "SINK_ERP_TENANT_ID": "t"},
			[]string{"SINK_ERP_TENANT_ID: not a key of sinks of KIND=http"}, nil},
		{"UnnamedSink", map[string]string{"RELAY_SINKS": "ap", "SINK_AP_KIND": "stdout", "SINK_ACC_URL": "https://x"},
			nil, []string{"SINK_ACC_URL is set but no sink in RELAY_SINKS (ap) has the prefix of it: ignored"}},
		{"LongestPrefixWins", map[string]string{"RELAY_SINKS": "erp,erp_eu", "SINK_ERP_KIND": "stdout", "SINK_ERP_EU_KIND": "http", "SINK_ERP_EU_URL": "https://x"}, nil, nil},
		{"SecretNeverEchoed", map[string]string{"RELAY_SINKS": "h", "SINK_H_KIND": "http", "SINK_H_URL": "https://x", "SINK_H_HEADER": "X-Api-Key=SECRET"},
			[]string{"SINK_H_HEADER: not a key of sinks of KIND=http; did you mean SINK_H_HEADERS?"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, warns := sinks.CheckEnvKeys(tt.env, strings.Split(tt.env["RELAY_SINKS"], ","))
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("errors %v, want %d", errs, len(tt.wantErrs))
			}
			for i, e := range errs {
				var ce *relay.ConfigError
				if !errors.As(e, &ce) {
					t.Errorf("error %d is %T, want *relay.ConfigError", i, e)
				}
				if !strings.Contains(e.Error(), tt.wantErrs[i]) {
					t.Errorf("error %d = %q, want it to contain %q", i, e, tt.wantErrs[i])
				}
				if strings.Contains(e.Error(), "SECRET") {
					t.Errorf("error %d echoes the value: %q", i, e)
				}
			}
			if !slices.Equal(warns, tt.wantWarns) {
				t.Errorf("warnings %q, want %q", warns, tt.wantWarns)
			}
		})
	}
}

// TestServe_ConfigurationReportedAtOnce starts the real program with a
// configuration that has a problem in every layer: a value that does not
// parse, a misspelt key, and an AccountingPlus sink missing all of its
// credentials. Every problem is in the one error, the ignored setting is
// warned about, and nothing was written to the data directory.
func TestServe_ConfigurationReportedAtOnce(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"RELAY_DATA_DIR=" + data, "RELAY_LISTEN_ADDR=127.0.0.1:0", "RELAY_ADMIN_ADDR=127.0.0.1:0",
		"RELAY_SINKS=ap,erp", "SINK_AP_KIND=accountingplus", "SINK_AP_EVENTZ=transaction.sent",
		"SINK_ERP_KIND=http", "SINK_ERP_URL=https://erp.example/hook", "SINK_ERP_TIMEOUT=soon", "SINK_ACC_URL=https://acc.example"}
	_, stderr, err := runCLI(t, env, "serve")
	if err == nil {
		t.Fatal("serve started with a broken configuration")
	}
	msg := err.Error()
	for _, want := range []string{`SINK_ERP_TIMEOUT="soon"`, "SINK_AP_EVENTZ: not a key of sinks of KIND=accountingplus; did you mean SINK_AP_EVENTS?",
		"SINK_AP_CLIENT_ID: must be set", "SINK_AP_CLIENT_SECRET: must be set", "SINK_AP_SIGNATURE_SECRET: must be set",
		"SINK_AP_EMAIL: must be set", "SINK_AP_TENANT_ID: must be set"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(stderr, "warning: SINK_ACC_URL is set but no sink in RELAY_SINKS (ap,erp) has the prefix of it: ignored") {
		t.Errorf("stderr lacks the warning about SINK_ACC_URL:\n%s", stderr)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory was created by a start that failed on configuration (%v)", err)
	}
}
