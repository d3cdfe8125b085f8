package relay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
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
	if env.ID == "" {
		sum := sha256.Sum256(body)
		env.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	if err != nil {
		return env, err
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
		category, _, _ := strings.Cut(env.Type, ".")
		switch category {
		case "transaction":
			env.Subject = firstString(transactionID)
		case "payment":
			env.Subject = firstString(paymentID)
		case "subscription":
			env.Subject = firstString(subscriptionID)
		case "party":
			env.Subject = firstString(partyID)
		}
	}
	if env.Subject == "" {
		env.Subject = firstString(transactionID, paymentID, subscriptionID, partyID)
	}
	env.DocumentNumber = firstString(documentNumber)
	env.Counterparty = firstString(receiverName, counterpartyName)
	if t := firstString(transactionID); t != env.Subject {
		env.TransactionID = t
	}
	if strings.HasPrefix(env.Type, "transaction.") {
		env.TransactionType = firstString(typ)
	}
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
