package onlinepajak

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Deliver creates the invoice of one transaction event, at most once as far
// as the API lets it know:
//
//   - it skips events that are not INVOICE transactions, cancelled ones, and
//     subjects that already have a created document (o.Created);
//   - when an earlier attempt's outcome is unknown (o.PriorUnknown) it looks
//     the invoice up by invoiceNumber first: found is Delivered without a
//     POST, a failed look-up is Unknown (the dispatcher holds it for review);
//   - on any other retry it looks up too, but only to avoid a duplicate: a
//     failed look-up there just lets the POST go ahead;
//   - when the POST was written but no answer came, it looks up at once:
//     found is Delivered, not found Transient, a failed look-up Unknown.
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
		found, err := s.lookup(ctx, inv.InvoiceNumber)
		if err != nil {
			return relay.Unknown(fmt.Sprintf("an earlier attempt's outcome is unknown and the look-up of invoice %s failed: %v", quoteShort(inv.InvoiceNumber), err))
		}
		if found != nil {
			return relay.Delivered(found.status, withLookup(found.result))
		}
	case o.Attempt > 1:
		if found, err := s.lookup(ctx, inv.InvoiceNumber); err == nil && found != nil {
			return relay.Delivered(found.status, withLookup(found.result))
		}
	}
	return s.create(ctx, inv.InvoiceNumber, body)
}

// create POSTs the invoice and classifies the answer.
func (s *Sink) create(ctx context.Context, number string, body []byte) relay.Result {
	a, sent, err := s.post(ctx, body)
	if err != nil {
		if !sent {
			return relay.Transient(0, 0, fmt.Sprintf("sending invoice %s: %v", quoteShort(number), err))
		}
		return s.afterUnknown(ctx, number, 0, fmt.Sprintf("no answer after invoice %s was sent: %v", quoteShort(number), err))
	}

	b := parseAPIBody(a.body)
	if b.gateway == "API_KEY_INVALID" || b.gateway == "API_KEY_UNAUTHORIZED" {
		return relay.Permanent(a.status, fmt.Sprintf("OnlinePajak API gateway refused the API key (HTTP %d): %s: %s", a.status, b.gateway, s.message(a.body, b)))
	}
	if a.bodyErr != nil && is2xx(a.status) {
		return s.afterUnknown(ctx, number, a.status, fmt.Sprintf("invoice %s: HTTP %d but the answer was cut: %v", quoteShort(number), a.status, a.bodyErr))
	}
	code := a.status
	if is2xx(a.status) {
		switch {
		case b.code == http.StatusOK:
			inv, _ := invoiceObject(b.invoice)
			return relay.Delivered(a.status, invoiceResult(number, inv))
		case b.code == 0 || is2xx(b.code):
			return s.afterUnknown(ctx, number, a.status, fmt.Sprintf("invoice %s: HTTP %d without code 200: %s", quoteShort(number), a.status, s.message(a.body, b)))
		}
		code = b.code
	}

	reason := fmt.Sprintf("OnlinePajak answered invoice %s with HTTP %d%s: %s", quoteShort(number), a.status, codeSuffix(a.status, b.code), s.message(a.body, b))
	switch {
	case code >= 300 && code < 400:
		return relay.Permanent(a.status, fmt.Sprintf("OnlinePajak answered invoice %s with a redirect (HTTP %d) to %s; not followed", quoteShort(number), a.status, quoteMax(s.redact(redactURL(a.header.Get("Location"))), 200)))
	case isTransient(code):
		return relay.Transient(a.status, retryAfter(a.header, s.now()), reason)
	default:
		return relay.Permanent(a.status, reason)
	}
}

// afterUnknown settles an attempt whose POST may have been acted on. The
// look-up gets its own LookupTimeout, detached from ctx, whose deadline has
// usually passed by now.
func (s *Sink) afterUnknown(ctx context.Context, number string, status int, cause string) relay.Result {
	found, err := s.lookup(context.WithoutCancel(ctx), number)
	switch {
	case err != nil:
		return relay.Unknown(fmt.Sprintf("%s; look-up by invoiceNumber failed: %v", cause, err))
	case found != nil:
		return relay.Delivered(found.status, withLookup(found.result))
	default:
		return relay.Transient(status, 0, cause+"; look-up by invoiceNumber found no invoice, will send again")
	}
}

// withLookup marks a result as found by look-up rather than by the POST's
// own answer.
func withLookup(r map[string]string) map[string]string {
	r["found_by"] = "lookup"
	return r
}

// isTransient reports whether a status is worth retrying.
func isTransient(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return code >= 500 && code < 600
}
