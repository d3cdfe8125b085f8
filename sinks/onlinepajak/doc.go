// Package onlinepajak is the OnlinePajak sink (KIND=onlinepajak): it turns a
// TagihanAI INVOICE transaction into an OnlinePajak (e-Faktur) invoice,
// POST <BASE_URL>/marketplace/v1/invoices?api_key=...&user_id=..., and
// classifies the answer as a relay.Result. It owns the mapping (Map, pure,
// golden-tested and fuzzed), the NPWP and decimal rules, the HTTP exchange
// and the look-up by invoiceNumber that settles unknown outcomes.
//
// It imports the domain package relay and the standard library only: no
// Echo, no bbolt, no store. It never logs; everything it knows goes into the
// Result, with the API key removed (the key is a query parameter, so every
// *url.Error and every echoed message is redacted).
//
// # Mapping (SPEC 3.3)
//
//	invoiceNumber      document_number (at most 255 characters)
//	invoiceItems       line_items: description from product_name, else name,
//	                   else the line's description; quantity; unitPrice from
//	                   unit_price or price; discount from discount_amount or
//	                   discount (the whole line's), default "0"; wto ""
//	invoiceDate        document_date, yyyy-mm-dd
//	dueDate            due_date, else invoiceDate
//	invoiceType        "A" (sales)
//	transactionType    metadata.transactionType, else TRANSACTION_TYPE
//	transactionDetail  metadata.transactionDetail, else TRANSACTION_DETAIL
//	documentType       metadata.documentType, else DOCUMENT_TYPE
//	npwp               metadata[NPWP_KEY], else counterparty.npwp,
//	                   counterparty.tax_id, party.npwp, party.tax_id
//	vendor             receiver_name, else counterparty_name, else
//	                   counterparty.name / party.name
//	documentNumber     metadata[FAKTUR_KEYS...], first non-empty
//	masaPajak          month of invoiceDate, two digits
//	tahunPajak         year of invoiceDate
//	revision           metadata.revision (one digit), else 0
//	vatRate            VAT_RATE (default 12), a JSON number
//
// The tax fields are npwp, documentNumber, transactionType,
// transactionDetail and documentType. Map reports every missing or invalid
// field at once (*MapError); Deliver turns that into relay.Permanent.
// Amounts are decoded with json.Number and sent as their exact text.
//
// # Outcomes
//
//   - 2xx with body code 200: Delivered, Result {"invoice_number",
//     "invoice_id" (response.invoice.invoiceId, when given)}; when the
//     invoice was found by a look-up instead, also "found_by": "lookup".
//   - API gateway error API_KEY_INVALID or API_KEY_UNAUTHORIZED (the body's
//     error.code, whatever the status): Permanent.
//   - 408, 425, 429, 5xx (HTTP status, or the body's code in a 2xx answer):
//     Transient, Retry-After (seconds or HTTP date) in RetryAfter.
//   - Other 4xx and 3xx (redirects are never followed): Permanent with the
//     API's message.
//   - Failure before the request was written (httptrace WroteRequest):
//     Transient.
//   - Request written, then no answer, a cut answer, or a 2xx without a
//     readable code: Unknown, with RetryAfter set to the first look-up's
//     delay. Nothing is looked up in the same attempt: right after a
//     timeout the API may still be creating the invoice.
//   - Not an INVOICE, a cancelled/voided/deleted transaction, a non
//     transaction.* event, transaction.cancelled/deleted, or o.Created set:
//     Skipped with the reason.
//
// # After an unknown outcome (SPEC 3.3)
//
// With o.PriorUnknown the attempt is a look-up by invoiceNumber, never a
// POST (Result.Lookup; the dispatcher records it with action "lookup"):
//
//   - found: Delivered, Result with "found_by": "lookup";
//   - not found, less than LOOKUP_GRACE (default 2m) after the unknown
//     attempt began (o.PriorUnknownAt): Recheck. The next look-up waits as
//     long again as has passed since then (at least grace/8) and never past
//     the end of the grace, so the look-ups spread over it (after a 3s
//     timeout with the default grace: about 18s, 36s, 72s and 2m) and the
//     last one falls at its end. Rechecks do not spend the retry schedule;
//   - not found by a look-up begun LOOKUP_GRACE or more after: Transient;
//     the unknown attempt created nothing, and the dispatcher sends again on
//     the schedule (the next attempt looks up once more before its POST);
//   - 429: Recheck after the longer of Retry-After and the usual delay; a
//     rate-limited look-up says nothing, so it never leads to a POST;
//   - any other failure (transport error, timeout, 5xx, a gateway error, an
//     answer that is neither the invoice nor "not found"): Unknown, which
//     ON_UNKNOWN=review (the default) sends to needs_review.
//
// PriorUnknownAt comes from the dispatcher's clock and the grace is
// measured on Deps.Now, so both must be the same clock (time.Now in
// production). After a crash the store sets it to the resume time, which
// only lengthens the wait. With several replicas (NATS) the look-up may run
// on another replica than the POST: a clock ahead by d shortens the grace by
// d, so replicas' clocks must be synchronized (NTP) to well below the grace.
//
// # Assumptions where the reference is ambiguous
//
//  1. BASE_URL defaults to the staging host, http://api.staging-achilles.systems:
//     it is the only host the reference gives complete request URLs for
//     ("Live URL:" is blank), and a misconfigured relay then cannot create
//     real tax invoices. Production, https://api.online-pajak.com, is set
//     explicitly. Staging is plain HTTP, so the key travels unencrypted there.
//  2. Success is the body's "code": 200 in a 2xx answer (the reference's
//     success example); the HTTP status alone is not enough. In a 2xx answer
//     the body's code decides (the reference's errors carry "code": 400).
//  3. Gateway errors are recognised by error.code in the body; the reference
//     gives no status for them.
//  4. The look-up is GET on the same resource, /marketplace/v1/invoices, with
//     {"invoiceNumber": ...} as a JSON body as the reference says, plus
//     invoiceNumber in the query because proxies may drop GET bodies.
//  5. The reference does not document a look-up miss. Found: 2xx, code 200 and
//     a non-empty response.invoice object (whose invoiceNumber, when present,
//     must be ours). Not found: HTTP or body code 404, a 400 whose message
//     says "not found", or code 200 with response.invoice null or empty.
//     Anything else is a failed look-up, never a miss, so that a doubtful
//     answer leads to review, not to a second invoice.
//  6. The real API creates a duplicate when the same invoice is posted twice
//     (see old_id in the reference), so every retry (o.Attempt > 1) looks the
//     invoice up first too, in case a stalled earlier POST completed after
//     its look-up. That look-up is best effort: if it fails, the POST goes on.
//     old_id is never sent.
//  7. Each look-up is bounded by LOOKUP_TIMEOUT (default 10s) and the
//     attempt's own TIMEOUT, whichever ends first.
//  8. vatRate is a JSON number and revision an integer, as in every example,
//     although the parameter table says "string" for vatRate.
//  9. NPWP: the reference documents only the 15-digit formatted NPWP
//     (99.999.999.9-999.999), so that is what is sent, for formatted and bare
//     15-digit input alike. A 16-digit NPWP starting with 0 is DJP's 16-digit
//     form of a 15-digit NPWP (a 0 in front) and is sent as that 15-digit
//     NPWP. Any other 16 digits (a NIK) has no 15-digit form and is sent as
//     the 16 bare digits; the reference predates 16-digit NPWPs, so whether
//     the API takes them is unknown. Anything else is an invalid field; the
//     error gives the digit count, never the number.
//  10. The faktur number and the tax codes are sent as given, not checked
//     against the reference's lists (documentNumber XXX.XXX-XX.XXXXXXXX,
//     transactionType 4 or 5, documentType 1, 2, 3, 5, 8): the lists predate
//     Coretax's numbering, and the API validates them itself. Numeric
//     metadata values are taken as their text.
//  11. Decimals (quantity, unitPrice, discount, VAT_RATE) follow
//     decimal.OnlinePajak, the same rules as AccountingPlus's: plain
//     unsigned digits without leading zeros ("007" is refused), an optional
//     fraction of at most 2 digits as written, integer part within int64;
//     from a JSON number or a JSON string; no exponent, sign, grouping or
//     rounding, and "350000.00" stays "350000.00". The reference documents no
//     precision and shows whole numbers only; sinks/internal/decimal says why
//     these rules were chosen.
//  12. Without line items, one line is sent: the transaction's description
//     (else document_number), quantity 1, and as unit price the amount before
//     VAT, subtotal, else total when there is no non-zero tax_amount; else it
//     is an error. OnlinePajak adds VAT itself (grandTotal = grossAmount plus
//     VAT in the reference), so a tax-inclusive total would be taxed twice.
//     (The AccountingPlus sink uses total.)
//  13. Dates are YYYY-MM-DD or RFC 3339; a timestamp's date is taken as
//     written, in its own offset. masaPajak and tahunPajak come from
//     invoiceDate.
//  14. The optional fields the examples send empty (paymentDate, sspDate,
//     serialNumber, additionalDocument, additionalInfoID) are sent empty; the
//     vendor* address fields are not sent: the vendor must already be in the
//     user's vendor list, matched by name.
//  15. The transaction's type is compared case-insensitively with INVOICE; a
//     missing type is a permanent error, not a skip, so that it is seen.
//     Statuses CANCELLED, CANCELED, VOID, VOIDED and DELETED are skipped.
package onlinepajak
