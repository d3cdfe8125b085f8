package main

import (
	"strings"
	"testing"
)

// TestServe_StartupErrorsRedactSecrets starts `serve` with one bad
// secret-bearing variable per sink kind (and the global ones): the error
// names the variable and the problem and never prints the secret.
func TestServe_StartupErrorsRedactSecrets(t *testing.T) {
	const secret = "Pl41nT3xtS3cret"
	ap := []string{"RELAY_SINKS=ap", "SINK_AP_KIND=accountingplus", "SINK_AP_CLIENT_ID=id", "SINK_AP_CLIENT_SECRET=cs-" + secret,
		"SINK_AP_SIGNATURE_SECRET=ss-" + secret, "SINK_AP_EMAIL=a@b.example", "SINK_AP_TENANT_ID=t1"}
	op := []string{"RELAY_SINKS=tax", "SINK_TAX_KIND=onlinepajak", "SINK_TAX_API_KEY=" + secret, "SINK_TAX_USER_ID=u1"}
	http := []string{"RELAY_SINKS=h", "SINK_H_KIND=http", "SINK_H_URL=https://erp.example/in"}
	tests := []struct {
		name    string
		env     []string
		wantVar string
	}{
		{"http HEADERS without =", append(http, "SINK_H_HEADERS=X-Api-Key:"+secret), "SINK_H_HEADERS"},
		{"http HEADERS bad name", append(http, "SINK_H_HEADERS=X-Api-Key:"+secret+"=1"), "SINK_H_HEADERS"},
		{"http HEADERS second item", append(http, "SINK_H_HEADERS=X-Env=prod,Authorization:Bearer "+secret), "SINK_H_HEADERS"},
		{"http URL query", []string{"RELAY_SINKS=h", "SINK_H_KIND=http", "SINK_H_URL=ftp://erp.example/in?api_key=" + secret}, "SINK_H_URL"},
		{"http URL password", []string{"RELAY_SINKS=h", "SINK_H_KIND=http", "SINK_H_URL=ftp://erp:" + secret + "@erp.example/in"}, "SINK_H_URL"},
		{"http URL unparsable", []string{"RELAY_SINKS=h", "SINK_H_KIND=http", "SINK_H_URL=https://erp:" + secret + "@erp.example:99x/"}, "SINK_H_URL"},
		{"http SIGNING_SECRET", append(http, "SINK_H_SIGNING_SECRET=whsec_"+secret+"!!"), "SINK_H_SIGNING_SECRET"},
		{"accountingplus BASE_URL query", append(ap, "SINK_AP_BASE_URL=https://ap.example/?api_key="+secret), "SINK_AP_BASE_URL"},
		{"accountingplus BASE_URL password", append(ap, "SINK_AP_BASE_URL=https://client:"+secret+"@ap.example"), "SINK_AP_BASE_URL"},
		{"accountingplus bad EMAIL beside secrets", append(ap[:len(ap):len(ap)], "SINK_AP_EMAIL=nobody"), "SINK_AP_EMAIL"},
		{"onlinepajak BASE_URL query", append(op, "SINK_TAX_BASE_URL=https://op.example/?api_key="+secret), "SINK_TAX_BASE_URL"},
		{"onlinepajak BASE_URL password", append(op, "SINK_TAX_BASE_URL=https://u:"+secret+"@op.example"), "SINK_TAX_BASE_URL"},
		{"webhook secret base64", []string{"TAGIHANAI_SECRET_ENCODING=base64", "TAGIHANAI_WEBHOOK_SECRETS=whsec_" + secret + "!!"}, "TAGIHANAI_WEBHOOK_SECRETS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"RELAY_DATA_DIR=" + t.TempDir(), "RELAY_LISTEN_ADDR=127.0.0.1:0", "RELAY_ADMIN_ADDR=127.0.0.1:0"}, tt.env...)
			out, errOut, err := runCLI(t, env, "serve")
			if err == nil {
				t.Fatal("serve started with a bad configuration")
			}
			all := out + errOut + err.Error()
			if !strings.Contains(all, tt.wantVar) {
				t.Errorf("the error does not name %s:\n%s", tt.wantVar, all)
			}
			if strings.Contains(all, secret) {
				t.Errorf("the start-up error prints the secret:\n%s", all)
			}
		})
	}
}
