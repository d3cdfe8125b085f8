package accountingplus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxAnswerBytes bounds what is read of an AccountingPlus answer.
const maxAnswerBytes = 1 << 20

// statusOK is the AccountingPlus business status of a success.
const statusOK = "00"

// answer is what the sink reads of an AccountingPlus answer:
// {"status":"00","message":"success","data":{"document_number":...}}.
type answer struct {
	JSON           bool // the body was a JSON object
	Status         string
	Message        string
	DocumentNumber string
	snippet        string // the start of a non-JSON body
}

func readAnswer(raw []byte) answer {
	var body struct {
		Status  any `json:"status"`
		Message any `json:"message"`
		Error   any `json:"error"`
		Data    any `json:"data"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&body); err != nil || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return answer{snippet: oneLine(string(raw))}
	}
	a := answer{JSON: true, Status: scalar(body.Status), Message: oneLine(scalar(body.Message))}
	if a.Message == "" {
		a.Message = oneLine(scalar(body.Error))
	}
	if data, ok := body.Data.(map[string]any); ok {
		a.DocumentNumber = strings.TrimSpace(scalar(data["document_number"]))
	}
	return a
}

// describe renders the answer for a Reason: `: status "01": message`.
func (a answer) describe() string {
	var b strings.Builder
	if a.Status != "" {
		fmt.Fprintf(&b, ": status %q", a.Status)
	}
	if a.Message != "" {
		b.WriteString(": " + a.Message)
	}
	if !a.JSON && a.snippet != "" {
		b.WriteString(": " + a.snippet)
	}
	return b.String()
}

// scalar renders a JSON string or number; "" for anything else.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	default:
		return ""
	}
}

// oneLine collapses whitespace and keeps at most 200 runes of s.
func oneLine(s string) string {
	s = strings.ToValidUTF8(strings.Join(strings.Fields(s), " "), "?")
	if utf8.RuneCountInString(s) > 200 {
		return string([]rune(s)[:200]) + "…"
	}
	return s
}
