package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The rules every HTTP sink and API client shares (SPEC 3), written once.

// RetryableStatus reports whether an HTTP status is a transient failure
// worth retrying on the schedule: 408, 425, 429 and every 5xx. Any other
// status outside 2xx is the sink's own answer and permanent.
func RetryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return code >= 500 && code < 600
}

// ParseRetryAfter reads a Retry-After header value relative to now: either
// delay-seconds (1*DIGIT: no sign, no fraction) or an HTTP date
// (http.ParseTime's forms, GMT). ok is false when v is empty or unreadable;
// a date not after now is (0, true). The delay is capped at MaxRetryAfter,
// the longest a sink may push a retry out. It does no I/O and reads no clock.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(MaxRetryAfter/time.Second) { // only a range error is possible
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter), true
}

// RetryAfter is ParseRetryAfter of h's Retry-After, 0 when there is none.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	d, _ := ParseRetryAfter(h.Get("Retry-After"), now)
	return d
}

// isDigits reports whether s is 1*DIGIT.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// NDJSONLine compacts a CloudEvent to one line (which also validates it)
// and adds the newline: what the file and stdout sinks write.
func NDJSONLine(ev json.RawMessage) ([]byte, error) {
	if len(ev) == 0 {
		return nil, errors.New("no CloudEvent")
	}
	var buf bytes.Buffer
	buf.Grow(len(ev) + 1)
	if err := json.Compact(&buf, ev); err != nil {
		return nil, fmt.Errorf("CloudEvent is not valid JSON: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// NoRedirectClient is a copy of shared (a new client when nil) that never
// follows a redirect: a redirected POST turns into a GET, could carry a
// credential to another host, and is not success. The copy shares shared's
// Transport and its connection pool.
func NoRedirectClient(shared *http.Client) *http.Client {
	c := &http.Client{}
	if shared != nil {
		*c = *shared
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// URL errors of ParseSinkURL (inside its *ConfigError).
var (
	ErrNotAbsoluteURL = errors.New("must be an absolute http or https URL")
	ErrBaseURLExtras  = errors.New("must not have a query, fragment or user info")
)

// ParseSinkURL checks the URL a sink or API client sends to, configured in
// variable name: absolute http or https with a host, and when base (an
// API's BASE_URL, under which paths are joined) without query, fragment or
// user info. A failure is a *ConfigError that never quotes the value
// unredacted: url.Parse's own error quotes it whole, and a URL may carry a
// password.
func ParseSinkURL(name, raw string, base bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &ConfigError{Var: name, Err: fmt.Errorf("not a URL: %w", err)}
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &ConfigError{Var: name, Value: u.Redacted(), Err: ErrNotAbsoluteURL}
	}
	if base && (u.RawQuery != "" || u.Fragment != "" || u.User != nil) {
		return nil, &ConfigError{Var: name, Value: u.Redacted(), Err: ErrBaseURLExtras}
	}
	return u, nil
}

// ErrAnswerTooLarge is ReadAnswer's error for an answer longer than its
// limit.
var ErrAnswerTooLarge = errors.New("answer too large")

// ReadAnswer reads an HTTP answer body of at most max bytes, so memory
// stays bounded whatever a server sends. A longer answer gives its first
// max bytes and an error matching ErrAnswerTooLarge: a caller that must
// understand the answer (a 2xx that may have created a document) treats it
// as cut off, never as a shorter complete one.
func ReadAnswer(body io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > max {
		return b[:max], fmt.Errorf("%w: more than %d bytes", ErrAnswerTooLarge, max)
	}
	return b, nil
}
