package tagihanai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultBaseURL is the production API base (TAGIHANAI_API_BASE_URL's default).
const DefaultBaseURL = "https://www.tagihanai.com/api/v1"

// MaxRateLimitWait is the longest wait for a 429 (or a retried 5xx) that a
// call sits out itself; a longer Retry-After is returned to the caller
// instead.
const MaxRateLimitWait = 30 * time.Second

const (
	// maxRateLimitRetries bounds the 429 retries within one call, and
	// separately the retries of 5xx and network errors.
	maxRateLimitRetries = 3
	// firstBackoff is the wait after a 429 without Retry-After, and after a
	// first 5xx or network error; it doubles.
	firstBackoff = time.Second
	// maxBodyBytes bounds what is read of an answer.
	maxBodyBytes = 4 << 20
)

// Client calls the TagihanAI API: transactions and webhook subscriptions.
// It is safe for concurrent use once configured (WithLimiter is called
// before the first request). It never prints its API key: not in errors,
// not in String.
type Client struct {
	baseURL string
	apiKey  string
	hc      *http.Client

	limiter *Limiter

	maxRetries int
	maxWait    time.Duration
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
}

// NewClient returns a client of the API at baseURL (DefaultBaseURL when
// empty) that authenticates with apiKey. hc carries the shared transport; nil
// means http.DefaultClient. Per-call timeouts come from the context.
func NewClient(baseURL, apiKey string, hc *http.Client) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		apiKey:     apiKey,
		hc:         hc,
		maxRetries: maxRateLimitRetries,
		maxWait:    MaxRateLimitWait,
		now:        time.Now,
		sleep:      sleep,
	}
}

// Transaction returns the transaction object with the given id exactly as the
// API sent it (the "data" of GET /transactions/:id). A 429 is retried within
// the call, a bounded number of times and never past ctx's deadline; other
// failures (5xx, network) are returned at once, as Temporary, for the
// caller's own schedule (a sink's outbox). Errors are *Error.
func (c *Client) Transaction(ctx context.Context, id string) (json.RawMessage, error) {
	op := fmt.Sprintf("get transaction %q", id)
	if id == "" {
		return nil, &Error{Op: op, Err: errors.New("empty transaction id")}
	}
	code, body, err := c.do(ctx, request{op: op, scope: scopeTransactionsRead, method: http.MethodGet,
		path: "/transactions/" + url.PathEscape(id), retry: retryRateLimit})
	if err != nil {
		return nil, err
	}
	return dataObject(op, code, body, "transaction")
}

// String describes the client without its API key, so that printing one
// (%v, %+v, a log attribute) never leaks it.
func (c *Client) String() string {
	key := "no API key"
	if c.apiKey != "" {
		key = "API key set"
	}
	return "tagihanai.Client(" + c.baseURL + ", " + key + ")"
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// withMessage wraps err with the API's error message when body has one.
// The key is cut out of the message first, should TagihanAI ever echo it.
func withMessage(err error, body []byte, apiKey string) error {
	if apiKey != "" {
		body = bytes.ReplaceAll(body, []byte(apiKey), []byte("[API key]"))
	}
	if m := apiMessage(body); m != "" {
		return fmt.Errorf("%w: %s", err, m)
	}
	return err
}

// apiMessage extracts a short human message from an error answer: the JSON
// "message", "error" (a string or an object with "message"), "detail" or
// "title", else the start of the body as text.
func apiMessage(body []byte) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		for _, k := range []string{"message", "error", "detail", "title"} {
			var s string
			if json.Unmarshal(obj[k], &s) == nil && s != "" {
				return truncate(s)
			}
			var nested struct {
				Message string `json:"message"`
				Type    string `json:"type"`
			}
			if json.Unmarshal(obj[k], &nested) == nil && (nested.Message != "" || nested.Type != "") {
				return truncate(strings.TrimSpace(nested.Type + " " + nested.Message))
			}
		}
		return ""
	}
	return truncate(string(body))
}

// truncate collapses whitespace and keeps at most 200 runes of s.
func truncate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
