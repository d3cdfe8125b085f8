package relay_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{name: "Empty", in: "", want: 0, wantOK: false},
		{name: "Seconds", in: "7", want: 7 * time.Second, wantOK: true},
		{name: "Zero", in: "0", want: 0, wantOK: true},
		{name: "Spaces", in: " 120 ", want: 2 * time.Minute, wantOK: true},
		{name: "LeadingZeros", in: "007", want: 7 * time.Second, wantOK: true},
		{name: "OverCap", in: "999999999999", want: relay.MaxRetryAfter, wantOK: true},
		{name: "Huge", in: "99999999999999999999999", want: relay.MaxRetryAfter, wantOK: true},
		{name: "Negative", in: "-5", want: 0, wantOK: false},
		{name: "Plus", in: "+5", want: 0, wantOK: false},
		{name: "Fraction", in: "1.5", want: 0, wantOK: false},
		{name: "Garbage", in: "soon", want: 0, wantOK: false},
		{name: "IMFFixdate", in: "Thu, 01 Jan 2026 12:00:30 GMT", want: 30 * time.Second, wantOK: true},
		{name: "RFC850", in: "Thursday, 01-Jan-26 12:01:00 GMT", want: time.Minute, wantOK: true},
		{name: "ANSIC", in: "Thu Jan  1 12:00:10 2026", want: 10 * time.Second, wantOK: true},
		{name: "DateNow", in: "Thu, 01 Jan 2026 12:00:00 GMT", want: 0, wantOK: true},
		{name: "DatePast", in: "Thu, 01 Jan 2026 11:00:00 GMT", want: 0, wantOK: true},
		{name: "DateFarFuture", in: "Fri, 01 Jan 2027 12:00:00 GMT", want: relay.MaxRetryAfter, wantOK: true},
		{name: "DateNotGMT", in: "Thu, 01 Jan 2026 12:00:30 +0700", want: 0, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := relay.ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
			h := http.Header{}
			h.Set("Retry-After", tt.in)
			if got := relay.RetryAfter(h, now); got != tt.want {
				t.Errorf("RetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "7", "99999999999999999999", "Thu, 01 Jan 2026 12:00:30 GMT", "-1", "soon"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := relay.ParseRetryAfter(v, now)
		if d < 0 || d > relay.MaxRetryAfter || (!ok && d != 0) {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want 0..%v, and 0 when not ok", v, d, ok, relay.MaxRetryAfter)
		}
	})
}

func TestRetryableStatus(t *testing.T) {
	for code := 100; code < 700; code++ {
		want := code == 408 || code == 425 || code == 429 || (code >= 500 && code <= 599)
		if got := relay.RetryableStatus(code); got != want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestNDJSONLine(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "Compacted", in: "{\n  \"id\": \"a\",\n  \"n\": [1, 2]\n}", want: "{\"id\":\"a\",\"n\":[1,2]}\n"},
		{name: "Empty", in: "", wantErr: true},
		{name: "NotJSON", in: "{\"id\":", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := relay.NDJSONLine([]byte(tt.in))
			if (err != nil) != tt.wantErr || string(got) != tt.want {
				t.Errorf("NDJSONLine(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseSinkURL(t *testing.T) {
	const secret = "hunter2"
	tests := []struct {
		name, raw string
		base      bool
		wantErr   error // nil: accepted
	}{
		{name: "https", raw: "https://erp.example/in?x=1", wantErr: nil},
		{name: "upper-case scheme", raw: "HTTPS://erp.example/in", wantErr: nil},
		{name: "base", raw: "https://api.example/v1", base: true, wantErr: nil},
		{name: "relative", raw: "/hooks", wantErr: relay.ErrNotAbsoluteURL},
		{name: "no host", raw: "http:///hooks", wantErr: relay.ErrNotAbsoluteURL},
		{name: "ftp with password", raw: "ftp://u:" + secret + "@erp.example/", wantErr: relay.ErrNotAbsoluteURL},
		{name: "base with query", raw: "https://api.example/?api_key=" + secret, base: true, wantErr: relay.ErrBaseURLExtras},
		{name: "base with fragment", raw: "https://api.example/#" + secret, base: true, wantErr: relay.ErrBaseURLExtras},
		{name: "base with user info", raw: "https://u:" + secret + "@api.example/", base: true, wantErr: relay.ErrBaseURLExtras},
		{name: "forward URL may carry user info", raw: "https://u:" + secret + "@erp.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := relay.ParseSinkURL("SINK_X_URL", tt.raw, tt.base)
			if tt.wantErr == nil {
				if err != nil || u == nil {
					t.Fatalf("relay.ParseSinkURL(%q) = %v, %v; want a URL", tt.raw, u, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("relay.ParseSinkURL(%q) error = %v, want %v", tt.raw, err, tt.wantErr)
			}
			var ce *relay.ConfigError
			if !errors.As(err, &ce) || ce.Var != "SINK_X_URL" {
				t.Fatalf("error %v is not a ConfigError naming SINK_X_URL", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q shows the secret", err)
			}
		})
	}
	// url.Parse's own error quotes the whole value: it must not come through.
	_, err := relay.ParseSinkURL("SINK_X_URL", "https://u:"+secret+"@erp.example:99x/", false)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("unparsable URL: error %v", err)
	}
}

func TestNoRedirectClient(t *testing.T) {
	shared := &http.Client{Timeout: time.Second}
	c := relay.NoRedirectClient(shared)
	if c == shared || c.Timeout != time.Second || c.CheckRedirect == nil || shared.CheckRedirect != nil {
		t.Fatalf("NoRedirectClient must copy the shared client and set only its redirect policy")
	}
	if err := c.CheckRedirect(nil, nil); !errors.Is(err, http.ErrUseLastResponse) {
		t.Fatalf("CheckRedirect = %v, want http.ErrUseLastResponse", err)
	}
	if relay.NoRedirectClient(nil).CheckRedirect == nil {
		t.Fatal("a nil client must give a new client that does not follow redirects")
	}
}

func TestReadAnswer(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		max     int64
		want    string
		tooLong bool
	}{
		{name: "shorter", body: "abc", max: 4, want: "abc"},
		{name: "exactly the limit", body: "abcd", max: 4, want: "abcd"},
		{name: "one byte over", body: "abcde", max: 4, want: "abcd", tooLong: true},
		{name: "empty", body: "", max: 4, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := relay.ReadAnswer(strings.NewReader(tt.body), tt.max)
			if string(got) != tt.want || errors.Is(err, relay.ErrAnswerTooLarge) != tt.tooLong {
				t.Fatalf("ReadAnswer(%q, %d) = %q, %v; want %q, too large %v", tt.body, tt.max, got, err, tt.want, tt.tooLong)
			}
		})
	}
	if _, err := relay.ReadAnswer(iotest.ErrReader(io.ErrUnexpectedEOF), 4); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a failed read must come back: %v", err)
	}
}
