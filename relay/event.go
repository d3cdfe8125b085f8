package relay

import (
	"bytes"
	"encoding/json"
	"time"
)

// Event is the normalized CloudEvents 1.0 event (structured JSON mode) made
// from a Delivery. Data is the resource object exactly as received.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	Subject         string          `json:"subject,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data,omitempty"`
	TagihanAIEvent  string          `json:"tagihanaievent"`
	RelayReceivedAt string          `json:"relayreceivedat"`
}

// TypePrefix prefixes the TagihanAI event type in an Event's type.
const TypePrefix = "com.tagihanai."

// Normalize builds the CloudEvent for an envelope read from a delivery
// received at receivedAt, with source as the CloudEvents source. The time is
// the envelope's when it parses as RFC 3339 (or Unix seconds), else the
// receive time.
func Normalize(env Envelope, receivedAt time.Time, source string) Event {
	t := receivedAt.UTC()
	if !env.Time.IsZero() {
		t = env.Time.UTC()
	}
	data := env.Resource
	if len(bytes.TrimSpace(data)) == 0 {
		data = nil
	}
	return Event{
		SpecVersion:     "1.0",
		ID:              env.ID,
		Source:          source,
		Type:            TypePrefix + env.Type,
		Time:            t.Format(time.RFC3339Nano),
		Subject:         env.Subject,
		DataContentType: "application/json",
		Data:            data,
		TagihanAIEvent:  env.Type,
		RelayReceivedAt: receivedAt.UTC().Format(time.RFC3339Nano),
	}
}

// MarshalJSON writes the event in structured mode with data copied byte for
// byte (encoding/json would compact it).
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 256+len(e.Data))), nil
}

// AppendJSON appends the event's JSON to b.
func (e Event) AppendJSON(b []byte) []byte {
	b, _ = e.appendJSON(b)
	return b
}

// appendJSON appends the event's JSON to b and returns where data starts
// in what it appended (0 when there is no data).
func (e Event) appendJSON(b []byte) ([]byte, int) {
	start := len(b)
	dataAt := 0
	b = append(b, `{"specversion":`...)
	b = AppendJSONString(b, e.SpecVersion)
	b = append(b, `,"id":`...)
	b = AppendJSONString(b, e.ID)
	b = append(b, `,"source":`...)
	b = AppendJSONString(b, e.Source)
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, e.Type)
	b = append(b, `,"time":`...)
	b = AppendJSONString(b, e.Time)
	if e.Subject != "" {
		b = append(b, `,"subject":`...)
		b = AppendJSONString(b, e.Subject)
	}
	b = append(b, `,"datacontenttype":`...)
	b = AppendJSONString(b, e.DataContentType)
	b = append(b, `,"tagihanaievent":`...)
	b = AppendJSONString(b, e.TagihanAIEvent)
	b = append(b, `,"relayreceivedat":`...)
	b = AppendJSONString(b, e.RelayReceivedAt)
	if len(e.Data) > 0 {
		b = append(b, `,"data":`...)
		dataAt = len(b) - start
		b = append(b, e.Data...)
	}
	return append(b, '}'), dataAt
}

// AppendJSONString appends s as a JSON string. Plain ASCII without characters
// that need escaping (the common case) is copied as is.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// EventData returns the data member of a CloudEvent's JSON. off is where
// data starts when the event was built by AppendJSON (stored at ingest), so
// the common case slices instead of parsing; 0 means unknown (parse).
func EventData(ce []byte, off int) (json.RawMessage, error) {
	if len(ce) == 0 {
		return nil, nil
	}
	if off > 0 && off < len(ce) && ce[len(ce)-1] == '}' {
		return ce[off : len(ce)-1 : len(ce)-1], nil
	}
	var v struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ce, &v); err != nil {
		return nil, err
	}
	return v.Data, nil
}
