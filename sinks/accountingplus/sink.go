package accountingplus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/tagihanai"
)

var _ relay.Sink = (*Sink)(nil)

// Sink creates an AccountingPlus sales invoice per TagihanAI INVOICE
// transaction. It is safe for concurrent use; tokens are shared by all
// deliveries.
type Sink struct {
	endpoint        string
	email           string
	tenantID        string
	signatureSecret string
	aData           string
	tokens          tokenSource
	hc              *http.Client
	mapping         MapConfig
	tagihanai       *tagihanai.Client
	now             func() time.Time
	secrets         []string
}

// Deliver creates the sales invoice for o's transaction. It never sends twice
// within one call except after a 401 (the request was refused, so nothing
// was created), and reports OutcomeUnknown when the request was written but
// no answer came: the invoice may exist.
func (s *Sink) Deliver(ctx context.Context, o *relay.Outbound) relay.Result {
	res, tokens := s.deliver(ctx, o)
	res.Reason = scrub(res.Reason, append(tokens, s.secrets...))
	return res
}

// deliver does the work; it returns the tokens it used, to scrub from the
// reason.
func (s *Sink) deliver(ctx context.Context, o *relay.Outbound) (relay.Result, []string) {
	if c := o.Created; c != nil {
		return relay.Skipped(fmt.Sprintf("document %s already created for %s by event %s",
			c.DocumentNumber, c.Subject, c.EventID)), nil
	}
	tx, err := decodeObject(o.Data)
	if err != nil {
		return relay.Permanent(0, "accountingplus: "+err.Error()), nil
	}
	if typ, _ := text(tx, "type"); typ != "" && !strings.EqualFold(typ, "INVOICE") {
		return relay.Skipped(fmt.Sprintf("transaction type %q: %v", typ, ErrNotInvoice)), nil
	}
	if s.tagihanai != nil && needsEnrichment(tx) {
		if res, ok := s.enrich(ctx, o, &tx); !ok {
			return res, nil
		}
	}
	inv, err := mapTransaction(tx, s.mapping)
	if errors.Is(err, ErrNotInvoice) {
		return relay.Skipped(err.Error()), nil
	}
	if err != nil {
		return relay.Permanent(0, "accountingplus: "+err.Error()), nil
	}
	body, err := json.Marshal(inv)
	if err != nil {
		return relay.Permanent(0, "accountingplus: encode request: "+err.Error()), nil
	}
	res, tokens := s.create(ctx, body)
	if len(tokens) > 0 {
		// A request was made. The body carries no credential (they travel
		// in headers): it is recorded as sent, for the operator who
		// settles the attempt.
		res.Request = body
	}
	return res, tokens
}

// enrich replaces *tx by the event's transaction merged with the one read
// from the TagihanAI API. ok is false when the read failed; res says how.
func (s *Sink) enrich(ctx context.Context, o *relay.Outbound, tx *map[string]any) (res relay.Result, ok bool) {
	id := o.Subject
	if id == "" {
		id, _ = text(*tx, "id")
	}
	raw, err := s.tagihanai.Transaction(ctx, id)
	if err != nil {
		reason := "accountingplus: enrich from TagihanAI: " + err.Error()
		var e *tagihanai.Error
		if errors.As(err, &e) && e.Temporary {
			return relay.Transient(e.StatusCode, e.RetryAfter, reason), false
		}
		if e != nil {
			return relay.Permanent(e.StatusCode, reason), false
		}
		return relay.Permanent(0, reason), false
	}
	fetched, err := decodeObject(raw)
	if err != nil {
		return relay.Permanent(0, "accountingplus: enrich from TagihanAI: "+err.Error()), false
	}
	*tx = merge(*tx, fetched)
	return relay.Result{}, true
}

// create posts the invoice, renewing the token and posting once more after
// a 401.
func (s *Sink) create(ctx context.Context, body []byte) (relay.Result, []string) {
	var used []string
	for attempt := 1; ; attempt++ {
		tok, err := s.tokens.Token(ctx)
		if err != nil {
			return authResult(err), used
		}
		used = append(used, tok)
		res, unauthorized := s.post(ctx, tok, body)
		if !unauthorized {
			return res, used
		}
		if attempt == 2 {
			res.Reason = "accountingplus: still unauthorized after renewing the token" + strings.TrimPrefix(res.Reason, "accountingplus")
			return res, used
		}
		s.tokens.Invalidate(tok)
	}
}

// post sends one request. unauthorized reports a 401, whose res is the
// permanent failure to use when renewing does not help.
func (s *Sink) post(ctx context.Context, token string, body []byte) (res relay.Result, unauthorized bool) {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return relay.Permanent(0, "accountingplus: "+err.Error()), false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("A-Signature", signature(s.signatureSecret, token, s.email, s.tenantID))
	req.Header.Set("A-Data", s.aData)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := s.hc.Do(req)
	if err != nil {
		if wrote.Load() {
			return relay.Unknown("accountingplus: no answer after the request was sent, the invoice may have been created: " + err.Error()), false
		}
		return relay.Transient(0, 0, "accountingplus: request not sent: "+err.Error()), false
	}
	defer resp.Body.Close()
	raw, readErr := relay.ReadAnswer(resp.Body, maxAnswerBytes)
	code := resp.StatusCode
	ans := readAnswer(raw)
	switch {
	case code == http.StatusUnauthorized:
		return relay.Permanent(code, fmt.Sprintf("accountingplus: HTTP %d%s", code, ans.describe())), true
	case code >= 200 && code < 300:
		return success(code, ans, readErr), false
	case relay.RetryableStatus(code):
		ra := relay.RetryAfter(resp.Header, s.now())
		return relay.Transient(code, ra, fmt.Sprintf("accountingplus: HTTP %d%s", code, ans.describe())), false
	case code >= 300 && code < 400:
		return relay.Permanent(code, fmt.Sprintf("accountingplus: HTTP %d: unexpected redirect", code)), false
	default:
		return relay.Permanent(code, fmt.Sprintf("accountingplus: HTTP %d%s", code, ans.describe())), false
	}
}

// success classifies a 2xx answer by its business status.
func success(code int, ans answer, readErr error) relay.Result {
	switch {
	case readErr != nil:
		return relay.Unknown(fmt.Sprintf("accountingplus: HTTP %d but the answer was cut off (%v), the invoice may have been created", code, readErr))
	case !ans.JSON || ans.Status == "":
		return relay.Unknown(fmt.Sprintf("accountingplus: HTTP %d without a status, the invoice may have been created%s", code, ans.describe()))
	case ans.Status == statusOK:
		return relay.Delivered(code, map[string]string{"document_number": ans.DocumentNumber})
	default:
		return relay.Permanent(code, fmt.Sprintf("accountingplus: rejected%s", ans.describe()))
	}
}

// authResult turns a failure to get a token into a Result.
func authResult(err error) relay.Result {
	reason := "accountingplus: " + err.Error()
	var e *authError
	if errors.As(err, &e) && e.temporary {
		return relay.Transient(e.status, e.retryAfter, reason)
	}
	if e != nil {
		return relay.Permanent(e.status, reason)
	}
	return relay.Permanent(0, reason)
}

// scrub replaces every secret in s, so no reason ever carries one.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
