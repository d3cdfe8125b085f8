// Package tagihanai is a small client of the TagihanAI REST API, used by sinks
// that need more of a transaction than a webhook carried (enrichment).
//
// It reads one transaction, GET <base>/transactions/:id with
// `Authorization: Bearer <api key>`, and returns the transaction object as raw
// JSON so that callers decode amounts exactly (json.Number), never through
// float64.
//
// # Errors
//
// Every failure is an *Error whose Temporary field says whether trying again
// later can help: 404 (ErrNotFound), 401/403 (ErrUnauthorized) and other 4xx
// are permanent; 408, 425, 429 (ErrRateLimited, after the client's own bounded
// retries), 5xx, an unreadable answer and network errors are temporary. A 429
// is retried inside one call while the wait (Retry-After, else 1s, 2s, 4s) is
// at most MaxRateLimitWait and ends before the context's deadline; otherwise
// the call returns at once with RetryAfter set, for the caller's schedule.
//
// It lives outside sinks/ because it is an API client, not a sink: the
// AccountingPlus sink uses it for enrichment, and the sources and
// reconciliation work will use it to manage subscriptions.
//
// # What it may import
//
// Of the relay only the shared HTTP rules (relay.RetryableStatus,
// relay.ParseRetryAfter): it has no knowledge of outboxes or sinks. The API
// key never appears in an error.
package tagihanai
