package onlinepajak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// maxAnswerBytes caps how much of an answer is read; the API's answers are
// small JSON objects.
const maxAnswerBytes = 1 << 20

// redacted replaces the API key wherever it could appear.
const redacted = "REDACTED"

// answer is what the API answered to one request, as far as it was read.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	bodyErr error // reading the body failed after the status came
}

// url returns the endpoint with the credentials and extra as query.
func (s *Sink) url(extra url.Values) string {
	q := url.Values{"api_key": {s.apiKey}, "user_id": {s.userID}}
	for k, v := range extra {
		q[k] = v
	}
	u := *s.endpoint
	u.RawQuery = q.Encode()
	return u.String()
}

// post sends the invoice. sent reports whether the request was written in
// full: when err != nil and sent is true, the API may have created the
// invoice, and only a look-up can tell.
func (s *Sink) post(ctx context.Context, body []byte) (a *answer, sent bool, err error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, s.url(nil), bytes.NewReader(body))
	if err != nil {
		return nil, false, s.redactErr(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	a, err = s.do(req)
	return a, wrote.Load(), err
}

// lookupResult is an invoice found by invoiceNumber.
type lookupResult struct {
	status int
	result map[string]string
}

// lookup asks the API for the invoice numbered number (GET on the invoices
// resource, invoiceNumber in a JSON body as the reference says, and in the
// query too). It returns nil, nil when the API says there is no such invoice,
// and an error when the answer does not say either way.
func (s *Sink) lookup(ctx context.Context, number string) (*lookupResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.lookupTimeout)
	defer cancel()
	body, err := json.Marshal(map[string]string{"invoiceNumber": number})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(url.Values{"invoiceNumber": {number}}), bytes.NewReader(body))
	if err != nil {
		return nil, s.redactErr(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	a, err := s.do(req)
	if err != nil {
		return nil, err
	}
	if a.bodyErr != nil {
		return nil, fmt.Errorf("reading the answer (HTTP %d): %w", a.status, a.bodyErr)
	}
	b := parseAPIBody(a.body)
	if b.gateway != "" {
		return nil, fmt.Errorf("API gateway answered HTTP %d: %s: %s", a.status, b.gateway, s.redact(b.message))
	}
	code := a.status
	if is2xx(a.status) && b.code != 0 {
		code = b.code
	}
	switch {
	case is2xx(a.status) && code == http.StatusOK && b.hasResponse:
		inv, ok := invoiceObject(b.invoice)
		if !ok {
			return nil, errors.New("the answer's response.invoice is not an object")
		}
		if len(inv) == 0 {
			return nil, nil
		}
		if got := textOfRaw(inv["invoiceNumber"]); got != "" && got != number {
			return nil, fmt.Errorf("the API answered invoice %s, not %s", quoteShort(got), quoteShort(number))
		}
		return &lookupResult{status: a.status, result: invoiceResult(number, inv)}, nil
	case code == http.StatusNotFound:
		return nil, nil
	case code == http.StatusBadRequest && strings.Contains(strings.ToLower(b.message), "not found"):
		return nil, nil
	default:
		return nil, &lookupError{status: a.status, retryAfter: relay.RetryAfter(a.header, s.now()),
			msg: fmt.Sprintf("the API answered HTTP %d%s: %s", a.status, codeSuffix(a.status, b.code), s.message(a.body, b))}
	}
}

// lookupError is a look-up the API answered with neither the invoice nor
// "not found".
type lookupError struct {
	status     int
	retryAfter time.Duration // from a Retry-After header, 0 when none
	msg        string
}

func (e *lookupError) Error() string { return e.msg }

// do sends req and reads the answer; a transport error comes back redacted.
func (s *Sink) do(req *http.Request) (*answer, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.redactErr(err)
	}
	defer resp.Body.Close()
	body, err := relay.ReadAnswer(resp.Body, maxAnswerBytes)
	a := &answer{status: resp.StatusCode, header: resp.Header, body: body}
	if err != nil {
		a.bodyErr = s.redactErr(err)
	}
	return a, nil
}

// apiBody is the JSON of an answer: the invoice resource's
// {"code","message","response":{"invoice":{...}}} or the API gateway's
// {"error":{"code","message"}}. Every part is optional.
type apiBody struct {
	code        int    // "code" as a number (or digits in a string), 0 when absent
	message     string // "message", or the gateway error's message
	gateway     string // the gateway error's kind, e.g. API_KEY_INVALID
	hasResponse bool   // "response" is an object
	invoice     json.RawMessage
}

func parseAPIBody(body []byte) apiBody {
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return apiBody{}
	}
	var b apiBody
	if c, err := strconv.Atoi(textOfRaw(raw["code"])); err == nil {
		b.code = c
	}
	b.message = textOfRaw(raw["message"])
	if e := raw["error"]; e != nil {
		var ge map[string]json.RawMessage
		if json.Unmarshal(e, &ge) == nil {
			b.gateway = textOfRaw(ge["code"])
			if b.message == "" {
				b.message = textOfRaw(ge["message"])
			}
		} else if b.message == "" {
			b.message = textOfRaw(e)
		}
	}
	var resp map[string]json.RawMessage
	if json.Unmarshal(raw["response"], &resp) == nil && resp != nil {
		b.hasResponse = true
		b.invoice = resp["invoice"]
	}
	return b
}

// invoiceObject reads response.invoice: an object, or nothing (absent, null,
// an empty array) as an empty map.
func invoiceObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte("[]")) {
		return map[string]json.RawMessage{}, true
	}
	var inv map[string]json.RawMessage
	if json.Unmarshal(t, &inv) != nil {
		return nil, false
	}
	return inv, true
}

// invoiceResult is what the sink reports for a created invoice.
func invoiceResult(number string, inv map[string]json.RawMessage) map[string]string {
	r := map[string]string{"invoice_number": number}
	if id := textOfRaw(inv["invoiceId"]); id != "" {
		r["invoice_id"] = id
	}
	return r
}

// textOfRaw returns a JSON string's value or a number's text, else "".
func textOfRaw(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return ""
	}
	if t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) == nil {
			return strings.TrimSpace(s)
		}
		return ""
	}
	var n json.Number
	if json.Unmarshal(t, &n) == nil {
		return n.String()
	}
	return ""
}

// message returns the API's message for an error answer, or the start of
// the body when it has none; redacted, printable, short.
func (s *Sink) message(body []byte, b apiBody) string {
	m := b.message
	if m == "" {
		m = string(body)
	}
	m = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, m)
	m = strings.TrimSpace(s.redact(m))
	if r := []rune(m); len(r) > 300 {
		m = string(r[:300]) + "…"
	}
	if m == "" {
		return "(no message)"
	}
	return m
}

func codeSuffix(status, code int) string {
	if code == 0 || code == status {
		return ""
	}
	return fmt.Sprintf(", code %d", code)
}

func is2xx(status int) bool { return status >= 200 && status < 300 }

// requestError is a transport error whose text has the API key removed.
// Unwrap gives the cause (e.g. context.DeadlineExceeded).
type requestError struct {
	msg string
	err error
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.err }

// redactErr rewrites a transport error so that its text, which for a
// *url.Error holds the full URL, does not contain the API key.
func (s *Sink) redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &requestError{
			msg: s.redact(ue.Op + " " + strconv.Quote(redactURL(ue.URL)) + ": " + ue.Err.Error()),
			err: ue.Err,
		}
	}
	return &requestError{msg: s.redact(err.Error()), err: err}
}

// redactURL replaces the api_key query parameter of u.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	q := p.Query()
	if q.Has("api_key") {
		q.Set("api_key", redacted)
		p.RawQuery = q.Encode()
	}
	return p.String()
}

// redact removes the API key, raw or escaped, from text that will be shown.
func (s *Sink) redact(text string) string {
	if s.apiKey == "" {
		return text
	}
	text = strings.ReplaceAll(text, s.apiKey, redacted)
	for _, esc := range []string{url.QueryEscape(s.apiKey), url.PathEscape(s.apiKey)} {
		if esc != s.apiKey {
			text = strings.ReplaceAll(text, esc, redacted)
		}
	}
	return text
}
