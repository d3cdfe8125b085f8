// Package accountingplus is the AccountingPlus sink (KIND=accountingplus): it
// creates a sales invoice, POST /v1/sales-invoices, for each TagihanAI
// transaction of type INVOICE that reaches it (SPEC 3.2).
//
// Map is the pure mapping from a TagihanAI transaction to the request body;
// Sink.Deliver adds enrichment from the TagihanAI API (package
// tagihanai), authentication, signing and the classification of what
// came back. The package imports the relay domain and nothing of the HTTP
// layer or the store; it never logs (the dispatcher logs each Result), and no
// secret or token appears in an error or a Reason.
//
// # Outcomes
//
//   - status "00" in a 2xx answer: Delivered, Result {"document_number": ...}.
//   - any other status in a 2xx answer, a 3xx or a 4xx other than 401, 408,
//     425 and 429, a mapping error, a failed enrichment that cannot succeed
//     later: Permanent, with the reason (AccountingPlus's message or the
//     field at fault).
//   - 408, 425, 429, 5xx, a network error before the request was fully
//     written, a failed token request that may succeed later: Transient, with
//     Retry-After (seconds or an HTTP date) when the server sent one.
//   - 401: the token is renewed and the request sent once more within the
//     same Deliver; a second 401 is Permanent.
//   - the request was written (httptrace WroteRequest) but no answer came, the
//     answer was cut off, or a 2xx answer has no status: Unknown. Whether the
//     invoice exists cannot be known; the dispatcher moves the delivery to
//     needs_review (ON_UNKNOWN=review, the default for this kind).
//   - a transaction that is not an INVOICE, or o.Created already set (the
//     dispatcher checks first; this is a second guard): Skipped.
//
// # Assumptions
//
// The reference (accountingplus-create-sales-invoice.txt) leaves these open;
// this is what the sink does.
//
//  1. OAuth token endpoint (AUTH=oauth): POST <BASE_URL>/oauth/clients/accesstoken
//     with Content-Type application/json and body
//     {"client_id":"...","client_secret":"..."}. The token is read from
//     "access_token", else "token", at the top level or under "data"; its
//     lifetime from "expires_in" (seconds, number or numeric string, top level
//     or under "data"), else TOKEN_TTL. 401/403/other 4xx or a 2xx without a
//     token are permanent (bad credentials); 408/425/429/5xx and network
//     errors are transient.
//  2. Tokens are renewed a minute before they expire (half the lifetime for
//     tokens living under two minutes). The JWT (AUTH=jwt) has exactly the
//     claims client_id, iat and exp (= iat + TOKEN_TTL, whole seconds), header
//     {"alg":"HS256","typ":"JWT"}, key = CLIENT_SECRET's bytes. Renewing
//     after a 401 mints a new JWT; within the same second it is the same
//     string, as the reference names no nonce claim (jti) to vary it.
//  3. The plain signature uses the path /v1/sales-invoices even when BASE_URL
//     has a path of its own, and the email and tenant id as configured, not
//     URL-encoded. A-Signature is padded standard base64 of the raw 32-byte
//     digest. A-Data in the json format is {"email":"...","tenant_id":"..."}
//     in that order, without spaces or HTML escaping.
//  4. Success is status "00" in a 2xx answer. A 2xx answer that is not JSON
//     or has no status is treated as Unknown (it may have created the
//     invoice), not as a failure to retry. A 2xx with status "00" but no
//     data.document_number is Delivered with an empty document number.
//  5. Amounts (unit_price, discount_amount, total) and quantity must be plain
//     decimals: digits, no sign, no leading zeros, no exponent, at most 2
//     fraction digits as written ("12.500" is rejected), integer part within
//     int64 (decimal.AccountingPlus, shared with the OnlinePajak sink in
//     sinks/internal/decimal). They may come as JSON numbers or as JSON strings holding such a
//     decimal; either way the literal is sent unchanged as a JSON number.
//     Negative values are rejected (a sales invoice line has no negative
//     quantity, price or discount; credit notes are a different document), so
//     is a zero quantity and a discount larger than quantity × unit_price.
//     A line without quantity counts 1; without discount_amount, 0.
//  6. item_name comes from product_name, else name; a line with neither is a
//     permanent error. item_code comes from the line, else ITEM_MAP, else
//     DEFAULT_ITEM_CODE; a line left without a code is a permanent error
//     naming the line (set DEFAULT_ITEM_CODE to never fail on this).
//  7. ITEM_MAP is a CSV file of item_name,item_code with an optional header
//     row, # comments and a UTF-8 BOM allowed; names match ignoring case and
//     extra whitespace; one name mapped to two codes is a configuration error.
//  8. document_date YYYY-MM-DD, or RFC 3339 whose calendar date is taken as
//     written (no conversion to another zone), becomes DD/MM/YYYY. A missing
//     document_date is a permanent error: no other date is guessed.
//  9. Without line items, the one line is named after description, else
//     document_number; its price is total, else amount (the reference's
//     compatibility alias); quantity 1, unit pcs, discount 0, and its item
//     code comes from ITEM_MAP by that name, else DEFAULT_ITEM_CODE.
//  10. Enrichment runs when the event's transaction has no line items, no
//     customer name, no document_date or no type, and a TagihanAI client is
//     configured. The transaction read from the API is laid over the
//     event's: a field the API has (not null, blank or an empty array) wins,
//     the event's fills the rest. A temporary failure to read it is
//     Transient (nothing was sent yet); a permanent one (404, a rejected key)
//     is Permanent, rather than creating a poorer invoice that could never be
//     corrected, since the invoice is created once.
//  11. The transaction type is compared case-insensitively with INVOICE; a
//     transaction without a type is a permanent error (it cannot be told
//     from a BILL).
//  12. Redirects are not followed; a 3xx is permanent.
//  13. AccountingPlus has no idempotency key and no look-up this sink could
//     use, so o.PriorUnknown cannot be checked: with ON_UNKNOWN=retry a
//     retry after an unknown outcome may create a second invoice.
package accountingplus
