package signature

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// whsecPrefix marks a Standard Webhooks style secret.
const whsecPrefix = "whsec_"

// Secret errors say what is wrong without quoting the secret.
var (
	errEmptySecret   = errors.New("signature: secret is empty")
	errNotWhsec      = errors.New(`signature: secret does not start with "whsec_"`)
	errSecretBase64  = errors.New("signature: secret is not valid base64")
	errEmptyDecoded  = errors.New("signature: secret decodes to an empty key")
	errUnknownEncode = errors.New("signature: unknown secret encoding (want raw or base64)")
)

// DecodeSecret turns a configured signing secret into HMAC key bytes
// (TAGIHANAI_SECRET_ENCODING).
//
// With encoding "raw" (the default, also for "") the key is the secret's
// bytes exactly as configured, a "whsec_" prefix included. With "base64" the
// part after an optional "whsec_" prefix is decoded as standard base64,
// padded or not (Standard Webhooks style). Encoding names are
// case-insensitive.
//
// Errors never contain the secret or any part of it, so callers may log them.
func DecodeSecret(secret, encoding string) ([]byte, error) {
	if secret == "" {
		return nil, errEmptySecret
	}
	switch {
	case encoding == "", strings.EqualFold(encoding, "raw"):
		return []byte(secret), nil
	case strings.EqualFold(encoding, "base64"):
		return decodeBase64Key(strings.TrimPrefix(secret, whsecPrefix))
	default:
		return nil, errUnknownEncode
	}
}

// StandardKey decodes a Standard Webhooks secret, "whsec_<base64>", into the
// HMAC key that StandardSignature takes. The prefix is required; the base64
// may be padded or not. Errors never contain the secret.
func StandardKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, whsecPrefix)
	if !ok {
		return nil, errNotWhsec
	}
	return decodeBase64Key(rest)
}

func decodeBase64Key(s string) ([]byte, error) {
	if s == "" {
		return nil, errEmptyDecoded
	}
	// Dropping the padding lets one decoder take both padded and unpadded
	// secrets, as Standard Webhooks libraries do.
	key, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		// base64's error holds only an offset, but say it our way so
		// nothing about the secret's content can ever leak through it.
		return nil, fmt.Errorf("%w (%s)", errSecretBase64, describeBase64(err))
	}
	if len(key) == 0 {
		return nil, errEmptyDecoded
	}
	return key, nil
}

func describeBase64(err error) string {
	var c base64.CorruptInputError
	if errors.As(err, &c) {
		return fmt.Sprintf("bad input at byte %d", int64(c))
	}
	return "bad input"
}
