package sinks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks"
)

func TestCheckSource(t *testing.T) {
	const secret = "s3cr3t-client-secret"
	ap := func() map[string]string {
		return map[string]string{"KIND": "accountingplus", "BASE_URL": "https://ap.example", "AUTH": "oauth",
			"CLIENT_ID": "acme", "CLIENT_SECRET": secret, "SIGNATURE_SECRET": secret, "TENANT_ID": "t-1", "EMAIL": "finance@acme.example", "DEFAULT_ITEM_CODE": "SVC"}
	}
	tests := []struct {
		name  string
		sinks map[string]map[string]string
		want  []string // parts of the error; none: accepted
	}{
		{name: "valid", sinks: map[string]map[string]string{"erp": {"KIND": "http", "URL": "https://erp.acme.example/hooks"}, "log": {"KIND": "stdout"}}},
		{name: "unknown key", sinks: map[string]map[string]string{"erp": {"KIND": "http", "URL": "https://erp.example/", "HEADRES": "x=1"}},
			want: []string{`source "acme", sink "erp"`, "HEADRES", "HEADERS"}},
		{name: "missing URL", sinks: map[string]map[string]string{"erp": {"KIND": "http"}},
			want: []string{`sink "erp"`, "URL"}},
		{name: "bad URL", sinks: map[string]map[string]string{"erp": {"KIND": "http", "URL": "ftp://erp.example/"}},
			want: []string{`sink "erp"`, "URL", "absolute http"}},
		{name: "no kind", sinks: map[string]map[string]string{"erp": {"URL": "https://erp.example/"}},
			want: []string{`sink "erp"`, "KIND"}},
		{name: "accountingplus without email", sinks: map[string]map[string]string{"acc": func() map[string]string { m := ap(); delete(m, "EMAIL"); return m }()},
			want: []string{`sink "acc"`, "EMAIL"}},
		{name: "file keys refused", sinks: map[string]map[string]string{"erp": {"KIND": "http", "URL": "https://erp.example/", "SIGNING_SECRET_FILE": "/etc/shadow"}},
			want: []string{`sink "erp"`, "SIGNING_SECRET_FILE", "cannot read files"}},
		{name: "file kind refused", sinks: map[string]map[string]string{"out": {"KIND": "file", "PATH": "/home/relay/.bashrc"}},
			want: []string{`sink "out"`, "KIND", "cannot write files"}},
		{name: "two bad sinks, both named", sinks: map[string]map[string]string{"a": {"KIND": "http"}, "b": {"KIND": "nope"}},
			want: []string{`sink "a"`, `sink "b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &relay.Source{Name: "acme", Sinks: tt.sinks}
			confs, err := sinks.CheckSource(src)
			if len(tt.want) == 0 {
				if err != nil || len(confs) != len(tt.sinks) {
					t.Fatalf("CheckSource = %v, %v; want every sink", confs, err)
				}
				return
			}
			if err == nil || !errors.Is(err, relay.ErrInvalid) {
				t.Fatalf("CheckSource error = %v, want invalid_request", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
	t.Run("accountingplus valid, create-once defaults", func(t *testing.T) {
		confs, err := sinks.CheckSource(&relay.Source{Name: "acme", Sinks: map[string]map[string]string{"acc": ap()}})
		if err != nil {
			t.Fatal(err)
		}
		r := confs["acc"].Route()
		if !r.CreateOnce || !r.OrderBySubject || len(r.Events) != 1 || r.Events[0] != "transaction.sent" {
			t.Fatalf("route %+v: want create-once, subject ordering, transaction.sent", r)
		}
	})
}
