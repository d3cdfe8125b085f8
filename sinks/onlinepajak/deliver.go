package onlinepajak

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Deliver creates the invoice of one transaction event, at most once as far
// as the API lets it know:
//
//   - it skips events that are not INVOICE transactions, cancelled ones, and
//     subjects that already have a created document (o.Created);
//   - when the POST was written but no answer came (or an answer that does
//     not say), the attempt is Unknown: nothing is looked up or sent in
//     that attempt, and RetryAfter says when the first look-up is due;
//   - after an unknown outcome (o.PriorUnknown) the attempt is a look-up by
//     invoiceNumber and never a POST (settleUnknown): found is Delivered,
//     not found soon after the unknown attempt began is Recheck, not found
//     once LOOKUP_GRACE has passed is Transient (the dispatcher sends again
//     on the schedule), a failed look-up is Unknown (needs_review);
//   - on any other retry it looks up too, but only to avoid a duplicate: a
//     failed look-up there just lets the POST go ahead.
func (s *Sink) Deliver(ctx context.Context, o *relay.Outbound) relay.Result {
	if o.Created != nil {
		return relay.Skipped(fmt.Sprintf("invoice %s already created for subject %s", quoteShort(o.Created.DocumentNumber), quoteShort(o.Subject)))
	}
	switch {
	case o.Type != "" && !strings.HasPrefix(o.Type, "transaction."):
		return relay.Skipped(fmt.Sprintf("event type %s is not a transaction event", quoteShort(o.Type)))
	case o.Type == "transaction.cancelled" || o.Type == "transaction.deleted":
		return relay.Skipped(fmt.Sprintf("event type %s: no invoice is created for it", o.Type))
	}
	inv, err := Map(o.Data, s.mapCfg)
	switch {
	case errors.Is(err, ErrNotInvoice) || errors.Is(err, ErrCancelled):
		return relay.Skipped(err.Error())
	case err != nil:
		return relay.Permanent(0, err.Error())
	}
	body, err := inv.Body()
	if err != nil {
		return relay.Permanent(0, fmt.Sprintf("onlinepajak: encoding invoice %s: %v", quoteShort(inv.InvoiceNumber), err))
	}

	switch {
	case o.PriorUnknown:
		return s.settleUnknown(ctx, inv.InvoiceNumber, o.PriorUnknownAt)
	case o.Attempt > 1:
		if found, err := s.lookup(ctx, inv.InvoiceNumber); err == nil && found != nil {
			return delivered(found)
		}
	}
	res := s.create(ctx, inv.InvoiceNumber, body)
	// The API key travels in the query string, never in the body: the body
	// is recorded as sent, for the operator who settles the attempt.
	res.Request = body
	return res
}

// settleUnknown looks up the invoice an earlier attempt, begun at began,
// may have created. A "not found" proves nothing until LOOKUP_GRACE after
// began: the API may still be creating the invoice. So the delivery is only
// sent again after a look-up begun at least the grace after began said "not
// found"; until then every "not found" asks for another look-up, spread
// over the grace (lookupDelay). A zero began (unknown) counts from now.
func (s *Sink) settleUnknown(ctx context.Context, number string, began time.Time) relay.Result {
	start := s.now()
	if began.IsZero() || began.After(start) {
		began = start
	}
	since := start.Sub(began)
	found, err := s.lookup(ctx, number)
	var le *lookupError
	status := http.StatusNotFound
	switch {
	case found != nil:
		status = found.status
	case errors.As(err, &le):
		status = le.status
	case err != nil:
		status = 0
	}
	switch {
	case le != nil && le.status == http.StatusTooManyRequests:
		// Rate limited: the answer says nothing about the invoice.
		wait := max(lookupDelay(since, s.lookupGrace), min(le.retryAfter, relay.MaxRetryAfter))
		return relay.Recheck(status, wait, fmt.Sprintf("the look-up of invoice %s after an unknown outcome was rate limited (HTTP 429); looking again in %s", quoteShort(number), wait))
	case err != nil:
		return relay.Result{Outcome: relay.OutcomeUnknown, StatusCode: status, Lookup: true,
			Reason: fmt.Sprintf("an earlier attempt's outcome is unknown and the look-up of invoice %s failed: %v", quoteShort(number), err)}
	case found != nil:
		return delivered(found)
	case since < s.lookupGrace:
		wait := lookupDelay(since, s.lookupGrace)
		return relay.Recheck(status, wait, fmt.Sprintf("invoice %s not found %s after the attempt whose outcome is unknown began; OnlinePajak may still be creating it, so it is looked up again in %s and not sent again before %s have passed",
			quoteShort(number), since.Round(time.Millisecond), wait, s.lookupGrace))
	default:
		return relay.Result{Outcome: relay.OutcomeTransient, StatusCode: status, Lookup: true,
			Reason: fmt.Sprintf("invoice %s not found %s after the attempt whose outcome is unknown began (LOOKUP_GRACE %s): that attempt created nothing; sending again", quoteShort(number), since.Round(time.Millisecond), s.lookupGrace)}
	}
}

// lookupDelay is how long to wait for the next look-up, since after the
// unknown attempt began, with grace in all: as long again as has passed
// (at least grace/8 and 1s), and never past the end of the grace, so that
// the look-ups spread over the grace instead of bunching at its start (a
// grace of 2m after a 3s timeout: at about 18s, 36s, 72s and 2m) and the
// last one falls at its end. Past the grace (a rate-limited look-up) it is
// grace/8.
func lookupDelay(since, grace time.Duration) time.Duration {
	step := max(since, grace/8, time.Second)
	if since >= grace {
		return max(grace/8, time.Second)
	}
	return min(step, grace-since)
}

// create POSTs the invoice and classifies the answer.
func (s *Sink) create(ctx context.Context, number string, body []byte) relay.Result {
	start := s.now()
	a, sent, err := s.post(ctx, body)
	if err != nil {
		if !sent {
			return relay.Transient(0, 0, fmt.Sprintf("sending invoice %s: %v", quoteShort(number), err))
		}
		return s.unknown(start, 0, fmt.Sprintf("no answer after invoice %s was sent: %v", quoteShort(number), err))
	}

	b := parseAPIBody(a.body)
	if b.gateway == "API_KEY_INVALID" || b.gateway == "API_KEY_UNAUTHORIZED" {
		return relay.Permanent(a.status, fmt.Sprintf("OnlinePajak API gateway refused the API key (HTTP %d): %s: %s", a.status, b.gateway, s.message(a.body, b)))
	}
	if a.bodyErr != nil && is2xx(a.status) {
		return s.unknown(start, a.status, fmt.Sprintf("invoice %s: HTTP %d but the answer was cut: %v", quoteShort(number), a.status, a.bodyErr))
	}
	code := a.status
	if is2xx(a.status) {
		switch {
		case b.code == http.StatusOK:
			inv, _ := invoiceObject(b.invoice)
			return relay.Delivered(a.status, invoiceResult(number, inv))
		case b.code == 0 || is2xx(b.code):
			return s.unknown(start, a.status, fmt.Sprintf("invoice %s: HTTP %d without code 200: %s", quoteShort(number), a.status, s.message(a.body, b)))
		}
		code = b.code
	}

	reason := fmt.Sprintf("OnlinePajak answered invoice %s with HTTP %d%s: %s", quoteShort(number), a.status, codeSuffix(a.status, b.code), s.message(a.body, b))
	switch {
	case code >= 300 && code < 400:
		return relay.Permanent(a.status, fmt.Sprintf("OnlinePajak answered invoice %s with a redirect (HTTP %d) to %s; not followed", quoteShort(number), a.status, quoteMax(s.redact(redactURL(a.header.Get("Location"))), 200)))
	case relay.RetryableStatus(code):
		return relay.Transient(a.status, relay.RetryAfter(a.header, s.now()), reason)
	default:
		return relay.Permanent(a.status, reason)
	}
}

// unknown is the result of a POST, begun at start, that may have been
// acted on. It is not looked up now (a look-up right away finds nothing
// while the API is still creating the invoice); RetryAfter schedules the
// first look-up.
func (s *Sink) unknown(start time.Time, status int, cause string) relay.Result {
	r := relay.Unknown(cause + "; the invoice will be looked up by invoiceNumber before it is sent again")
	r.StatusCode = status
	r.RetryAfter = lookupDelay(s.now().Sub(start), s.lookupGrace)
	return r
}

// delivered is the result of an invoice found by a look-up.
func delivered(found *lookupResult) relay.Result {
	r := relay.Delivered(found.status, withLookup(found.result))
	r.Lookup = true
	return r
}

// withLookup marks a result as found by look-up rather than by the POST's
// own answer.
func withLookup(r map[string]string) map[string]string {
	r["found_by"] = "lookup"
	return r
}
