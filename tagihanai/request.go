package tagihanai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// The scopes the reference requires, named in ErrUnauthorized's message.
const (
	scopeTransactionsRead = "transactions:read"
	scopeWebhooksRead     = "webhooks:read"
	scopeWebhooksWrite    = "webhooks:write"
)

// retryPolicy says which failures, besides 429, one call sits out itself.
type retryPolicy int

const (
	// retryRateLimit retries only 429s: Transaction's policy, whose caller
	// (a sink's outbox) has its own schedule for everything else.
	retryRateLimit retryPolicy = iota
	// retryIdempotent also retries 408, 425, 5xx, network errors and
	// answers cut off while reading: for reads, deletes and the test event,
	// which are safe to repeat.
	retryIdempotent
	// retryUnsent also retries only what surely did not reach TagihanAI's
	// application: 408, 425, 503 and failures to connect. It is for
	// creating a subscription, where repeating after a 500 or a lost answer
	// could create a second subscription whose signing secret nobody holds
	// (its deliveries would all fail verification).
	retryUnsent
)

// request is one API call.
type request struct {
	op     string
	scope  string // the scope the reference requires for the endpoint
	method string
	path   string // escaped, under the base URL
	query  url.Values
	body   []byte // JSON; nil sends none
	retry  retryPolicy
}

// failure classifies a failed attempt for the retry decision.
type failure struct {
	rateLimited bool // 429
	server      bool // 408, 425 or 5xx
	network     bool // no answer, or an answer cut off
	unsent      bool // the connection was never made: nothing reached TagihanAI
	hinted      bool // the answer carried a Retry-After
}

// retryable reports whether p repeats an attempt that failed as f with
// status code.
func (p retryPolicy) retryable(f failure, code int) bool {
	switch p {
	case retryIdempotent:
		return f.server || f.network
	case retryUnsent:
		return f.unsent || code == http.StatusServiceUnavailable || code == http.StatusRequestTimeout || code == http.StatusTooEarly
	}
	return false
}

// do sends req until it succeeds or its retries are spent: a 429 waits for
// Retry-After (else 1s, 2s, 4s), the failures req.retry names wait 1s, 2s,
// 4s (or the 5xx's Retry-After); at most maxRetries of each, no single wait
// past maxWait and none that ends after ctx's deadline. It returns the
// status and body of a 2xx answer; any other outcome is an *Error.
func (c *Client) do(ctx context.Context, req request) (int, []byte, error) {
	rateBackoff, failBackoff := firstBackoff, firstBackoff
	var limited, failed int
	for {
		code, body, f, err := c.send(ctx, req)
		if err == nil {
			return code, body, nil
		}
		var wait time.Duration
		switch {
		case f.rateLimited:
			if limited >= c.maxRetries {
				return 0, nil, err
			}
			limited++
			wait = rateBackoff
			if f.hinted {
				wait = retryAfterOf(err)
			} else {
				rateBackoff *= 2
			}
		case req.retry.retryable(f, code) && ctx.Err() == nil:
			if failed >= c.maxRetries {
				return 0, nil, err
			}
			failed++
			wait = failBackoff
			if f.hinted {
				wait = retryAfterOf(err)
			} else {
				failBackoff *= 2
			}
		default:
			return 0, nil, err
		}
		if wait > c.maxWait {
			return 0, nil, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return 0, nil, err
		}
		if c.sleep(ctx, wait) != nil {
			return 0, nil, err
		}
	}
}

// retryAfterOf is the RetryAfter of err, an *Error.
func retryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// send makes one attempt: it waits for the limiter, sends req and reads the
// answer (at most maxBodyBytes). A non-2xx answer is an *Error wrapping the
// sentinel of its status with the API's message; f says how it failed.
func (c *Client) send(ctx context.Context, req request) (code int, body []byte, f failure, err error) {
	op := req.op
	if err := c.limiter.Wait(ctx); err != nil {
		return 0, nil, f, &Error{Op: op, Temporary: true, Err: fmt.Errorf("wait for the request rate limit: %w", err)}
	}
	u := c.baseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var rb io.Reader
	if req.body != nil {
		rb = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, u, rb)
	if err != nil {
		return 0, nil, f, &Error{Op: op, Err: err}
	}
	hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	hreq.Header.Set("Accept", "application/json")
	if req.body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		f.network = true
		var oe *net.OpError
		f.unsent = errors.As(err, &oe) && oe.Op == "dial"
		return 0, nil, f, &Error{Op: op, Temporary: true, Err: err}
	}
	defer resp.Body.Close()
	code = resp.StatusCode
	body, err = relay.ReadAnswer(resp.Body, maxBodyBytes)
	if errors.Is(err, relay.ErrAnswerTooLarge) {
		return code, nil, f, &Error{Op: op, StatusCode: code, Err: fmt.Errorf("%w: answer larger than %d bytes", ErrUnexpectedResponse, maxBodyBytes)}
	}
	if err != nil {
		f.network = true
		return code, nil, f, &Error{Op: op, StatusCode: code, Temporary: true, Err: fmt.Errorf("read answer: %w", err)}
	}

	retryAfter, hinted := relay.ParseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	fail := func(cause error, temporary bool) error {
		return &Error{Op: op, StatusCode: code, RetryAfter: retryAfter, Temporary: temporary,
			Err: withMessage(cause, body, c.apiKey)}
	}
	switch {
	case code >= 200 && code < 300:
		return code, body, f, nil
	case code == http.StatusNotFound:
		return code, nil, f, fail(ErrNotFound, false)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return code, nil, f, fail(fmt.Errorf("%w %s", ErrUnauthorized, req.scope), false)
	case code == http.StatusTooManyRequests:
		f.rateLimited, f.hinted = true, hinted
		return code, nil, f, fail(ErrRateLimited, true)
	case relay.RetryableStatus(code):
		f.server, f.hinted = true, hinted
		return code, nil, f, fail(ErrUnexpectedResponse, true)
	default:
		return code, nil, f, fail(ErrUnexpectedResponse, false)
	}
}

// unexpected is the error of a 2xx answer this client cannot read. It is
// temporary: a proxy's error page or a half-deployed API can be behind it.
func unexpected(op string, code int, format string, args ...any) error {
	return &Error{Op: op, StatusCode: code, Temporary: true,
		Err: fmt.Errorf("%w: %s", ErrUnexpectedResponse, fmt.Sprintf(format, args...))}
}

// envelope is the shape of every 2xx answer with a body: the resource (or
// list) in "data", a list's paging in "pagination".
type envelope struct {
	Data       json.RawMessage `json:"data"`
	Pagination *pagination     `json:"pagination"`
}

// pagination is a list answer's paging. HasMore is nil when absent.
type pagination struct {
	Total   int   `json:"total"`
	Page    int   `json:"page"`
	PerPage int   `json:"per_page"`
	HasMore *bool `json:"has_more"`
}

// readEnvelope decodes a 2xx answer's envelope.
func readEnvelope(op string, code int, body []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, unexpected(op, code, "%v", err)
	}
	return env, nil
}

// dataObject returns the JSON object in body's "data", what names it in the
// error when there is none.
func dataObject(op string, code int, body []byte, what string) (json.RawMessage, error) {
	env, err := readEnvelope(op, code, body)
	if err != nil {
		return nil, err
	}
	d := bytes.TrimSpace(env.Data)
	if len(d) == 0 || d[0] != '{' {
		return nil, unexpected(op, code, "no %s object in \"data\"", what)
	}
	return d, nil
}

// decodeData decodes the object in body's "data" into v.
func decodeData(op string, code int, body []byte, what string, v any) error {
	d, err := dataObject(op, code, body, what)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(d, v); err != nil {
		return unexpected(op, code, "%s: %v", what, err)
	}
	return nil
}

// perPage is the page size of every list walk, the API's maximum.
const perPage = 100

// maxPages bounds a list walk, should an API keep answering has_more.
const maxPages = 100_000

// eachItem walks a paginated list: it sends req with page=1, 2, … and
// per_page=perPage and calls each with every entry of "data", in order. A
// page is the last when its pagination.has_more is false, or, without
// has_more, when it holds fewer than perPage entries. An error from each
// ends the walk and is returned as is. each gets the op of the page, for
// its own errors.
func (c *Client) eachItem(ctx context.Context, req request, what string, each func(op string, item json.RawMessage) error) error {
	op := req.op
	q := req.query
	if q == nil {
		q = url.Values{}
	}
	for page := 1; ; page++ {
		if page > maxPages {
			return &Error{Op: op, Err: fmt.Errorf("%w: more than %d pages", ErrUnexpectedResponse, maxPages)}
		}
		q.Set("page", fmt.Sprint(page))
		q.Set("per_page", fmt.Sprint(perPage))
		req.query = q
		req.op = fmt.Sprintf("%s (page %d)", op, page)
		code, body, err := c.do(ctx, req)
		if err != nil {
			return err
		}
		env, err := readEnvelope(req.op, code, body)
		if err != nil {
			return err
		}
		var items []json.RawMessage
		d := bytes.TrimSpace(env.Data)
		if len(d) == 0 || (d[0] != '[' && !bytes.Equal(d, []byte("null"))) {
			return unexpected(req.op, code, "no list of %s in \"data\"", what)
		}
		if err := json.Unmarshal(d, &items); err != nil {
			return unexpected(req.op, code, "%s: %v", what, err)
		}
		for _, it := range items {
			if err := each(req.op, it); err != nil {
				return err
			}
		}
		more := len(items) >= perPage
		if env.Pagination != nil && env.Pagination.HasMore != nil {
			more = *env.Pagination.HasMore
			if more && len(items) == 0 {
				return unexpected(req.op, code, "an empty page that says has_more")
			}
		}
		if !more {
			return nil
		}
	}
}

// decodeItem decodes one list entry into v.
func decodeItem(op string, raw json.RawMessage, what string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return &Error{Op: op, Temporary: true, Err: fmt.Errorf("%w: %s: %v", ErrUnexpectedResponse, what, err)}
	}
	return nil
}
