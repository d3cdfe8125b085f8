package accountingplus

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// invoicePath is the path of the create endpoint, also the `path=` of the
// plain signature.
const invoicePath = "/v1/sales-invoices"

// tokenPath is the OAuth client-credentials endpoint (AUTH=oauth).
const tokenPath = "/oauth/clients/accesstoken"

// tokenSource hands out the Bearer token. Token returns a cached token while
// it has time left and renews it before it expires; Invalidate drops tok
// (after a 401) so the next Token renews, unless another caller already did.
type tokenSource interface {
	Token(ctx context.Context) (string, error)
	Invalidate(tok string)
}

// renewMargin is how long before expiry a cached token is renewed: a minute,
// or half the lifetime of a shorter-lived token, so a token is never sent
// with only seconds left while a request is in flight.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(time.Minute, lifetime/2)
}

// jwtSource mints HS256 JWTs signed with the client secret (AUTH=jwt).
type jwtSource struct {
	clientID string
	secret   []byte
	ttl      time.Duration
	now      func() time.Time

	mu      sync.Mutex
	tok     string
	renewAt time.Time
}

// Token implements tokenSource.
func (s *jwtSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.tok != "" && now.Before(s.renewAt) {
		return s.tok, nil
	}
	iat := now.Truncate(time.Second)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"client_id": s.clientID,
		"iat":       iat.Unix(),
		"exp":       iat.Add(s.ttl).Unix(),
	}).SignedString(s.secret)
	if err != nil {
		return "", &authError{err: fmt.Errorf("sign JWT: %w", err)}
	}
	s.tok, s.renewAt = tok, iat.Add(s.ttl-renewMargin(s.ttl))
	return tok, nil
}

// Invalidate implements tokenSource.
func (s *jwtSource) Invalidate(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == tok {
		s.tok = ""
	}
}

// oauthSource gets access tokens from POST /oauth/clients/accesstoken
// (AUTH=oauth). One request at a time renews the token; concurrent callers
// wait for it (or their context) and share the result.
type oauthSource struct {
	url          string
	clientID     string
	clientSecret string
	defaultTTL   time.Duration // when the answer has no expires_in
	hc           *http.Client
	now          func() time.Time

	fetching chan struct{} // a one-slot lock held while a request is out

	mu      sync.Mutex
	tok     string
	renewAt time.Time
}

func (s *oauthSource) cached() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != "" && s.now().Before(s.renewAt) {
		return s.tok
	}
	return ""
}

// Token implements tokenSource.
func (s *oauthSource) Token(ctx context.Context) (string, error) {
	if tok := s.cached(); tok != "" {
		return tok, nil
	}
	select {
	case s.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", &authError{temporary: true, err: fmt.Errorf("wait for access token: %w", ctx.Err())}
	}
	defer func() { <-s.fetching }()
	if tok := s.cached(); tok != "" {
		return tok, nil
	}
	start := s.now()
	tok, lifetime, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.tok, s.renewAt = tok, start.Add(lifetime-renewMargin(lifetime))
	s.mu.Unlock()
	return tok, nil
}

// Invalidate implements tokenSource.
func (s *oauthSource) Invalidate(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == tok {
		s.tok = ""
	}
}

// fetch asks for a new access token. The request body and the answer's
// shape are assumptions (the reference does not document this endpoint):
// JSON {"client_id","client_secret"} in; "access_token" or "token", at the
// top or under "data", and "expires_in" seconds out.
func (s *oauthSource) fetch(ctx context.Context) (string, time.Duration, error) {
	body, err := json.Marshal(map[string]string{"client_id": s.clientID, "client_secret": s.clientSecret})
	if err != nil {
		return "", 0, &authError{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return "", 0, &authError{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return "", 0, &authError{temporary: true, err: err}
	}
	defer resp.Body.Close()
	raw, err := relay.ReadAnswer(resp.Body, maxAnswerBytes)
	code := resp.StatusCode
	if err != nil {
		return "", 0, &authError{status: code, temporary: true, err: fmt.Errorf("read answer: %w", err)}
	}
	ans := readAnswer(raw)
	switch {
	case code >= 200 && code < 300:
	case relay.RetryableStatus(code):
		ra := relay.RetryAfter(resp.Header, s.now())
		return "", 0, &authError{status: code, retryAfter: ra, temporary: true, err: fmt.Errorf("HTTP %d%s", code, ans.describe())}
	default:
		return "", 0, &authError{status: code, err: fmt.Errorf("HTTP %d%s", code, ans.describe())}
	}
	tok, lifetime := tokenFrom(raw)
	if tok == "" {
		return "", 0, &authError{status: code, err: fmt.Errorf("HTTP %d without access_token%s", code, ans.describe())}
	}
	if lifetime <= 0 {
		lifetime = s.defaultTTL
	}
	return tok, lifetime, nil
}

// tokenFrom reads the token and its lifetime from a token answer.
func tokenFrom(raw []byte) (string, time.Duration) {
	var top struct {
		tokenFields
		Data *tokenFields `json:"data"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&top) != nil {
		return "", 0
	}
	for _, f := range []*tokenFields{&top.tokenFields, top.Data} {
		if f == nil {
			continue
		}
		if tok := strings.TrimSpace(firstNonEmpty(f.AccessToken, f.Token)); tok != "" {
			return tok, f.lifetime()
		}
	}
	return "", 0
}

type tokenFields struct {
	AccessToken string `json:"access_token"`
	Token       string `json:"token"`
	ExpiresIn   any    `json:"expires_in"` // seconds, a number or a numeric string
}

func (f *tokenFields) lifetime() time.Duration {
	var s string
	switch v := f.ExpiresIn.(type) {
	case json.Number:
		s = string(v)
	case string:
		s = v
	}
	secs, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || secs <= 0 || secs > int64(365*24*time.Hour/time.Second) {
		return 0
	}
	return time.Duration(secs) * time.Second
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// authError is a failure to get a token; temporary says whether a later
// attempt can succeed (network, 408/425/429/5xx) or not (rejected
// credentials, an answer without a token).
type authError struct {
	status     int
	retryAfter time.Duration
	temporary  bool
	err        error
}

func (e *authError) Error() string { return "get access token: " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// signature is the A-Signature header: base64 (standard, padded) of the raw
// HMAC-SHA256 digest, keyed with SIGNATURE_SECRET, of exactly
// `path=/v1/sales-invoices&token=<token>&email=<email>&tenant_id=<tenant>`
// with the values as they are, not URL-encoded.
func signature(secret, token, email, tenant string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("path=" + invoicePath + "&token=" + token + "&email=" + email + "&tenant_id=" + tenant))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// aData is the A-Data header: base64 (standard) of
// `email=<email>&tenant_id=<tenant>`, or with format "json" of
// `{"email":"<email>","tenant_id":"<tenant>"}`.
func aData(format, email, tenant string) string {
	plain := "email=" + email + "&tenant_id=" + tenant
	if format == ADataJSON {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(struct {
			Email    string `json:"email"`
			TenantID string `json:"tenant_id"`
		}{email, tenant})
		plain = strings.TrimSuffix(b.String(), "\n")
	}
	return base64.StdEncoding.EncodeToString([]byte(plain))
}
