package sealed_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func testKey(t *testing.T, b byte) *sealed.Key {
	t.Helper()
	k, err := sealed.ParseKey(base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(b)), 32))))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"std padded", base64.StdEncoding.EncodeToString(raw), true},
		{"std with newline", base64.StdEncoding.EncodeToString(raw) + "\n", true},
		{"raw url", base64.RawURLEncoding.EncodeToString(raw), true},
		{"16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), false},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw, 'x')), false},
		{"not base64", "this is not a key!", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sealed.ParseKey(tt.text)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseKey(%q) error = %v, want ok=%v", tt.text, err, tt.ok)
			}
			if err != nil && !errors.Is(err, sealed.ErrBadKey) {
				t.Fatalf("error %v is not ErrBadKey", err)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	k := testKey(t, 'a')
	const field = "source/acme/secret/1"
	v, err := k.Seal(field, secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, secret) || !sealed.IsSealed(v) {
		t.Fatalf("sealed value %q shows the secret or lacks the format prefix", v)
	}
	v2, _ := k.Seal(field, secret)
	if v == v2 {
		t.Fatal("two seals of one secret must differ (random nonce)")
	}
	got, err := k.Open(field, v)
	if err != nil || got != secret {
		t.Fatalf("Open = %q, %v; want the secret", got, err)
	}
	// Flip one bit of the sealed bytes (not of their base64 text, which
	// could make a character base64 does not have: malformed, not altered).
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v, "v1:"))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-3] ^= 1
	tampered := "v1:" + base64.RawURLEncoding.EncodeToString(raw)
	tests := []struct {
		name  string
		key   *sealed.Key
		field string
		value string
		want  error
	}{
		{"other key", testKey(t, 'b'), field, v, sealed.ErrCannotOpen},
		{"other field", k, "source/acme/secret/2", v, sealed.ErrCannotOpen},
		{"altered", k, field, tampered, sealed.ErrCannotOpen},
		{"plain text", k, field, secret, sealed.ErrMalformed},
		{"short", k, field, "v1:AAAA", sealed.ErrMalformed},
		{"bad base64", k, field, "v1:***", sealed.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Open(tt.field, tt.value)
			if !errors.Is(err, tt.want) || got != "" {
				t.Fatalf("Open = %q, %v; want %v", got, err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q shows the secret", err)
			}
		})
	}
}

func TestSealEmpty(t *testing.T) {
	k := testKey(t, 'a')
	v, err := k.Seal("f", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Open("f", v); err != nil || got != "" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestFingerprint(t *testing.T) {
	// sha256("abc") = ba7816bf...
	if got := sealed.Fingerprint("abc"); got != "ba7816bf" {
		t.Fatalf("Fingerprint(abc) = %q, want ba7816bf", got)
	}
	if sealed.Fingerprint(secret) == sealed.Fingerprint(secret+"x") {
		t.Fatal("different secrets, same fingerprint")
	}
}

func TestLoadKey_CreatesInDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, from, err := sealed.LoadKey("", "", dir)
	if err != nil || from != sealed.CreatedNew {
		t.Fatalf("LoadKey = %v, %q; want a created key", err, from)
	}
	path := filepath.Join(dir, sealed.DefaultFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("master-key mode %v, want 0600", fi.Mode().Perm())
	}
	v, _ := k1.Seal("f", secret)
	k2, from, err := sealed.LoadKey("", "", dir)
	if err != nil || from != sealed.FromDataDir {
		t.Fatalf("second LoadKey = %v, %q; want the data dir's key", err, from)
	}
	if got, err := k2.Open("f", v); err != nil || got != secret {
		t.Fatalf("the reloaded key does not open what the first sealed: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".master-key-*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestLoadKey_ConcurrentStartsAgree(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	keys := make([]*sealed.Key, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := sealed.LoadKey("", "", dir)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	v, _ := keys[0].Seal("f", secret)
	for i, k := range keys {
		if k == nil {
			continue
		}
		if _, err := k.Open("f", v); err != nil {
			t.Fatalf("start %d got another key: %v", i, err)
		}
	}
}

func TestLoadKey_Precedence(t *testing.T) {
	dir := t.TempDir()
	envKey := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("e", 32)))
	fileKey := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("f", 32)))
	file := filepath.Join(dir, "mk")
	if err := os.WriteFile(file, []byte(fileKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, from, err := sealed.LoadKey(envKey, file, dir)
	if err != nil || from != sealed.FromEnv {
		t.Fatalf("env and file set: %v, %q; want the env key", err, from)
	}
	_, from, err = sealed.LoadKey("", file, dir)
	if err != nil || from != sealed.FromFile {
		t.Fatalf("file set: %v, %q; want the file's key", err, from)
	}
	if _, err := os.Stat(filepath.Join(dir, sealed.DefaultFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a configured key must not create the data dir's file")
	}
	_, _, err = sealed.LoadKey("", filepath.Join(dir, "missing"), dir)
	if err == nil || !strings.Contains(err.Error(), "RELAY_MASTER_KEY_FILE") {
		t.Fatalf("missing key file: error %v, want one naming RELAY_MASTER_KEY_FILE", err)
	}
	bad := "c2hvcnQ=" // "short"
	_, _, err = sealed.LoadKey(bad, "", dir)
	if !errors.Is(err, sealed.ErrBadKey) || strings.Contains(err.Error(), bad) {
		t.Fatalf("bad env key: error %v; want ErrBadKey without the value", err)
	}
}

func TestLoadKey_DamagedFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, sealed.DefaultFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sealed.LoadKey("", "", dir); !errors.Is(err, sealed.ErrBadKey) {
		t.Fatalf("damaged key file: %v; want ErrBadKey (never a new key over it)", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, sealed.DefaultFile))
	if string(b) != "garbage" {
		t.Fatal("the damaged file was replaced")
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := sealed.ParseKey(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))))
	good, _ := k.Seal("f", secret)
	for _, s := range []string{good, "", "v1:", "v1:AAAA", "v2:" + good[3:], good + "A", secret} {
		f.Add("f", s)
	}
	f.Fuzz(func(t *testing.T, field, value string) {
		got, err := k.Open(field, value)
		// Under this key only the secret was ever sealed, and only for field
		// "f": anything else opening is a forgery.
		if err == nil && (field != "f" || got != secret) {
			t.Fatalf("Open(%q, %q) = %q, want an error", field, value, got)
		}
		if err != nil && !errors.Is(err, sealed.ErrMalformed) && !errors.Is(err, sealed.ErrCannotOpen) {
			t.Fatalf("Open error %v is neither ErrMalformed nor ErrCannotOpen", err)
		}
	})
}
