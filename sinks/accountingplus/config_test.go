package accountingplus

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestNew(t *testing.T) {
	dir := t.TempDir()
	goodMap := filepath.Join(dir, "good.csv")
	badMap := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(goodMap, []byte("item_name,item_code\nJasa,J-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badMap, []byte("Jasa,J-1\nJasa,J-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	valid := func() Config { return testConfig("https://staging-openapi.accountingplus.id", "", "") }

	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr []*relay.ConfigError // Var and Secret of each, in order
	}{
		{name: "OK", mutate: func(*Config) {}},
		{name: "OKDefaults", mutate: func(c *Config) {
			*c = Config{ClientID: "id", ClientSecret: "s", SignatureSecret: "s", Email: "a@b.c", TenantID: "t"}
		}},
		{name: "OKOAuthJSON", mutate: func(c *Config) { c.Auth, c.ADataFormat = "OAuth", "JSON" }},
		{name: "OKItemMap", mutate: func(c *Config) { c.ItemMap = goodMap }},
		{name: "MissingAll", mutate: func(c *Config) { *c = Config{} }, wantErr: []*relay.ConfigError{
			{Var: "SINK_ERP_CLIENT_ID"}, {Var: "SINK_ERP_CLIENT_SECRET", Secret: true},
			{Var: "SINK_ERP_SIGNATURE_SECRET", Secret: true}, {Var: "SINK_ERP_EMAIL"}, {Var: "SINK_ERP_TENANT_ID"}}},
		{name: "BlankSecret", mutate: func(c *Config) { c.ClientSecret = "  " },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_CLIENT_SECRET", Secret: true}}},
		{name: "UnknownAuth", mutate: func(c *Config) { c.Auth = "basic" },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_AUTH", Value: "basic"}}},
		{name: "UnknownADataFormat", mutate: func(c *Config) { c.ADataFormat = "xml" },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_ADATA_FORMAT", Value: "xml"}}},
		{name: "BadBaseURL", mutate: func(c *Config) { c.BaseURL = "staging-openapi.accountingplus.id" },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_BASE_URL", Value: "staging-openapi.accountingplus.id"}}},
		{name: "BaseURLWithCredentials", mutate: func(c *Config) { c.BaseURL = "https://user:pw@host" },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_BASE_URL", Value: "https://user:xxxxx@host"}}},
		{name: "BadEmail", mutate: func(c *Config) { c.Email = "finance" },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_EMAIL", Value: "finance"}}},
		{name: "LongTokenTTL", mutate: func(c *Config) { c.TokenTTL = 24 * time.Hour },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_TOKEN_TTL", Value: "24h0m0s"}}},
		{name: "ItemMapMissing", mutate: func(c *Config) { c.ItemMap = filepath.Join(dir, "nope.csv") },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_ITEM_MAP", Value: filepath.Join(dir, "nope.csv")}}},
		{name: "ItemMapConflict", mutate: func(c *Config) { c.ItemMap = badMap },
			wantErr: []*relay.ConfigError{{Var: "SINK_ERP_ITEM_MAP", Value: badMap}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mutate(&cfg)
			s, err := New("SINK_ERP_", cfg, Deps{})
			if tt.wantErr == nil {
				if err != nil || s == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if s != nil {
				t.Error("New returned a sink with an error")
			}
			var got []*relay.ConfigError
			for _, e := range unjoin(err) {
				var ce *relay.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("error %v is not a *relay.ConfigError", e)
				}
				got = append(got, &relay.ConfigError{Var: ce.Var, Value: ce.Value, Secret: ce.Secret})
			}
			if diff := cmp.Diff(tt.wantErr, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s\nerror: %v", diff, err)
			}
			if msg := err.Error(); strings.Contains(msg, testClientSecret) || strings.Contains(msg, testSignatureSecret) || strings.Contains(msg, ":pw@") {
				t.Errorf("error %q carries a secret", msg)
			}
		})
	}
}

func TestNew_ErrRequired(t *testing.T) {
	_, err := New("SINK_ERP_", Config{}, Deps{})
	if !errors.Is(err, ErrRequired) {
		t.Errorf("New error = %v, want ErrRequired", err)
	}
	if want := "SINK_ERP_CLIENT_ID: must be set"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("New error = %q, want it to start with %q", err, want)
	}
}

// unjoin splits an errors.Join error.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestParseItemMap(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		lookup  map[string]string // name -> want code ("" = not found)
		wantErr string
	}{
		{name: "HeaderAndComments", csv: "\ufeffitem_name,item_code\n# comment\n\nKertas HVS A4,ATK-01\n\"Toner, HP 85A\",ATK-02\n",
			lookup: map[string]string{"Kertas HVS A4": "ATK-01", "  kertas   hvs a4 ": "ATK-01", "Toner, HP 85A": "ATK-02", "Toner": ""}},
		{name: "NoHeader", csv: "Jasa,J-1", lookup: map[string]string{"jasa": "J-1", "item_name": ""}},
		{name: "SameCodeTwice", csv: "Jasa,J-1\nJASA,J-1\n", lookup: map[string]string{"Jasa": "J-1"}},
		{name: "Conflict", csv: "Jasa,J-1\nJASA,J-2\n", wantErr: `line 2: item "JASA" is already mapped to "J-1" on line 1`},
		{name: "ThreeFields", csv: "Jasa,J-1,x\n", wantErr: "line 1: 3 fields, want 2 (item_name,item_code)"},
		{name: "EmptyCode", csv: "item_name,item_code\nJasa,\n", wantErr: "line 2: item_name and item_code must both be set"},
		{name: "BadQuote", csv: "\"Jasa,J-1\n", wantErr: "extraneous or missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseItemMap(strings.NewReader(tt.csv))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseItemMap error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.lookup {
				if got, _ := m.Lookup(name); got != want {
					t.Errorf("Lookup(%q) = %q, want %q", name, got, want)
				}
			}
		})
	}
}
