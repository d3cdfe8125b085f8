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
// # What it must not import
//
// Nothing of the relay: it is an adapter with no knowledge of outboxes or
// sinks. The API key never appears in an error.
package tagihanai
