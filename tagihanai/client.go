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

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// DefaultBaseURL is the production API base (TAGIHANAI_API_BASE_URL's default).
const DefaultBaseURL = "https://www.tagihanai.com/api/v1"

// MaxRateLimitWait is the longest wait for a 429 that Transaction sits out
// itself; a longer Retry-After is returned to the caller instead.
const MaxRateLimitWait = 30 * time.Second

const (
	// maxRateLimitRetries bounds the 429 retries within one call.
	maxRateLimitRetries = 3
	// firstBackoff is the wait after a 429 without Retry-After; it doubles.
	firstBackoff = time.Second
	// maxBodyBytes bounds what is read of an answer.
	maxBodyBytes = 4 << 20
)

// Client reads transactions from the TagihanAI API. It is safe for
// concurrent use.
type Client struct {
	baseURL string
	apiKey  string
	hc      *http.Client

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
// the call, a bounded number of times and never past ctx's deadline. Errors
// are *Error.
func (c *Client) Transaction(ctx context.Context, id string) (json.RawMessage, error) {
	op := fmt.Sprintf("get transaction %q", id)
	if id == "" {
		return nil, &Error{Op: op, Err: errors.New("empty transaction id")}
	}
	u := c.baseURL + "/transactions/" + url.PathEscape(id)
	backoff := firstBackoff
	for attempt := 0; ; attempt++ {
		data, hinted, err := c.get(ctx, op, u)
		if err == nil {
			return data, nil
		}
		var e *Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusTooManyRequests || attempt >= c.maxRetries {
			return nil, err
		}
		wait := e.RetryAfter
		if !hinted {
			wait = backoff
			backoff *= 2
		}
		if wait > c.maxWait {
			return nil, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return nil, err
		}
		if c.sleep(ctx, wait) != nil {
			return nil, err
		}
	}
}

// get does one request. hinted reports whether a 429 carried Retry-After.
func (c *Client) get(ctx context.Context, op, u string) (data json.RawMessage, hinted bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, &Error{Op: op, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, false, &Error{Op: op, Temporary: true, Err: err}
	}
	defer resp.Body.Close()
	body, err := relay.ReadAnswer(resp.Body, maxBodyBytes)
	if errors.Is(err, relay.ErrAnswerTooLarge) {
		return nil, false, &Error{Op: op, StatusCode: resp.StatusCode, Err: fmt.Errorf("%w: answer larger than %d bytes", ErrUnexpectedResponse, maxBodyBytes)}
	}
	if err != nil {
		return nil, false, &Error{Op: op, StatusCode: resp.StatusCode, Temporary: true, Err: fmt.Errorf("read answer: %w", err)}
	}

	code := resp.StatusCode
	retryAfter, hinted := relay.ParseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	fail := func(sentinel error, temporary bool) error {
		return &Error{Op: op, StatusCode: code, RetryAfter: retryAfter, Temporary: temporary,
			Err: withMessage(sentinel, body)}
	}
	switch {
	case code >= 200 && code < 300:
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, false, &Error{Op: op, StatusCode: code, Temporary: true, Err: fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)}
		}
		d := bytes.TrimSpace(env.Data)
		if len(d) == 0 || d[0] != '{' {
			return nil, false, &Error{Op: op, StatusCode: code, Temporary: true, Err: fmt.Errorf("%w: no transaction object in \"data\"", ErrUnexpectedResponse)}
		}
		return d, false, nil
	case code == http.StatusNotFound:
		return nil, false, fail(ErrNotFound, false)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return nil, false, fail(ErrUnauthorized, false)
	case code == http.StatusTooManyRequests:
		return nil, hinted, fail(ErrRateLimited, true)
	case relay.RetryableStatus(code):
		return nil, false, fail(ErrUnexpectedResponse, true)
	default:
		return nil, false, fail(ErrUnexpectedResponse, false)
	}
}

// withMessage wraps sentinel with the API's error message when body has one.
func withMessage(sentinel error, body []byte) error {
	if m := apiMessage(body); m != "" {
		return fmt.Errorf("%w: %s", sentinel, m)
	}
	return sentinel
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
