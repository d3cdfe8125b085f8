// Package sealed encrypts the secrets a relay stores (webhook signing
// secrets, sink credentials, TagihanAI API keys) with AES-256-GCM under the
// master key of SPEC 6, and names a secret by its fingerprint, the only
// form in which one is ever shown.
//
// A sealed value is "v1:" and the unpadded URL-safe base64 of a random
// 12-byte nonce followed by the GCM ciphertext and tag. The field name
// (for example "source/acme/secret/3") is authenticated as additional data,
// so a sealed value copied into another field does not open there.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the master key's length: 32 bytes, AES-256.
const KeySize = 32

// prefix marks the format of a sealed value.
const prefix = "v1:"

// Errors of ParseKey, LoadKey and Open. None of them, nor any error this
// package returns, holds a key or a secret.
var (
	// ErrBadKey: a master key that is not the base64 of exactly 32 bytes.
	ErrBadKey = errors.New("master key must be the base64 of 32 bytes")
	// ErrMalformed: a value that is not a sealed value of a known format.
	ErrMalformed = errors.New("not a sealed value")
	// ErrCannotOpen: the value was sealed under another master key or
	// field, or it was altered.
	ErrCannotOpen = errors.New("cannot decrypt: sealed under another master key, for another field, or altered")
)

// Key is a master key, ready to seal and open.
type Key struct {
	aead cipher.AEAD
}

// ParseKey reads a master key: the standard or URL-safe base64, padded or
// not, of 32 bytes; surrounding white space is ignored.
func ParseKey(text string) (*Key, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("%w (it decodes to %d bytes)", ErrBadKey, len(b))
			}
			return newKey(b)
		}
	}
	return nil, ErrBadKey
}

func newKey(b []byte) (*Key, error) {
	block, err := aes.NewCipher(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return &Key{aead: aead}, nil
}

// Seal encrypts secret for the field it is stored in (its name, e.g. "source/acme/secret/3").
func (k *Key) Seal(field, secret string) (string, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(secret)+k.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("sealed: random nonce: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, []byte(secret), []byte(field))
	return prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made for the same field under the same key.
func (k *Key) Open(field, value string) (string, error) {
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return "", ErrMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return "", ErrMalformed
	}
	n := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(field))
	if err != nil {
		return "", ErrCannotOpen
	}
	return string(plain), nil
}

// IsSealed reports whether value has the form of a sealed value (it may
// still not open).
func IsSealed(value string) bool { return strings.HasPrefix(value, prefix) }

// Fingerprint names a secret without revealing it: the first 8 hex digits
// of its SHA-256 (SPEC 6).
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:4])
}

// DefaultFile is the master key's file in the data dir when neither
// RELAY_MASTER_KEY nor RELAY_MASTER_KEY_FILE is set.
const DefaultFile = "master-key"

// Where a master key came from (LoadKey).
const (
	FromEnv     = "RELAY_MASTER_KEY"
	FromFile    = "RELAY_MASTER_KEY_FILE"
	FromDataDir = "data dir"
	CreatedNew  = "created"
)

// LoadKey finds the master key as SPEC 6 says: the value of
// RELAY_MASTER_KEY (env) when set, else the file RELAY_MASTER_KEY_FILE
// (file) names, else <dataDir>/master-key, which is created (32 random
// bytes, base64, mode 0600) when it does not exist. It also says where the
// key came from (FromEnv, FromFile, FromDataDir or CreatedNew), so the
// service can log that a new key was made and must be backed up.
func LoadKey(env, file, dataDir string) (*Key, string, error) {
	switch {
	case env != "":
		k, err := ParseKey(env)
		if err != nil {
			return nil, "", fmt.Errorf("RELAY_MASTER_KEY: %w", err)
		}
		return k, FromEnv, nil
	case file != "":
		k, err := readKeyFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("RELAY_MASTER_KEY_FILE: %w", err)
		}
		return k, FromFile, nil
	}
	path := filepath.Join(dataDir, DefaultFile)
	k, err := readKeyFile(path)
	if err == nil {
		return k, FromDataDir, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	if err := createKeyFile(path); err != nil {
		return nil, "", err
	}
	k, err = readKeyFile(path) // another process may have won the race: use its key
	return k, CreatedNew, err
}

func readKeyFile(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// createKeyFile writes a new random key to path unless a file is there,
// atomically: the key is written and fsynced in a temporary file that is
// then linked to path (which fails when path exists), so a crash never
// leaves a half-written key, and a concurrent start never replaces one.
func createKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	raw := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, raw); err != nil {
		return fmt.Errorf("master key: random: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".master-key-*")
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("master key: %w", err)
	}
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("master key: write: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("master key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			return fmt.Errorf("master key: sync %s: %w", dir, err)
		}
	}
	return nil
}
