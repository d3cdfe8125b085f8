package relay_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

var fileEnv = map[string]string{
	"ACME_SECRET": srcSecret,
	"ACME_AP_KEY": "client-secret-of-acme",
	"ON":          "false",
}

func lookupFileEnv(name string) (string, bool) {
	v, ok := fileEnv[name]
	return v, ok
}

const twoSourcesYAML = `
sources:
  - name: acme
    secrets: ["${ACME_SECRET}"]
    sinks:
      erp:
        kind: http
        URL: https://erp.acme.example/hooks?token=${ACME_AP_KEY}
  - name: maju-jaya
    enabled: ${ON}
    secret_encoding: base64
    tolerance: 2m
    secrets:
      - whsec_c2VjcmV0LXR3by1mb3ItYWNtZQ
    sinks:
      log: {KIND: stdout}
    tagihanai:
      api_key: "${ACME_AP_KEY}"
      public_url: https://relay.example/webhooks/tagihanai/maju-jaya
`

func TestParseSourceFile_Shapes(t *testing.T) {
	f := false
	want := []relay.SourceSpec{
		{Name: "acme", Secrets: []string{srcSecret},
			Sinks: map[string]map[string]string{"erp": {"kind": "http", "URL": "https://erp.acme.example/hooks?token=client-secret-of-acme"}}},
		{Name: "maju-jaya", Enabled: &f, SecretEncoding: "base64", Tolerance: "2m", Secrets: []string{srcSecret2},
			Sinks:     map[string]map[string]string{"log": {"KIND": "stdout"}},
			TagihanAI: &relay.SourceTagihanAISpec{APIKey: "client-secret-of-acme", PublicURL: "https://relay.example/webhooks/tagihanai/maju-jaya"}},
	}
	json := `[{"name":"acme","secrets":["${ACME_SECRET}"],"sinks":{"erp":{"kind":"http","URL":"https://erp.acme.example/hooks?token=${ACME_AP_KEY}"}}},
	{"name":"maju-jaya","enabled":false,"secret_encoding":"base64","tolerance":"2m","secrets":["whsec_c2VjcmV0LXR3by1mb3ItYWNtZQ"],
	 "sinks":{"log":{"KIND":"stdout"}},"tagihanai":{"api_key":"${ACME_AP_KEY}","public_url":"https://relay.example/webhooks/tagihanai/maju-jaya"}}]`
	twoDocs := "name: acme\nsecrets: [\"${ACME_SECRET}\"]\nsinks:\n  erp: {kind: http, URL: \"https://erp.acme.example/hooks?token=${ACME_AP_KEY}\"}\n---\n" +
		"- name: maju-jaya\n  enabled: ${ON}\n  secret_encoding: base64\n  tolerance: 2m\n  secrets: [whsec_c2VjcmV0LXR3by1mb3ItYWNtZQ]\n  sinks: {log: {KIND: stdout}}\n" +
		"  tagihanai: {api_key: \"${ACME_AP_KEY}\", public_url: \"https://relay.example/webhooks/tagihanai/maju-jaya\"}\n"
	for name, text := range map[string]string{"yaml sources key": twoSourcesYAML, "json list": json, "yaml documents": twoDocs} {
		t.Run(name, func(t *testing.T) {
			got, err := relay.ParseSourceFile([]byte(text), lookupFileEnv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("ParseSourceFile (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSourceFile_Errors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"missing variable", "name: acme\nsecrets: [\"${NOPE}\"]\n", "line 2: ${NOPE} is not set"},
		{"unknown field", "name: acme\nsecret: [x]\n", "field secret not found"},
		{"no name", "secrets: [x]\n", "name is required"},
		{"twice", "- {name: acme}\n- {name: acme}\n", `"acme" is written twice`},
		{"empty", "", "no source"},
		{"scalar", "just text\n", "want a source"},
		{"sources with other keys", "sources: [{name: a}]\nname: b\n", `"sources" must be the only key`},
		{"not yaml", "name: [unclosed\n", "sources file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := relay.ParseSourceFile([]byte(tt.text), lookupFileEnv)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, relay.ErrInvalid) {
				t.Fatalf("ParseSourceFile error = %v, want invalid_request containing %q", err, tt.want)
			}
		})
	}
}

// A value from the environment is a value, never YAML: a variable holding
// YAML syntax does not add keys.
func TestParseSourceFile_NoInjection(t *testing.T) {
	env := func(string) (string, bool) { return "x\nenabled: false\nsinks: {}", true }
	got, err := relay.ParseSourceFile([]byte("name: acme\nsecrets: [\"${S}\"]\nsinks: {log: {KIND: stdout}}\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Enabled != nil || got[0].Secrets[0] != "x\nenabled: false\nsinks: {}" || len(got[0].Sinks) != 1 {
		t.Fatalf("the variable's text changed the source: %+v", got[0])
	}
}

func TestSourceSpec_SourceAndPlan(t *testing.T) {
	specs, err := relay.ParseSourceFile([]byte(twoSourcesYAML), lookupFileEnv)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	acme, err := specs[0].Source(now)
	if err != nil {
		t.Fatal(err)
	}
	if !acme.Enabled || acme.Sinks["erp"]["KIND"] != "http" || acme.Secrets[0].CreatedAt != now {
		t.Fatalf("acme: %+v", acme)
	}
	maju, err := specs[1].Source(now)
	if err != nil {
		t.Fatal(err)
	}
	if maju.Enabled || maju.Tolerance != 2*time.Minute || maju.TagihanAI == nil || maju.TagihanAI.APIKey != "client-secret-of-acme" {
		t.Fatalf("maju-jaya: %+v", maju)
	}
	if a := relay.PlanApply(nil, acme); a != relay.ApplyCreated {
		t.Errorf("new source: %s", a)
	}
	again, _ := specs[0].Source(now.Add(time.Hour))
	if a := relay.PlanApply(acme, again); a != relay.ApplyUnchanged {
		t.Errorf("same file applied later: %s, want unchanged", a)
	}
	again.Sinks["erp"]["URL"] = "https://erp.acme.example/v2"
	if a := relay.PlanApply(acme, again); a != relay.ApplyUpdated {
		t.Errorf("changed URL: %s, want updated", a)
	}
	bad := specs[0]
	bad.Tolerance = "five minutes"
	if _, err := bad.Source(now); err == nil || !strings.Contains(err.Error(), "tolerance") {
		t.Errorf("bad tolerance: %v", err)
	}
}
