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
	DocumentNumber   string
	Counterparty     string
	TransactionType  string // INVOICE, BILL, ... for transaction resources
	ResourceIsObject bool
}

// ErrNotJSON is returned by ReadEnvelope when the body is not a JSON object
// in valid UTF-8.
var ErrNotJSON = errors.New("relay: body is not a JSON object")

// ErrNoEventType is returned by ReadEnvelope when the body is a JSON object
// without a string event type in "type", "event" or "event_type".
var ErrNoEventType = errors.New("relay: no event type in type, event or event_type")

// envelopeFields are the top-level names ReadEnvelope looks at.
type envelopeFields struct {
	ID             json.RawMessage `json:"id"`
	EventID        json.RawMessage `json:"event_id"`
	WebhookEventID json.RawMessage `json:"webhook_event_id"`
	Type           json.RawMessage `json:"type"`
	Event          json.RawMessage `json:"event"`
	EventType      json.RawMessage `json:"event_type"`
	CreatedAt      json.RawMessage `json:"created_at"`
	OccurredAt     json.RawMessage `json:"occurred_at"`
	Timestamp      json.RawMessage `json:"timestamp"`
	Data           json.RawMessage `json:"data"`
	Payload        json.RawMessage `json:"payload"`
	Object         json.RawMessage `json:"object"`
	Test           json.RawMessage `json:"test"`
}

// resourceFields are the resource names used for subject and search.
type resourceFields struct {
	ID               json.RawMessage `json:"id"`
	TransactionID    json.RawMessage `json:"transaction_id"`
	PaymentID        json.RawMessage `json:"payment_id"`
	SubscriptionID   json.RawMessage `json:"subscription_id"`
	PartyID          json.RawMessage `json:"party_id"`
	DocumentNumber   json.RawMessage `json:"document_number"`
	ReceiverName     json.RawMessage `json:"receiver_name"`
	CounterpartyName json.RawMessage `json:"counterparty_name"`
	Type             json.RawMessage `json:"type"`
}

// testTypes are the types of TagihanAI's synthetic test event.
var testTypes = map[string]bool{"webhook.test": true, "test": true, "ping": true}

// ReadEnvelope reads a delivery body. header looks up a request header (for
// the event id fallbacks); it may be nil. The event id is, first match wins:
// body id, event_id, webhook_event_id; header X-TagihanAI-Event-Id;
// X-TagihanAI-Delivery-Id; "sha256:<hex of body>". On ErrNotJSON and
// ErrNoEventType the returned Envelope still carries that id, so an unparsed
// delivery is stored and deduplicated under it.
func ReadEnvelope(body []byte, header func(string) string) (Envelope, error) {
	var f envelopeFields
	var env Envelope
	trimmed := bytes.TrimSpace(body)
	isObject := len(trimmed) > 0 && trimmed[0] == '{'
	var err error
	if !isObject || !utf8.Valid(trimmed) {
		err = ErrNotJSON
	} else if jerr := json.Unmarshal(trimmed, &f); jerr != nil {
		err = ErrNotJSON
		f = envelopeFields{}
	}
	env.ID = firstString(f.ID, f.EventID, f.WebhookEventID)
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
	env.Type = firstText(f.Type, f.Event, f.EventType)
	if env.Type == "" {
		return env, ErrNoEventType
	}
	env.Time = firstTime(f.CreatedAt, f.OccurredAt, f.Timestamp)
	env.Test = testTypes[env.Type] || isTrue(f.Test)
	for _, r := range []json.RawMessage{f.Data, f.Payload, f.Object} {
		if len(r) > 0 && !bytes.Equal(r, []byte("null")) {
			env.Resource = r
			break
		}
	}
	readResource(&env)
	return env, nil
}

// readResource fills the subject and search fields from the resource.
func readResource(env *Envelope) {
	r := bytes.TrimSpace(env.Resource)
	if len(r) == 0 || r[0] != '{' {
		return
	}
	var rf resourceFields
	if json.Unmarshal(r, &rf) != nil {
		return
	}
	env.ResourceIsObject = true
	env.Subject = firstString(rf.ID)
	if env.Subject == "" {
		category, _, _ := strings.Cut(env.Type, ".")
		switch category {
		case "transaction":
			env.Subject = firstString(rf.TransactionID)
		case "payment":
			env.Subject = firstString(rf.PaymentID)
		case "subscription":
			env.Subject = firstString(rf.SubscriptionID)
		case "party":
			env.Subject = firstString(rf.PartyID)
		}
	}
	if env.Subject == "" {
		env.Subject = firstString(rf.TransactionID, rf.PaymentID, rf.SubscriptionID, rf.PartyID)
	}
	env.DocumentNumber = firstString(rf.DocumentNumber)
	env.Counterparty = firstString(rf.ReceiverName, rf.CounterpartyName)
	if strings.HasPrefix(env.Type, "transaction.") {
		env.TransactionType = firstString(rf.Type)
	}
}

// firstString returns the first raw value that is a non-empty JSON string or
// a JSON number (ids are sometimes numeric), as text.
func firstString(raws ...json.RawMessage) string {
	for _, r := range raws {
		if len(r) == 0 {
			continue
		}
		switch c := r[0]; {
		case c == '"':
			var s string
			if json.Unmarshal(r, &s) == nil && strings.TrimSpace(s) != "" {
				return strings.TrimSpace(s)
			}
		case c == '-' || (c >= '0' && c <= '9'):
			return string(r)
		}
	}
	return ""
}

// firstText returns the first raw value that is a non-empty JSON string, as
// text; unlike firstString it skips numbers (an event type is a string).
func firstText(raws ...json.RawMessage) string {
	for _, r := range raws {
		if len(r) > 0 && r[0] == '"' {
			if s := firstString(r); s != "" {
				return s
			}
		}
	}
	return ""
}

// firstTime returns the first value that parses as RFC 3339 or as Unix
// seconds/milliseconds (a number or a numeric string).
func firstTime(raws ...json.RawMessage) time.Time {
	for _, r := range raws {
		s := firstString(r)
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

func isTrue(r json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(r), []byte("true"))
}
