package relay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Envelope is what the relay reads from a TagihanAI delivery body. TagihanAI
// does not publish its envelope, so ReadEnvelope is tolerant: it takes the
// first of several field names that is present (SPEC 2.3).
type Envelope struct {
	ID       string
	Type     string
	Time     time.Time // zero when the envelope has none (or none that parses)
	Resource json.RawMessage
	Subject  string
	Test     bool

	// Search fields, for finding an event by what an operator knows.
	DocumentNumber  string
	Counterparty    string
	TransactionType string // INVOICE, BILL, ... for transaction resources
	// TransactionID is the transaction a resource belongs to when it is not
	// the subject itself (a payment's data.transaction_id), so that a search
	// for an invoice finds its payments too.
	TransactionID    string
	ResourceIsObject bool
}

// ErrNotJSON is returned by ReadEnvelope when the body is not a JSON object
// in valid UTF-8.
var ErrNotJSON = errors.New("relay: body is not a JSON object")

// ErrNoEventType is returned by ReadEnvelope when the body is a JSON object
// without a string event type in "type", "event" or "event_type".
var ErrNoEventType = errors.New("relay: no event type in type, event or event_type")

// ErrInvalidID is returned (wrapped, with the reason) by ReadEnvelope when
// the event id the envelope names is not 1–MaxIDBytes bytes of UTF-8
// without control characters (SPEC 2.2). The returned Envelope then carries
// the body's "sha256:<hex>" id instead, so the delivery is kept as unparsed
// under a key it can be stored and deduplicated by.
var ErrInvalidID = errors.New("relay: invalid event id")

// ErrInvalidSubject is returned (wrapped, with the reason) by ReadEnvelope
// when the resource id (the subject) breaks the same rule. The Envelope
// keeps its id; the delivery is kept as unparsed.
var ErrInvalidSubject = errors.New("relay: invalid subject")

// MaxIDBytes bounds event ids and subjects: they are dedup and ordering
// keys, header values (webhook-id) and URL segments.
const MaxIDBytes = 256

// maxSearchBytes bounds the document number and counterparty name kept
// for search: longer values are cut (at a rune boundary) for the index.
const maxSearchBytes = 256

// CheckID reports why s cannot be an event id or subject: empty, longer
// than MaxIDBytes, not UTF-8, or holding a control character (C0, DEL,
// C1). It returns "" when s is fine. The reason never quotes s.
func CheckID(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxIDBytes:
		return "is " + strconv.Itoa(len(s)) + " bytes (at most " + strconv.Itoa(MaxIDBytes) + ")"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return "has a control character (U+" + strconv.FormatUint(uint64(r)|0x10000, 16)[1:] + ") at byte " + strconv.Itoa(i)
		}
	}
	return ""
}

// testTypes are the types of TagihanAI's synthetic test event.
var testTypes = map[string]bool{"webhook.test": true, "test": true, "ping": true}

// ReadEnvelope reads a delivery body. header looks up a request header (for
// the event id fallbacks); it may be nil. The event id is, first match wins:
// body id, event_id, webhook_event_id; header X-TagihanAI-Event-Id;
// X-TagihanAI-Delivery-Id; "sha256:<hex of body>". On ErrNotJSON and
// ErrNoEventType the returned Envelope still carries that id, so an unparsed
// delivery is stored and deduplicated under it.
//
// It validates the body once and then walks the top-level object and the
// resource object once each (gjson, no reflection), so it is cheap on the
// ingest path; Resource is the exact bytes of the body's resource.
func ReadEnvelope(body []byte, header func(string) string) (Envelope, error) {
	var env Envelope
	trimmed := bytes.TrimSpace(body)
	var top struct {
		id, eventID, webhookEventID, typ, event, eventType, createdAt, occurredAt, timestamp, data, payload, object, test gjson.Result
	}
	err := ErrNotJSON
	if len(trimmed) > 0 && trimmed[0] == '{' && utf8.Valid(trimmed) && shallow(trimmed, maxDepth) && gjson.ValidBytes(trimmed) {
		err = nil
		// The body is not copied into a string: every string taken from it
		// is cloned (firstString), because the body's buffer is reused.
		gjson.Parse(unsafe.String(unsafe.SliceData(trimmed), len(trimmed))).ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "id":
				setFirst(&top.id, v)
			case "event_id":
				setFirst(&top.eventID, v)
			case "webhook_event_id":
				setFirst(&top.webhookEventID, v)
			case "type":
				setFirst(&top.typ, v)
			case "event":
				setFirst(&top.event, v)
			case "event_type":
				setFirst(&top.eventType, v)
			case "created_at":
				setFirst(&top.createdAt, v)
			case "occurred_at":
				setFirst(&top.occurredAt, v)
			case "timestamp":
				setFirst(&top.timestamp, v)
			case "data":
				setFirst(&top.data, v)
			case "payload":
				setFirst(&top.payload, v)
			case "object":
				setFirst(&top.object, v)
			case "test":
				setFirst(&top.test, v)
			}
			return true
		})
	}
	env.ID = firstString(top.id, top.eventID, top.webhookEventID)
	if env.ID == "" && header != nil {
		env.ID = strings.TrimSpace(header(HeaderEventID))
		if env.ID == "" {
			env.ID = strings.TrimSpace(header(HeaderDeliveryID))
		}
	}
	var idErr error
	if env.ID != "" {
		if why := CheckID(env.ID); why != "" {
			idErr = fmt.Errorf("%w: the event id %s; ids are 1-%d bytes of UTF-8 without control characters, so the delivery is kept under its body's sha256",
				ErrInvalidID, why, MaxIDBytes)
			env.ID = ""
		}
	}
	if env.ID == "" {
		sum := sha256.Sum256(body)
		env.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	if err != nil {
		if idErr != nil {
			err = fmt.Errorf("%w; %w", err, idErr)
		}
		return env, err
	}
	if idErr != nil {
		return env, idErr
	}
	env.Type = firstText(top.typ, top.event, top.eventType)
	if env.Type == "" {
		return env, ErrNoEventType
	}
	env.Time = firstTime(top.createdAt, top.occurredAt, top.timestamp)
	env.Test = testTypes[env.Type] || top.test.Type == gjson.True
	for _, r := range []gjson.Result{top.data, top.payload, top.object} {
		if r.Exists() && r.Type != gjson.Null {
			// Raw is a slice of the body: the resource exactly as received.
			env.Resource = json.RawMessage(trimmed[r.Index : r.Index+len(r.Raw)])
			break
		}
	}
	readResource(&env)
	if env.Subject != "" {
		if why := CheckID(env.Subject); why != "" {
			env.Subject = ""
			return env, fmt.Errorf("%w: the resource id %s; subjects are 1-%d bytes of UTF-8 without control characters", ErrInvalidSubject, why, MaxIDBytes)
		}
	}
	return env, nil
}

// maxDepth bounds the nesting a body may have to be read as JSON (the
// validator recurses); deeper bodies are stored as unparsed.
const maxDepth = 512

// shallow reports whether b nests arrays and objects at most max deep,
// counting brackets outside strings.
func shallow(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

// setFirst keeps the first occurrence of a key, as encoding/json would keep
// the last: TagihanAI never repeats keys, and first-wins is what a reader
// of the raw body expects.
func setFirst(dst *gjson.Result, v gjson.Result) {
	if !dst.Exists() {
		*dst = v
	}
}

// readResource fills the subject and search fields from the resource.
func readResource(env *Envelope) {
	r := env.Resource
	if len(r) == 0 || r[0] != '{' {
		return
	}
	env.ResourceIsObject = true
	var id, transactionID, paymentID, subscriptionID, partyID, documentNumber, receiverName, counterpartyName, typ gjson.Result
	gjson.Parse(unsafe.String(unsafe.SliceData(r), len(r))).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			setFirst(&id, v)
		case "transaction_id":
			setFirst(&transactionID, v)
		case "payment_id":
			setFirst(&paymentID, v)
		case "subscription_id":
			setFirst(&subscriptionID, v)
		case "party_id":
			setFirst(&partyID, v)
		case "document_number":
			setFirst(&documentNumber, v)
		case "receiver_name":
			setFirst(&receiverName, v)
		case "counterparty_name":
			setFirst(&counterpartyName, v)
		case "type":
			setFirst(&typ, v)
		}
		return true
	})
	env.Subject = firstString(id)
	if env.Subject == "" {
		// The id named after the event's category comes first.
		category, _, _ := strings.Cut(env.Type, ".")
		for _, c := range [...]struct {
			category string
			id       gjson.Result
		}{{"transaction", transactionID}, {"payment", paymentID}, {"subscription", subscriptionID}, {"party", partyID}} {
			if c.category == category {
				env.Subject = firstString(c.id)
			}
		}
	}
	if env.Subject == "" {
		env.Subject = firstString(transactionID, paymentID, subscriptionID, partyID)
	}
	env.DocumentNumber = cutSearch(firstString(documentNumber))
	env.Counterparty = cutSearch(firstString(receiverName, counterpartyName))
	if t := firstString(transactionID); t != env.Subject {
		env.TransactionID = cutSearch(t)
	}
	if strings.HasPrefix(env.Type, "transaction.") {
		env.TransactionType = firstString(typ)
	}
}

// cutSearch cuts a search field to maxSearchBytes at a rune boundary (it
// is an index key; the full value stays in the stored body).
func cutSearch(s string) string {
	if len(s) <= maxSearchBytes {
		return s
	}
	return strings.ToValidUTF8(cutRunes(s, maxSearchBytes), "")
}

// cutRunes returns the longest prefix of s of at most n bytes that does
// not split a UTF-8 sequence.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// firstString returns the first value that is a non-empty JSON string or a
// JSON number (ids are sometimes numeric), as text. The text is a copy: it
// must not alias the request body.
func firstString(vs ...gjson.Result) string {
	for _, v := range vs {
		switch v.Type {
		case gjson.String:
			if s := strings.TrimSpace(v.Str); s != "" {
				return strings.Clone(s)
			}
		case gjson.Number:
			return strings.Clone(v.Raw)
		}
	}
	return ""
}

// firstText returns the first value that is a non-empty JSON string, as
// text; unlike firstString it skips numbers (an event type is a string).
func firstText(vs ...gjson.Result) string {
	for _, v := range vs {
		if v.Type == gjson.String {
			if s := firstString(v); s != "" {
				return s
			}
		}
	}
	return ""
}

// firstTime returns the first value that parses as RFC 3339 or as Unix
// seconds/milliseconds (a number or a numeric string).
func firstTime(vs ...gjson.Result) time.Time {
	for _, v := range vs {
		s := firstString(v)
		if s == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC()
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			if len(s) >= 13 {
				return time.UnixMilli(n).UTC()
			}
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Time{}
}
