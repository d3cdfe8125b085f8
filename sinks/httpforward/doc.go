// Package httpforward is the HTTP forward sink (KIND=http, SPEC 3.1): it
// POSTs each event to one URL, either as a structured CloudEvent
// (MODE=cloudevents) or as the original TagihanAI body byte for byte
// (MODE=raw), optionally signed the Standard Webhooks way, and classifies the
// answer as a relay.Result.
//
// It owns the request shape, the response classification, Retry-After
// parsing and the shared outbound Transport. It must not import Echo, bbolt
// or the store: it sees only the relay domain types and net/http.
//
// # Configuration
//
// Config is read by the caller with caarlos0/env and the prefix
// SINK_<NAME>_:
//
//	SINK_<NAME>_URL             absolute http(s) URL, required
//	SINK_<NAME>_MODE            cloudevents (default) | raw
//	SINK_<NAME>_SIGNING_SECRET  whsec_<base64>; empty sends unsigned requests
//	SINK_<NAME>_HEADERS         static headers, "X-Env=prod,X-Team=erp"
//
// # Idempotency
//
// Every request carries webhook-id set to the event id, identical on every
// retry and redrive, so a receiver can drop duplicates. That makes the sink
// safe to retry after a timeout: Deliver reports timeouts as transient, never
// unknown.
//
// # Classification
//
//	2xx                     delivered
//	3xx                     permanent (redirects are never followed)
//	408, 425, 429, 5xx      transient, with Retry-After (seconds or HTTP date)
//	other 4xx               permanent, reason with the status and the first 200 bytes of the body
//	network error, timeout  transient
//
// The response body is always drained (up to 64 KiB) and closed so the
// connection goes back to the shared pool.
package httpforward
