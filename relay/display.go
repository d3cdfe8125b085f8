package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// RequestText returns the request body an attempt kept, for people: JSON
// indented, with the characters encoding/json escapes for HTML (<, >, &)
// shown as themselves, so it reads as the bytes the sink received; a body
// that was not JSON (kept as a JSON string) as its text. note says when
// the body is only the first MaxRequestRecord bytes of a longer one. The
// CLI and the console show the same text (the console escapes it).
func RequestText(a *Attempt) (text, note string) {
	if a == nil || len(a.Request) == 0 {
		return "", ""
	}
	if a.RequestTruncated {
		note = fmt.Sprintf("the first %d KiB of a longer body", MaxRequestRecord>>10)
	}
	raw := []byte(a.Request)
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s, note
	}
	var out bytes.Buffer
	if json.Indent(&out, raw, "", "  ") != nil {
		return string(raw), note
	}
	return string(unescapeHTML(out.Bytes())), note
}

// unescapeHTML turns the escapes \u003c, \u003e and \u0026 of JSON text
// back into <, > and &: the same JSON value, as the sender wrote it. An
// escaped backslash (\\) is passed over whole, so "\\u003c" (a backslash
// then u003c) is left alone.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(bytes.ToLower(b[i+2 : i+6])) {
			case "003c":
				out, i = append(out, '<'), i+5
				continue
			case "003e":
				out, i = append(out, '>'), i+5
				continue
			case "0026":
				out, i = append(out, '&'), i+5
				continue
			}
		}
		out = append(out, b[i], b[i+1]) // any other escape, kept whole
		i++
	}
	return out
}
