// Package tagihanaitest is a fake TagihanAI API for tests: an
// httptest.Server that serves the endpoints the relay uses, written from
// the API reference (shared/reference/tagihanai-api.md and its OpenAPI
// document), as strictly as the real API is documented to be.
//
//	api := tagihanaitest.New(t, "tgh_test_key")
//	c := tagihanai.NewClient(api.URL(), "tgh_test_key", api.Client())
//
// # What it serves
//
// Under URL() (…/api/v1), with `Authorization: Bearer <key>` on every call:
//
//   - GET /transactions (type, status, payment_status, date_from, date_to,
//     due_before, search, party_id, sort, page, per_page: default 20, at
//     most 100, 400 above) answering the reference's list fields and
//     pagination {total, page, per_page, has_more}; GET /transactions/:id
//     answering the whole object (AddTransaction).
//   - GET and POST /webhooks; GET, PATCH and DELETE /webhooks/:id;
//     GET /webhooks/:id/deliveries (status, page, per_page); POST
//     /webhooks/:id/test, which really posts a signed test event to the
//     subscription's URL and answers what the endpoint answered.
//
// Every request passes, in this order: Fail5xx (500), the key (401, also
// after RevokeKey), the rate limit (Limit: 429 with Retry-After), then the
// endpoint's scope (SetScopes: 403). Requests records each one with its time
// by the server's clock (SetClock) and its status; SetLatency delays each
// (DefaultLatency).
//
// # Assumptions where the reference is silent
//
//   - Error bodies are {"error":{"type":"<error type>","message":"..."}},
//     with the types and messages of the reference's Error Types list.
//   - Deliveries are signed as the reference says: X-TagihanAI-Signature:
//     t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>, the
//     secret's bytes as given ("whsec_" included) being the key
//     (signature.SignatureHeader). No other TagihanAI header is sent.
//   - The test event is {"id":"evt_test_…","type":"webhook.test",
//     "test":true,"created_at":…,"data":{"webhook_id":…,"message":…}}, and
//     is logged with event_type webhook.test.
//   - event_types must be TagihanAI event types or "*": the reference
//     documents no globs, so "transaction.*" is refused (422).
//   - Plain http subscription URLs are accepted only on loopback hosts, for
//     tests; anything else must be https (422).
//   - The delivery log answers newest first, by default without a
//     pagination object and with event_id and transaction_id (neither is in
//     the reference's example: see PaginateDeliveries, HideDeliveryIDs).
//
// # Imports
//
// Only relay/signature and relay/fixtures, so that any package's tests can
// use it, tagihanai's own included.
package tagihanaitest
