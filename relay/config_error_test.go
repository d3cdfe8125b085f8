package relay

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestConfigError_Redaction: whatever a producer puts in Value or Err, the
// printed error names the variable and never holds a secret.
func TestConfigError_Redaction(t *testing.T) {
	const secret = "S3cr3tVALUE"
	tests := []struct {
		name  string
		err   *ConfigError
		want  string // the whole printed error
		leaks []string
	}{
		// Every sink kind's secret-bearing keys, and the global ones, with a
		// reason that quotes the value the way parse errors do.
		{name: "http SIGNING_SECRET", err: quoting("SINK_ERP_SIGNING_SECRET", "whsec_"+secret), want: `SINK_ERP_SIGNING_SECRET: cannot parse "[redacted]"`},
		{name: "http HEADERS no separator", err: quoting("SINK_ERP_HEADERS", "X-Api-Key:"+secret), want: `SINK_ERP_HEADERS: cannot parse "[redacted]"`},
		{name: "http HEADERS one bad item", err: &ConfigError{Var: "SINK_ERP_HEADERS", Value: "X-Env=prod,X-Api-Key:" + secret,
			Err: fmt.Errorf("%q should be in \"key=value\" format", "X-Api-Key:"+secret)}, want: `SINK_ERP_HEADERS: "[redacted]" should be in "key=value" format`},
		{name: "http HEADERS value", err: quoting("SINK_ERP_HEADERS", "Authorization=Bearer "+secret), leaks: []string{"Bearer"}},
		{name: "http URL password and query", err: &ConfigError{Var: "SINK_ERP_URL", Value: "ftp://erp:" + secret + "@erp.example/in?api_key=" + secret + "&x=1",
			Err: errors.New("must be an absolute http or https URL")}, want: `SINK_ERP_URL="ftp://[redacted]@erp.example/in?[redacted]": must be an absolute http or https URL`},
		{name: "http URL unparsable", err: &ConfigError{Var: "SINK_ERP_URL", Value: "https://erp:" + secret + "@erp.example:99x/?api_key=" + secret,
			Err: &url.Error{Op: "parse", URL: "https://erp:" + secret + "@erp.example:99x/?api_key=" + secret, Err: errors.New(`invalid port ":99x" after host`)}}},
		{name: "accountingplus BASE_URL query", err: &ConfigError{Var: "SINK_AP_BASE_URL", Value: "https://ap.example/?api_key=" + secret,
			Err: errors.New("want an absolute http(s) URL without query")}, want: `SINK_AP_BASE_URL="https://ap.example/?[redacted]": want an absolute http(s) URL without query`},
		{name: "accountingplus BASE_URL credentials", err: &ConfigError{Var: "SINK_AP_BASE_URL", Value: "https://client:" + secret + "@ap.example",
			Err: errors.New("must not carry credentials")}, want: `SINK_AP_BASE_URL="https://[redacted]@ap.example": must not carry credentials`},
		{name: "accountingplus CLIENT_SECRET", err: quoting("SINK_AP_CLIENT_SECRET", secret)},
		{name: "accountingplus SIGNATURE_SECRET", err: quoting("SINK_AP_SIGNATURE_SECRET", secret)},
		{name: "onlinepajak BASE_URL", err: &ConfigError{Var: "SINK_TAX_BASE_URL", Value: "https://u:" + secret + "@op.example/?api_key=" + secret + "#" + secret,
			Err: fmt.Errorf("%q: must not have a query, fragment or user info", "https://u:"+secret+"@op.example/?api_key="+secret+"#"+secret)}},
		{name: "onlinepajak API_KEY", err: quoting("SINK_TAX_API_KEY", secret)},
		{name: "URL without scheme", err: &ConfigError{Var: "SINK_TAX_BASE_URL", Value: "u:" + secret + "@op.example", Err: errors.New("not absolute")}},
		{name: "TAGIHANAI_WEBHOOK_SECRETS", err: quoting("TAGIHANAI_WEBHOOK_SECRETS", "whsec_a,whsec_"+secret)},
		{name: "TAGIHANAI_API_KEY", err: quoting("TAGIHANAI_API_KEY", secret)},
		{name: "TAGIHANAI_API_BASE_URL", err: quoting("TAGIHANAI_API_BASE_URL", "https://api.example/v1?key="+secret)},
		{name: "RELAY_ADMIN_TOKEN", err: quoting("RELAY_ADMIN_TOKEN", secret)},
		{name: "RELAY_MASTER_KEY", err: quoting("RELAY_MASTER_KEY", secret)},
		{name: "NATS_URL", err: quoting("NATS_URL", "nats://a.example:4222,nats://user:"+secret+"@b.example:4222")},
		{name: "flagged Secret", err: &ConfigError{Var: "SOME_VAR", Value: secret, Secret: true, Err: fmt.Errorf("bad %s", secret)}, want: "SOME_VAR: bad [redacted]"},

		// What is not secret is still shown, so the operator sees the typo.
		{name: "plain value shown", err: &ConfigError{Var: "TAGIHANAI_SIGNATURE_TOLERANCE", Value: "5 minutes", Err: errors.New("time: invalid duration")},
			want: `TAGIHANAI_SIGNATURE_TOLERANCE="5 minutes": time: invalid duration`},
		{name: "URL without credentials shown", err: &ConfigError{Var: "SINK_ERP_URL", Value: "ftp://erp.example/in", Err: errors.New("must be http")},
			want: `SINK_ERP_URL="ftp://erp.example/in": must be http`},
		{name: "file path shown", err: &ConfigError{Var: "TAGIHANAI_WEBHOOK_SECRETS_FILE", Value: "/run/secrets/tagihanai", Err: errors.New("no such file")},
			want: `TAGIHANAI_WEBHOOK_SECRETS_FILE="/run/secrets/tagihanai": no such file`},
		{name: "glob with ? shown", err: &ConfigError{Var: "SINK_ERP_EVENTS", Value: "transaction.?[", Err: errors.New("bad glob")},
			want: `SINK_ERP_EVENTS="transaction.?[": bad glob`},
		{name: "no value", err: &ConfigError{Var: "SINK_ERP_KIND", Err: errors.New("required")}, want: "SINK_ERP_KIND: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.err.Error()
			if !strings.HasPrefix(got, tt.err.Var) {
				t.Errorf("%q does not start with the variable %s", got, tt.err.Var)
			}
			for _, leak := range append(tt.leaks, secret) {
				if strings.Contains(got, leak) {
					t.Errorf("%q leaks %q", got, leak)
				}
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("Error() = %q\n            want %q", got, tt.want)
			}
			if !errors.Is(tt.err, tt.err.Err) {
				t.Error("the cause is not unwrapped")
			}
		})
	}
}

// quoting is a ConfigError whose reason quotes the value, as caarlos0/env
// and strconv errors do.
func quoting(name, value string) *ConfigError {
	return &ConfigError{Var: name, Value: value, Err: fmt.Errorf("cannot parse %q", value)}
}

func TestSecretVar(t *testing.T) {
	for name, want := range map[string]bool{
		"SINK_ERP_SIGNING_SECRET": true, "SINK_ERP_HEADERS": true, "SINK_AP_CLIENT_SECRET": true, "SINK_AP_SIGNATURE_SECRET": true,
		"SINK_TAX_API_KEY": true, "TAGIHANAI_API_KEY": true, "TAGIHANAI_WEBHOOK_SECRETS": true, "RELAY_ADMIN_TOKEN": true,
		"RELAY_MASTER_KEY": true, "SINK_X_PASSWORD": true,
		"RELAY_ADMIN_TOKEN_FILE": false, "TAGIHANAI_WEBHOOK_SECRETS_FILE": false, "SINK_ERP_URL": false, "SINK_AP_CLIENT_ID": false,
		"SINK_AP_AUTH": false, "RELAY_LISTEN_ADDR": false, "SINK_ERP_KIND": false,
	} {
		if got := SecretVar(name); got != want {
			t.Errorf("SecretVar(%s) = %v, want %v", name, got, want)
		}
	}
}
