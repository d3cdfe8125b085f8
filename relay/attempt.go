package relay

import (
	"encoding/json"
	"unicode/utf8"
)

// MaxRequestRecord bounds the request body an Attempt keeps (16 KiB): an
// invoice body is a few hundred bytes per line item, and the record is
// rewritten on every state change of its delivery.
const MaxRequestRecord = 16 << 10

// RequestRecord returns what an Attempt keeps of a request body: the body
// itself when it is valid JSON of at most MaxRequestRecord bytes; else its
// first MaxRequestRecord bytes (cut at a UTF-8 boundary) as a JSON string,
// with truncated set when it was cut. nil for an empty body.
func RequestRecord(body []byte) (rec json.RawMessage, truncated bool) {
	if len(body) == 0 {
		return nil, false
	}
	if len(body) <= MaxRequestRecord && json.Valid(body) {
		return json.RawMessage(append([]byte(nil), body...)), false
	}
	cut := body
	if len(cut) > MaxRequestRecord {
		cut = cut[:MaxRequestRecord]
		for len(cut) > 0 && !utf8.Valid(cut) {
			cut = cut[:len(cut)-1]
		}
		truncated = true
	}
	s, err := json.Marshal(string(cut))
	if err != nil {
		return nil, truncated
	}
	return s, truncated
}

// AppendAttempt appends a to a delivery's history, bounded to maxHistory
// entries (the first 10 and the latest ones). When a carries a request,
// the earlier attempts drop theirs: only the latest body sent is kept.
// Both backends record attempts with it.
func AppendAttempt(history []Attempt, a Attempt, maxHistory int) []Attempt {
	if len(a.Request) > 0 {
		for i := range history {
			history[i].Request, history[i].RequestTruncated = nil, false
		}
	}
	history = append(history, a)
	if len(history) > maxHistory {
		history = append(history[:10:10], history[len(history)-(maxHistory-10):]...)
	}
	return history
}

// LastRequest returns the latest attempt of history that carries a
// request, nil when none does.
func LastRequest(history []Attempt) *Attempt {
	for i := len(history) - 1; i >= 0; i-- {
		if len(history[i].Request) > 0 {
			return &history[i]
		}
	}
	return nil
}

// ReturnedNumbers returns the document numbers a sink returned in a
// delivery's result (AccountingPlus's document_number, OnlinePajak's
// invoice_number and invoice_id), non-empty and without repeats: what
// finds the event in a search (EventFilter.Q) besides its own fields.
func ReturnedNumbers(result map[string]string) []string {
	var out []string
	for _, k := range []string{"document_number", "invoice_number", "invoice_id"} {
		v := result[k]
		if v == "" {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == v
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}
