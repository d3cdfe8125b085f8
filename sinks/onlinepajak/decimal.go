package onlinepajak

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tagihan-relay/tagihan-relay/sinks/internal/decimal"
)

// decimalOf returns the exact text of an amount decoded with UseNumber: a
// JSON number, or a JSON string holding one, checked by the rules of
// decimal.OnlinePajak (a plain non-negative decimal, at most two fraction
// digits, integer part within int64; the decimal package says why). The
// text is sent exactly as received, never through float64. ok is false
// when v is absent (nil); err says why a present value cannot be sent.
func decimalOf(v any) (s string, ok bool, err error) {
	switch v := v.(type) {
	case nil:
		return "", false, nil
	case json.Number:
		s = string(v)
	case string:
		s = v
	default:
		return "", true, fmt.Errorf("is a JSON %s, not a number", jsonKind(v))
	}
	d, err := decimal.Parse(s, decimal.OnlinePajak)
	if err != nil {
		return "", true, err
	}
	return d.String(), true, nil
}

// jsonKind names the JSON type of a value decoded into any.
func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	default:
		return "null"
	}
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string { return quoteMax(s, 40) }

// quoteMax quotes s, cut to max runes.
func quoteMax(s string, max int) string {
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}
