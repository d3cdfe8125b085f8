package accountingplus

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// Credentials of the fake AccountingPlus account.
const (
	testClientID        = "ap-client-7f3c"
	testClientSecret    = "cs_9b1e4f7a2c5d8e0f3a6b9c2d5e8f1a4b"
	testSignatureSecret = "ss_4c7f0a3d6e9b2c5f8a1d4e7b0c3f6a9d"
	testEmail           = "finance+erp@majujaya.co.id"
	testTenantID        = "841eaf97-c428-47d1-9f6d-c61cc9df7bee"
)

// responder answers one request to the fake; tok is the Bearer token used.
type responder func(w http.ResponseWriter, r *http.Request, tok string)

// fakeAP is an AccountingPlus that checks every request as strictly as the
// reference describes, independently of the sink's own code: the JWT (parsed
// and validated with the client secret) or the OAuth token it issued,
// A-Signature (recomputed), A-Data (decoded), Content-Type and the whole
// body. A request that fails a check fails the test and gets 400.
type fakeAP struct {
	t         *testing.T
	auth      string // AuthJWT or AuthOAuth
	adata     string // ADataQuery or ADataJSON
	wantBody  string // the expected invoice body; "" skips the body check
	expiresIn int    // of issued OAuth tokens, seconds; 0 omits expires_in

	mu         sync.Mutex
	invoices   []responder // scripted answers to invoice requests; the last repeats; none = success
	tokenReply []responder // scripted answers to token requests (after checks); none = issue a token
	issued     map[string]bool
	revoked    map[string]bool
	used       []string // the token of each invoice request, in order
	tokenCalls int
}

// MustFakeAP starts a fake AccountingPlus; it stops with the test.
func MustFakeAP(tb testing.TB, f *fakeAP) *httptest.Server {
	tb.Helper()
	f.issued, f.revoked = map[string]bool{}, map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sales-invoices", f.serveInvoice)
	mux.HandleFunc("POST /oauth/clients/accesstoken", f.serveToken)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.t.Errorf("fake AccountingPlus: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

func (f *fakeAP) reject(w http.ResponseWriter, format string, args ...any) {
	f.t.Helper()
	msg := fmt.Sprintf(format, args...)
	f.t.Errorf("fake AccountingPlus: %s", msg)
	writeJSON(w, http.StatusBadRequest, `{"status":"99","message":"fake: bad request"}`)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (f *fakeAP) serveInvoice(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.reject(w, "read body: %v", err)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.reject(w, "Content-Type = %q, want application/json", ct)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		f.reject(w, "Authorization = %q, want Bearer <token>", r.Header.Get("Authorization"))
		return
	}
	if msg := f.checkToken(tok); msg != "" {
		f.reject(w, "token: %s", msg)
		return
	}
	mac := hmac.New(sha256.New, []byte(testSignatureSecret))
	fmt.Fprintf(mac, "path=/v1/sales-invoices&token=%s&email=%s&tenant_id=%s", tok, testEmail, testTenantID)
	if got, want := r.Header.Get("A-Signature"), base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
		f.reject(w, "A-Signature = %q, want %q", got, want)
		return
	}
	if msg := f.checkAData(r.Header.Get("A-Data")); msg != "" {
		f.reject(w, "A-Data: %s", msg)
		return
	}
	if f.wantBody != "" {
		if diff := cmp.Diff(decodeExact(f.t, f.wantBody), decodeExact(f.t, string(body))); diff != "" {
			f.reject(w, "body (-want +got):\n%s", diff)
			return
		}
	}

	f.mu.Lock()
	f.used = append(f.used, tok)
	var reply responder
	if n := len(f.invoices); n > 0 {
		reply = f.invoices[min(len(f.used)-1, n-1)]
	}
	f.mu.Unlock()
	if reply == nil {
		reply = created("00004/FPJ/07/29")
	}
	reply(w, r, tok)
}

// checkToken validates a Bearer token as AccountingPlus would.
func (f *fakeAP) checkToken(tok string) string {
	if f.auth == AuthOAuth {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.issued[tok] {
			return "not issued by this server"
		}
		return ""
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testClientSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return err.Error()
	}
	if claims["client_id"] != testClientID {
		return fmt.Sprintf("client_id = %v, want %q", claims["client_id"], testClientID)
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp == nil || exp.Sub(iat.Time) <= 0 || exp.Sub(iat.Time) > 5*time.Minute {
		return fmt.Sprintf("iat %v, exp %v: want a lifetime of at most 5m", iat, exp)
	}
	if len(claims) != 3 {
		return fmt.Sprintf("claims %v, want exactly client_id, iat, exp", claims)
	}
	return ""
}

func (f *fakeAP) checkAData(h string) string {
	raw, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return fmt.Sprintf("%q is not standard base64: %v", h, err)
	}
	if f.adata == ADataJSON {
		var got struct {
			Email    string `json:"email"`
			TenantID string `json:"tenant_id"`
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&got); err != nil || got.Email != testEmail || got.TenantID != testTenantID {
			return fmt.Sprintf("decoded %q, want the JSON email and tenant_id", raw)
		}
		return ""
	}
	if want := "email=" + testEmail + "&tenant_id=" + testTenantID; string(raw) != want {
		return fmt.Sprintf("decoded %q, want %q", raw, want)
	}
	return ""
}

func (f *fakeAP) serveToken(w http.ResponseWriter, r *http.Request) {
	if f.auth != AuthOAuth {
		f.reject(w, "token endpoint called with AUTH=%s", f.auth)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.reject(w, "token request Content-Type = %q", ct)
		return
	}
	var req map[string]string
	d := json.NewDecoder(r.Body)
	if err := d.Decode(&req); err != nil {
		f.reject(w, "token request body: %v", err)
		return
	}
	if diff := cmp.Diff(map[string]string{"client_id": testClientID, "client_secret": testClientSecret}, req); diff != "" {
		f.reject(w, "token request (-want +got):\n%s", diff)
		return
	}
	f.mu.Lock()
	f.tokenCalls++
	n := f.tokenCalls
	var reply responder
	if len(f.tokenReply) > 0 {
		reply = f.tokenReply[min(n-1, len(f.tokenReply)-1)]
	}
	tok := fmt.Sprintf("oauth-token-%d", n)
	if reply == nil {
		f.issued[tok] = true
	}
	f.mu.Unlock()
	if reply != nil {
		reply(w, r, "")
		return
	}
	if f.expiresIn > 0 {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, tok, f.expiresIn))
		return
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"status":"00","message":"success","data":{"token":%q}}`, tok))
}

// Used returns the tokens of the invoice requests so far.
func (f *fakeAP) Used() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.used...)
}

// TokenCalls returns the number of token requests so far.
func (f *fakeAP) TokenCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls
}

// created answers like the reference's success example.
func created(documentNumber string) responder {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"status":"00","message":"success","data":{
			"auto_create_payment":false,"currency_code":"IDR","customer_code":"00005",
			"customer_name":"PT Maju Jaya","document_date":"2026-11-23T00:00:00Z",
			"document_number":%q,"document_status":"Final","total_amount":23088000,"items":[]}}`, documentNumber))
	}
}

// reply answers with a fixed status, headers and body.
func reply(status int, body string, header ...string) responder {
	return func(w http.ResponseWriter, _ *http.Request, _ string) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		writeJSON(w, status, body)
	}
}

// decodeExact decodes JSON with numbers as json.Number, for comparisons
// that see every digit.
func decodeExact(tb testing.TB, s string) any {
	tb.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Errorf("decode %q: %v", s, err)
	}
	return v
}

// readAll returns a request's body.
func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}
