package relay_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
)

const (
	srcSecret  = "whsec_c2VjcmV0LW9uZS1mb3ItYWNtZQ"
	srcSecret2 = "whsec_c2VjcmV0LXR3by1mb3ItYWNtZQ"
)

var srcNow = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func acme() *relay.Source {
	return &relay.Source{
		Name: "acme", Enabled: true,
		Secrets: []relay.SourceSecret{relay.NewSourceSecret(srcSecret, srcNow)},
		Sinks:   map[string]map[string]string{"erp": {"KIND": "http", "URL": "https://erp.acme.example/hooks"}},
	}
}

func TestCheckSourceName(t *testing.T) {
	for name, ok := range map[string]bool{
		"acme": true, "pt-maju-jaya-01": true, "0": true, strings.Repeat("a", 63): true,
		"": false, "-acme": false, "Acme": false, "acme_1": false, "acme/x": false, strings.Repeat("a", 64): false, "acme ": false,
	} {
		err := relay.CheckSourceName(name)
		if (err == nil) != ok {
			t.Errorf("CheckSourceName(%q) = %v, want ok=%v", name, err, ok)
		}
		if err != nil && !errors.Is(err, relay.ErrInvalid) {
			t.Errorf("CheckSourceName(%q) error %v is not invalid_request", name, err)
		}
	}
}

func TestSource_Check(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *relay.Source)
		want   string // "" accepted; else a part of the error
	}{
		{"valid", func(*relay.Source) {}, ""},
		{"base64 encoding", func(s *relay.Source) { s.SecretEncoding = "BASE64" }, ""},
		{"bad name", func(s *relay.Source) { s.Name = "Acme" }, `source name "Acme"`},
		{"default is read-only", func(s *relay.Source) { s.Name = relay.DefaultSource }, "read-only"},
		{"no secret", func(s *relay.Source) { s.Secrets = nil }, "at least one signing secret"},
		{"empty secret", func(s *relay.Source) { s.Secrets = []relay.SourceSecret{{Secret: "  "}} }, "secret 1"},
		{"not base64", func(s *relay.Source) { s.SecretEncoding = "base64"; s.Secrets[0].Secret = "whsec_***" }, "secret 1"},
		{"twice", func(s *relay.Source) { s.Secrets = append(s.Secrets, relay.NewSourceSecret(srcSecret, srcNow)) }, "listed twice"},
		{"unknown encoding", func(s *relay.Source) { s.SecretEncoding = "hex" }, "secret_encoding"},
		{"negative tolerance", func(s *relay.Source) { s.Tolerance = -time.Second }, "tolerance"},
		{"bad sink name", func(s *relay.Source) { s.Sinks["e-r-p"] = map[string]string{"KIND": "stdout"} }, `sink name "e-r-p"`},
		{"upper-case sink name, as RELAY_SINKS refuses", func(s *relay.Source) { s.Sinks["ERP"] = map[string]string{"KIND": "stdout"} }, `sink name "ERP"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := acme()
			tt.change(s)
			err := s.Check()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, relay.ErrInvalid) {
				t.Fatalf("Check() = %v, want invalid_request containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Fatalf("error %q shows a secret", err)
			}
		})
	}
}

func TestSource_Check_SetsSecretIDs(t *testing.T) {
	s := acme()
	s.Secrets[0].ID = "forged"
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	if s.Secrets[0].ID != sealed.Fingerprint(srcSecret) {
		t.Fatalf("secret id %q, want the fingerprint", s.Secrets[0].ID)
	}
}

func TestSource_Rotation(t *testing.T) {
	s := acme()
	old := s.Secrets[0].ID
	if err := s.RemoveSecret(old); err == nil || !errors.Is(err, relay.ErrInvalid) {
		t.Fatalf("removing the last secret: %v, want refused", err)
	}
	if err := s.AddSecret(srcSecret2, srcNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSecret(srcSecret2, srcNow); err == nil || !errors.Is(err, &relay.Error{Code: relay.ECONFLICT}) {
		t.Fatalf("adding a secret twice: %v, want conflict", err)
	}
	if err := s.RemoveSecret("nope"); err == nil || !errors.Is(err, &relay.Error{Code: relay.ENOTFOUND}) {
		t.Fatalf("removing an unknown secret: %v, want not_found", err)
	}
	if err := s.RemoveSecret(old); err != nil {
		t.Fatal(err)
	}
	if len(s.Secrets) != 1 || s.Secrets[0].Secret != srcSecret2 || !s.Secrets[0].CreatedAt.Equal(srcNow.Add(time.Hour)) {
		t.Fatalf("after rotation: %+v", s.Secrets)
	}
}

func TestSource_SameConfig(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *relay.Source)
		same   bool
	}{
		{"identical", func(*relay.Source) {}, true},
		{"times differ", func(s *relay.Source) { s.UpdatedAt = srcNow; s.Secrets[0].CreatedAt = srcNow.Add(time.Hour) }, true},
		{"secrets reordered", nil, true},
		{"secret differs", func(s *relay.Source) { s.Secrets[0] = relay.NewSourceSecret(srcSecret2, srcNow) }, false},
		{"disabled", func(s *relay.Source) { s.Enabled = false }, false},
		{"sink key", func(s *relay.Source) { s.Sinks["erp"]["URL"] = "https://other.example/" }, false},
		{"sink added", func(s *relay.Source) { s.Sinks["log"] = map[string]string{"KIND": "stdout"} }, false},
		{"tagihanai", func(s *relay.Source) { s.TagihanAI = &relay.SourceTagihanAI{APIKey: "k"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := acme(), acme()
			if tt.change == nil {
				a.Secrets = append(a.Secrets, relay.NewSourceSecret(srcSecret2, srcNow))
				b.Secrets = append([]relay.SourceSecret{relay.NewSourceSecret(srcSecret2, srcNow)}, b.Secrets...)
			} else {
				tt.change(b)
			}
			if got := a.SameConfig(b); got != tt.same {
				t.Fatalf("SameConfig = %v, want %v", got, tt.same)
			}
		})
	}
}
