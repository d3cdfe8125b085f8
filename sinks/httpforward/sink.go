package httpforward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// UserAgent is the User-Agent of every forwarded request, unless HEADERS
// sets another.
const UserAgent = "tagihan-relay"

// Content types the sink sends.
const (
	contentTypeCloudEvents = "application/cloudevents+json"
	contentTypeDefault     = "application/json"
)

const (
	// maxDrain bounds how much of a response body is read so the
	// connection can be reused; a longer body costs a new connection, not
	// memory.
	maxDrain = 64 << 10
	// maxReasonBody is how much of a failed response's body goes into the
	// Result's reason.
	maxReasonBody = 200
)

// Sink is an HTTP forward sink. It is safe for concurrent use; each Deliver
// is one POST and never retries by itself.
type Sink struct {
	url    string
	mode   string
	key    []byte // nil: unsigned
	static http.Header
	client *http.Client
	now    func() time.Time
}

var _ relay.Sink = (*Sink)(nil)

// Deliver POSTs o to the sink's URL and classifies the answer (see the
// package documentation). ctx bounds the whole attempt; when it expires the
// attempt is transient, since webhook-id lets the receiver drop the
// duplicate a retry may cause. Reasons never contain the signing secret.
func (s *Sink) Deliver(ctx context.Context, o *relay.Outbound) relay.Result {
	req, err := s.request(ctx, o)
	if err != nil {
		return relay.Permanent(0, err.Error())
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return relay.Transient(0, 0, transportReason(err))
	}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		drainClose(resp.Body, 0)
		return relay.Delivered(code, nil)
	case code >= 300 && code < 400:
		drainClose(resp.Body, 0)
		return relay.Permanent(code, redirectReason(resp))
	case relay.RetryableStatus(code):
		body := drainClose(resp.Body, maxReasonBody)
		wait := relay.RetryAfter(resp.Header, s.now())
		return relay.Transient(code, wait, statusReason(code, body))
	default: // other 4xx, and anything outside 2xx-5xx
		body := drainClose(resp.Body, maxReasonBody)
		return relay.Permanent(code, statusReason(code, body))
	}
}

// request builds the POST for o: body and Content-Type by mode, static
// headers, the X-Original-TagihanAI-* copies in raw mode and the Standard
// Webhooks headers over exactly the bytes sent.
func (s *Sink) request(ctx context.Context, o *relay.Outbound) (*http.Request, error) {
	body, ctype, what := []byte(o.Event), contentTypeCloudEvents, "CloudEvent"
	if s.mode == ModeRaw {
		body, ctype, what = o.Delivery.Body, o.Delivery.Header("Content-Type"), "original body"
		if ctype == "" {
			ctype = contentTypeDefault
		}
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("http: event %s has no %s to send", o.EventID, what)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("http: build request: %w", err)
	}
	h := s.static.Clone() // validated and canonical in New
	if h == nil {
		h = make(http.Header, 6)
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", UserAgent)
	}
	h.Set("Content-Type", ctype)
	if s.mode == ModeRaw {
		for k, v := range o.Delivery.Headers {
			if len(k) > len(tagihanPrefix) && strings.EqualFold(k[:len(tagihanPrefix)], tagihanPrefix) {
				h.Set(originalPrefix+k[len(tagihanPrefix):], v)
			}
		}
	}
	// webhook-id goes out even unsigned: it is what receivers dedup on.
	h.Set("Webhook-Id", o.EventID)
	if s.key != nil {
		ts := strconv.FormatInt(s.now().Unix(), 10)
		h.Set("Webhook-Timestamp", ts)
		h.Set("Webhook-Signature", signature.StandardSignature(s.key, o.EventID, ts, body))
	}
	// The client would refuse these only inside Do, as a transport error
	// that looks transient; no retry can mend them (SPEC 3: a request that
	// cannot be built is permanent).
	for k, vs := range h {
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("http: cannot build the request: header %s of event %s is not a valid HTTP header value",
					k, relay.LogText(strconv.QuoteToASCII(o.EventID)))
			}
		}
	}
	req.Header = h
	return req, nil
}

// drainClose reads up to keep bytes of body for a reason, discards the rest
// up to maxDrain so the connection can be reused, and closes it.
func drainClose(body io.ReadCloser, keep int) []byte {
	defer body.Close()
	var head []byte
	if keep > 0 {
		head, _ = io.ReadAll(io.LimitReader(body, int64(keep)))
	}
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	return head
}

// statusReason is "503 Service Unavailable: <start of body>".
func statusReason(code int, body []byte) string {
	reason := strconv.Itoa(code)
	if text := http.StatusText(code); text != "" {
		reason += " " + text
	}
	if b := printable(body); b != "" {
		reason += ": " + b
	}
	return reason
}

func redirectReason(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return fmt.Sprintf("%d %s: redirect not followed", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return fmt.Sprintf("%d %s: redirect to %s not followed", resp.StatusCode, http.StatusText(resp.StatusCode), loc.Redacted())
}

// transportReason explains a failed round trip without the URL (which
// url.Error would repeat on every attempt).
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// printable makes a response body fit a one-line reason: a rune cut by the
// length limit is dropped, invalid UTF-8 and control characters become
// spaces.
func printable(b []byte) string {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	s := strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, string(b))
	return strings.TrimSpace(s)
}
