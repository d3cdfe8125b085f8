package accountingplus

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The reference's plain signature example, signed with openssl:
//
//	printf '%s' 'path=/v1/sales-invoices&token=YOUR_TOKEN&email=john@gmail.com&tenant_id=841eaf97-…' |
//	  openssl dgst -sha256 -hmac 'signature-secret' -binary | base64
func TestSignature(t *testing.T) {
	got := signature("signature-secret", "YOUR_TOKEN", "john@gmail.com", "841eaf97-c428-47d1-9f6d-c61cc9df7bee")
	if want := "Vlz0VwcoH0bGWyi6tC0SzA7KQi2oC4/GaXrmEljlE24="; got != want {
		t.Errorf("signature = %q, want %q", got, want)
	}
}

func TestAData(t *testing.T) {
	tests := []struct{ format, want string }{
		{ADataQuery, "ZW1haWw9am9obkBnbWFpbC5jb20mdGVuYW50X2lkPTg0MWVhZjk3LWM0MjgtNDdkMS05ZjZkLWM2MWNjOWRmN2JlZQ=="},
		{ADataJSON, "eyJlbWFpbCI6ImpvaG5AZ21haWwuY29tIiwidGVuYW50X2lkIjoiODQxZWFmOTctYzQyOC00N2QxLTlmNmQtYzYxY2M5ZGY3YmVlIn0="},
	}
	for _, tt := range tests {
		if got := aData(tt.format, "john@gmail.com", "841eaf97-c428-47d1-9f6d-c61cc9df7bee"); got != tt.want {
			t.Errorf("aData(%s) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

func TestJWTSource(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 500, time.UTC)
	s := &jwtSource{clientID: "cid", secret: []byte("secret"), ttl: 5 * time.Minute, now: func() time.Time { return now }}
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte("secret"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("parse %s: %v", tok, err)
	}
	if claims["client_id"] != "cid" || claims["iat"] != float64(now.Unix()) || claims["exp"] != float64(now.Unix()+300) {
		t.Errorf("claims = %v", claims)
	}

	now = now.Add(3*time.Minute + 59*time.Second)
	if again, _ := s.Token(context.Background()); again != tok {
		t.Error("token not cached with more than a minute left")
	}
	s.Invalidate("another")
	if again, _ := s.Token(context.Background()); again != tok {
		t.Error("Invalidate of another token dropped the cached one")
	}
	now = now.Add(2 * time.Second)
	if again, _ := s.Token(context.Background()); again == tok {
		t.Error("token not renewed with under a minute left")
	}
}

func TestTokenFrom(t *testing.T) {
	tests := []struct {
		body     string
		wantTok  string
		wantLife time.Duration
	}{
		{`{"access_token":"a","expires_in":3600}`, "a", time.Hour},
		{`{"token":"b","expires_in":"120"}`, "b", 2 * time.Minute},
		{`{"status":"00","data":{"access_token":"c","expires_in":60}}`, "c", time.Minute},
		{`{"data":{"token":"d"}}`, "d", 0},
		{`{"access_token":"e","expires_in":-1}`, "e", 0},
		{`{"access_token":"f","expires_in":1.5}`, "f", 0},
		{`{"access_token":""}`, "", 0},
		{`{"data":"x"}`, "", 0},
		{`not json`, "", 0},
	}
	for _, tt := range tests {
		tok, life := tokenFrom([]byte(tt.body))
		if tok != tt.wantTok || life != tt.wantLife {
			t.Errorf("tokenFrom(%s) = %q, %v; want %q, %v", tt.body, tok, life, tt.wantTok, tt.wantLife)
		}
	}
}
