package onlinepajak

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestNew(t *testing.T) {
	ok := Config{APIKey: "secret-key-123", UserID: "42"}
	tests := []struct {
		name     string
		cfg      func(c *Config)
		wantVars []string // every *relay.ConfigError's Var, in order
		wantEnd  string   // endpoint when valid
	}{
		{name: "OK", wantEnd: "http://api.staging-achilles.systems/marketplace/v1/invoices"},
		{name: "Production", cfg: func(c *Config) { c.BaseURL = "https://api.online-pajak.com/" }, wantEnd: "https://api.online-pajak.com/marketplace/v1/invoices"},
		{name: "PathPrefix", cfg: func(c *Config) { c.BaseURL = "https://gw.example.com/op" }, wantEnd: "https://gw.example.com/op/marketplace/v1/invoices"},
		{name: "NoAPIKey", cfg: func(c *Config) { c.APIKey = " " }, wantVars: []string{"SINK_TAX_API_KEY"}},
		{name: "NoUserID", cfg: func(c *Config) { c.UserID = "" }, wantVars: []string{"SINK_TAX_USER_ID"}},
		{name: "BadVATRate", cfg: func(c *Config) { c.VATRate = "12%" }, wantVars: []string{"SINK_TAX_VAT_RATE"}},
		{name: "NegativeVATRate", cfg: func(c *Config) { c.VATRate = "-1" }, wantVars: []string{"SINK_TAX_VAT_RATE"}},
		{name: "BadBaseURL", cfg: func(c *Config) { c.BaseURL = "api.online-pajak.com" }, wantVars: []string{"SINK_TAX_BASE_URL"}},
		{name: "BaseURLWithQuery", cfg: func(c *Config) { c.BaseURL = "https://api.online-pajak.com?api_key=x" }, wantVars: []string{"SINK_TAX_BASE_URL"}},
		{name: "NegativeLookupTimeout", cfg: func(c *Config) { c.LookupTimeout = -time.Second }, wantVars: []string{"SINK_TAX_LOOKUP_TIMEOUT"}},
		{name: "NegativeLookupGrace", cfg: func(c *Config) { c.LookupGrace = -time.Minute }, wantVars: []string{"SINK_TAX_LOOKUP_GRACE"}},
		{name: "Several", cfg: func(c *Config) { c.UserID = ""; c.VATRate = "x" }, wantVars: []string{"SINK_TAX_USER_ID", "SINK_TAX_VAT_RATE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			s, err := New("SINK_TAX_", cfg, Deps{})
			if len(tt.wantVars) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if got := s.endpoint.String(); got != tt.wantEnd {
					t.Errorf("endpoint = %s, want %s", got, tt.wantEnd)
				}
				return
			}
			if err == nil {
				t.Fatal("New: no error")
			}
			var vars []string
			for _, e := range unjoin(err) {
				var ce *relay.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("error %v is not a *relay.ConfigError", e)
				}
				vars = append(vars, ce.Var)
				if ce.Var == "SINK_TAX_API_KEY" && !ce.Secret {
					t.Errorf("API_KEY error is not marked Secret")
				}
			}
			if diff := cmp.Diff(tt.wantVars, vars); diff != "" {
				t.Errorf("ConfigError vars (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), cfg.APIKey) && strings.TrimSpace(cfg.APIKey) != "" {
				t.Errorf("error %q contains the API key", err)
			}
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// TestConfig_Env parses Config the way the config loader does and checks the
// defaults the README documents.
func TestConfig_Env(t *testing.T) {
	var cfg Config
	err := env.ParseWithOptions(&cfg, env.Options{Prefix: "SINK_TAX_", Environment: map[string]string{
		"SINK_TAX_API_KEY": "k", "SINK_TAX_USER_ID": "42",
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		BaseURL: DefaultBaseURL, APIKey: "k", UserID: "42", VATRate: DefaultVATRate,
		NPWPKey: DefaultNPWPKey, FakturKeys: DefaultFakturKeys, LookupTimeout: DefaultLookupTimeout,
		LookupGrace: DefaultLookupGrace,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("Config from env (-want +got):\n%s", diff)
	}
	if _, err := New("SINK_TAX_", cfg, Deps{}); err != nil {
		t.Errorf("New(defaults): %v", err)
	}
}
