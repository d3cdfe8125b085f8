package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// A source written with its secrets sealed survives a reopen (the start-up
// check accepts the sources bucket), opens with the master key, and the
// database file never holds a secret in plain text (SPEC 6).
func TestStore_SourcesAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	key, err := sealed.ParseKey(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	const webhookSecret, clientSecret = "whsec_dGhlLWFjbWUtd2ViaG9vay1zZWNyZXQ", "the-accountingplus-client-secret"
	src := &relay.Source{Name: "acme", Enabled: true,
		Secrets:   []relay.SourceSecret{relay.NewSourceSecret(webhookSecret, now)},
		Sinks:     map[string]map[string]string{"acc": {"KIND": "accountingplus", "CLIENT_SECRET": clientSecret}},
		CreatedAt: now, UpdatedAt: now}
	ss, err := relay.SealSource(key, src)
	if err != nil {
		t.Fatal(err)
	}
	s := testkit.OpenStoreAt(t, path, store.Options{})
	if _, err := s.PutSource(ctx, ss); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{webhookSecret, clientSecret} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the database file holds %q in plain text", secret)
		}
	}
	if !bytes.Contains(raw, []byte(sealed.Fingerprint(webhookSecret))) {
		t.Error("the fingerprint should be stored beside the sealed secret")
	}
	s = testkit.OpenStoreAt(t, path, store.Options{})
	back, err := s.GetSource(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Open(key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secrets[0].Secret != webhookSecret || got.Sinks["acc"]["CLIENT_SECRET"] != clientSecret {
		t.Fatalf("reopened source: %+v", got)
	}
}
