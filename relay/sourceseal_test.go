package relay_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
)

func masterKey(t *testing.T, fill string) *sealed.Key {
	t.Helper()
	k, err := sealed.ParseKey(base64.StdEncoding.EncodeToString([]byte(strings.Repeat(fill, 32))))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func secretSource() *relay.Source {
	s := acme()
	s.Secrets = append(s.Secrets, relay.NewSourceSecret(srcSecret2, srcNow))
	s.Sinks["acc"] = map[string]string{"KIND": "accountingplus", "CLIENT_ID": "acme", "CLIENT_SECRET": "ap-client-secret-123",
		"SIGNATURE_SECRET": "ap-signature-secret-456"}
	s.Sinks["erp"]["HEADERS"] = "Authorization=Bearer erp-token-789"
	s.TagihanAI = &relay.SourceTagihanAI{APIKey: "tagihan-api-key-000", PublicURL: "https://relay.example/webhooks/tagihanai/acme"}
	s.CreatedAt, s.UpdatedAt = srcNow, srcNow
	return s
}

var plainSecrets = []string{srcSecret, srcSecret2, "ap-client-secret-123", "ap-signature-secret-456", "erp-token-789", "tagihan-api-key-000"}

func TestSealSource_NoSecretAtRest(t *testing.T) {
	k := masterKey(t, "m")
	src := secretSource()
	ss, err := relay.SealSource(k, src)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := json.Marshal(ss)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range plainSecrets {
		if bytes.Contains(stored, []byte(s)) || strings.Contains(ss.String(), s) {
			t.Errorf("the stored form holds %q", s)
		}
	}
	if !bytes.Contains(stored, []byte("https://relay.example/webhooks/tagihanai/acme")) || !bytes.Contains(stored, []byte(`"CLIENT_ID":"acme"`)) {
		t.Errorf("settings that are not secrets should stay readable: %s", stored)
	}
	var back relay.SealedSource
	if err := json.Unmarshal(stored, &back); err != nil {
		t.Fatal(err)
	}
	got, err := back.Open(k)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(src, got); diff != "" {
		t.Fatalf("Open(Seal(s)) (-want +got):\n%s", diff)
	}
}

func TestSealedSource_OpenRefuses(t *testing.T) {
	k := masterKey(t, "m")
	tests := []struct {
		name   string
		key    *sealed.Key
		change func(ss *relay.SealedSource)
		want   string
	}{
		{"other master key", masterKey(t, "x"), func(*relay.SealedSource) {}, "RELAY_MASTER_KEY"},
		{"value moved to another field", k, func(ss *relay.SealedSource) {
			ss.Sinks["acc"]["CLIENT_SECRET"] = ss.Sinks["acc"]["SIGNATURE_SECRET"]
		}, "sink/acc/CLIENT_SECRET"},
		{"secret swapped between ids", k, func(ss *relay.SealedSource) {
			ss.Secrets[0].Sealed, ss.Secrets[1].Sealed = ss.Secrets[1].Sealed, ss.Secrets[0].Sealed
		}, "secret/"},
		{"renamed source", k, func(ss *relay.SealedSource) { ss.Name = "other" }, `source "other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss, err := relay.SealSource(k, secretSource())
			if err != nil {
				t.Fatal(err)
			}
			tt.change(ss)
			_, err = ss.Open(tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want an error naming %q", err, tt.want)
			}
			if !errors.Is(err, &relay.Error{Code: relay.EUNAVAILABLE}) {
				t.Fatalf("error %v is not unavailable", err)
			}
			for _, s := range plainSecrets {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error %q shows a secret", err)
				}
			}
		})
	}
}
