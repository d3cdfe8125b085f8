// Package tagihanai is a small client of the TagihanAI REST API: the sinks
// use it to read a transaction whole (enrichment), the sources to manage
// their webhook subscriptions and to reconcile (SPEC 7).
//
// Every call sends `Authorization: Bearer <api key>` under the base URL
// (TAGIHANAI_API_BASE_URL) and reads at most 4 MiB of answer:
//
//   - Transaction: GET /transactions/:id, the object as raw JSON so that
//     callers decode amounts exactly (json.Number), never through float64.
//   - Transactions: GET /transactions, every page (per_page 100).
//   - ListWebhooks, CreateWebhook, DeleteWebhook, TestWebhook: GET and POST
//     /webhooks, DELETE /webhooks/:id, POST /webhooks/:id/test.
//   - WebhookDeliveries: GET /webhooks/:id/deliveries, every page.
//
// # Errors and retries
//
// Every failure is an *Error whose Temporary field says whether trying again
// later can help: 404 (ErrNotFound), 401/403 (ErrUnauthorized, naming the
// scope the endpoint needs) and other 4xx are permanent; 408, 425, 429
// (ErrRateLimited), 5xx, an unreadable answer and network errors are
// temporary.
//
// A 429 is retried inside one call while the wait (Retry-After, else 1s, 2s,
// 4s) is at most MaxRateLimitWait and ends before the context's deadline;
// otherwise the call returns at once with RetryAfter set, for the caller's
// schedule. 5xx and network errors are retried the same way (1s, 2s, 4s, or
// a 5xx's Retry-After) by the calls that are safe to repeat, that is all
// but two: CreateWebhook repeats only what surely created nothing (408,
// 425, 503, a connection never made), since a second subscription would
// have a secret nobody holds; Transaction leaves them to its caller's
// outbox schedule, as it always has.
//
// # Rate limit
//
// A Limiter (golang.org/x/time/rate, burst 1) shared by every Client of a
// relay keeps all sources together under RELAY_TAGIHANAI_MAX_RPS (SPEC 7:
// 0.25 by default, under the standard tier's 1,000 requests an hour). Every
// request waits for it, retries included.
//
// # What it may import
//
// Of the relay only the shared HTTP rules (relay.RetryableStatus,
// relay.ParseRetryAfter, relay.ReadAnswer): it has no knowledge of outboxes,
// sinks or sources. The API key never appears in an error (a message that
// echoes it has it cut out) nor in String.
//
// Package tagihanaitest beside it is a fake of the API for tests.
package tagihanai
