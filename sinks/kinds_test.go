package sinks_test

import (
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks"
)

// sinkKeys are a complete valid configuration of each kind, keys without
// the SINK_<NAME>_ prefix.
func sinkKeys(t *testing.T) map[string]map[string]string {
	return map[string]map[string]string{
		"http": {"KIND": "http", "URL": "https://erp.example/hooks", "EVENTS": "transaction.*,payment.completed",
			"SIGNING_SECRET": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=", "HEADERS": "X-Team=finance", "CONCURRENCY": "4"},
		"accountingplus": {"KIND": "accountingplus", "CLIENT_ID": "cid", "CLIENT_SECRET": "cs", "SIGNATURE_SECRET": "ss",
			"EMAIL": "ops@example.co.id", "TENANT_ID": "t1", "DEFAULT_ITEM_CODE": "SRV"},
		"onlinepajak": {"KIND": "onlinepajak", "API_KEY": "op-key", "USER_ID": "42", "TIMEOUT": "10s"},
		"file":        {"KIND": "file", "PATH": filepath.Join(t.TempDir(), "events.ndjson"), "INCLUDE_TESTS": "true"},
		"stdout":      {"KIND": "stdout", "ORDERING": "none"},
	}
}

// The same keys give the same sink, whether they come from the environment
// (SINK_<NAME>_*) or from a map (the sources API).
func TestParse_EnvAndMapAgree(t *testing.T) {
	for kind, keys := range sinkKeys(t) {
		t.Run(kind, func(t *testing.T) {
			env := map[string]string{"UNRELATED": "x"}
			for k, v := range keys {
				env["SINK_ERP_"+k] = v
			}
			fromEnv, err := sinks.Parse("erp", "SINK_ERP_", env)
			if err != nil {
				t.Fatalf("from env: %v", err)
			}
			fromMap, err := sinks.ParseKeys("erp", keys)
			if err != nil {
				t.Fatalf("from map: %v", err)
			}
			fromEnv.Prefix = "" // the only intended difference
			if diff := cmp.Diff(fromEnv, fromMap, cmp.Comparer(func(a, b *sinks.Kind) bool { return a == b })); diff != "" {
				t.Errorf("env and map differ (-env +map):\n%s", diff)
			}
			if fromMap.Kind.Name != kind || fromMap.Route().Sink != "erp" {
				t.Errorf("kind %q route %+v", fromMap.Kind.Name, fromMap.Route())
			}
		})
	}
}

// The SPEC's rules for create-once kinds live in the table, not in the
// parsing of one kind.
func TestParse_KindDefaults(t *testing.T) {
	for _, k := range sinks.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			c, err := sinks.ParseKeys("s", sinkKeys(t)[k.Name])
			if err != nil {
				t.Fatal(err)
			}
			wantEvents, wantUnknown := []string{"*"}, "retry"
			if k.CreateOnce {
				wantEvents, wantUnknown = []string{"transaction.sent"}, "review"
			}
			if k.Name == "http" {
				wantEvents = []string{"transaction.*", "payment.completed"}
			}
			if !slices.Equal(c.Common.Events, wantEvents) || c.Common.OnUnknown != wantUnknown || len(c.Schedule) != 10 {
				t.Errorf("events %v on_unknown %q schedule %d; want %v %q 10", c.Common.Events, c.Common.OnUnknown, len(c.Schedule), wantEvents, wantUnknown)
			}
			if r := c.Route(); r.CreateOnce != k.CreateOnce || r.OrderBySubject != (c.Common.Ordering == "subject") {
				t.Errorf("route %+v", r)
			}
			if k.CreateOnce {
				keys := sinkKeys(t)[k.Name]
				keys["ORDERING"] = "none"
				_, err := sinks.ParseKeys("s", keys)
				var ce *relay.ConfigError
				if !errors.As(err, &ce) || ce.Var != "ORDERING" {
					t.Errorf("ORDERING=none on a create-once kind: %v, want a ConfigError for ORDERING", err)
				}
			}
		})
	}
	if got := sinks.KindNamed("onlinepajak"); got == nil || !got.ChecksUnknown || !got.CreateOnce || got.Label != "OnlinePajak" {
		t.Errorf("onlinepajak kind = %+v", got)
	}
}

func TestParseKeys_Errors(t *testing.T) {
	tests := []struct {
		name string
		keys map[string]string
		want []string // every one must be in the error
	}{
		{"NoKind", map[string]string{"URL": "https://x"}, []string{"KIND", `required for sink "erp"`}},
		{"UnknownKind", map[string]string{"KIND": "ftp"}, []string{"KIND", "must be http, accountingplus, onlinepajak, file or stdout"}},
		{"Typo", map[string]string{"KIND": "http", "URL": "https://x", "EVENTZ": "a"}, []string{"EVENTZ", "did you mean EVENTS?"}},
		{"KeyOfOtherKind", map[string]string{"KIND": "http", "URL": "https://x", "PATH": "/tmp/x"}, []string{"PATH", "not a key of sinks of KIND=http"}},
		{"EveryProblemAtOnce", map[string]string{"KIND": "http", "URL": "https://x", "TIMEOUT": "-1s", "CONCURRENCY": "0", "ORDERING": "fifo"},
			[]string{"TIMEOUT", "CONCURRENCY", "ORDERING"}},
		{"BadValue", map[string]string{"KIND": "http", "URL": "https://x", "TIMEOUT": "soon"}, []string{"TIMEOUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sinks.ParseKeys("erp", tt.keys)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A secret key's value never appears in an error about it.
func TestParseKeys_SecretNotEchoed(t *testing.T) {
	const secret = "do-not-print-me"
	_, err := sinks.ParseKeys("ap", map[string]string{"KIND": "accountingplus", "CLIENT_SECRETT": secret})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v: want one without the value", err)
	}
	for key, want := range map[string]bool{"CLIENT_SECRET": true, "SINK_AP_SIGNATURE_SECRET": true, "API_KEY": true,
		"SIGNING_SECRET": true, "NPWP_KEY": false, "URL": false, "CLIENT_ID": false} {
		if got := sinks.IsSecretKey(key); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// Every kind builds from its parsed keys into a dispatcher spec that
// carries the table's flags.
func TestBuild(t *testing.T) {
	for kind, keys := range sinkKeys(t) {
		t.Run(kind, func(t *testing.T) {
			c, err := sinks.ParseKeys("s", keys)
			if err != nil {
				t.Fatal(err)
			}
			spec, closer, err := c.Build(sinks.Deps{HTTP: &http.Client{}, Stdout: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if closer != nil {
				defer closer.Close()
			}
			if spec.Sink == nil || spec.Kind != kind || spec.CreateOnce != c.Kind.CreateOnce || spec.ChecksUnknown != c.Kind.ChecksUnknown ||
				spec.Route.CreateOnce != c.Kind.CreateOnce || spec.ReviewUnknown != (c.Common.OnUnknown == "review") || spec.Concurrency != c.Common.Concurrency {
				t.Errorf("spec %+v", spec)
			}
			if (kind == "file") != (closer != nil) {
				t.Errorf("closer %v for kind %s", closer, kind)
			}
		})
	}
}

func TestCheckEnvKeys(t *testing.T) {
	env := map[string]string{
		"RELAY_SINKS":      "erp,erp_eu",
		"SINK_ERP_KIND":    "http",
		"SINK_ERP_URL":     "https://x",
		"SINK_ERP_EVENTZ":  "a",
		"SINK_ERP_EU_KIND": "file", "SINK_ERP_EU_PATH": "/tmp/x",
		"SINK_ACC_URL": "https://y",
	}
	errs, warnings := sinks.CheckEnvKeys(env, []string{"erp", "erp_eu"})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "SINK_ERP_EVENTZ") || !strings.Contains(errs[0].Error(), "did you mean SINK_ERP_EVENTS?") {
		t.Errorf("errs = %v", errs)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "SINK_ACC_URL") {
		t.Errorf("warnings = %v", warnings)
	}
}
