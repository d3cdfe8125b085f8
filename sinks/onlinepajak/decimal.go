package onlinepajak

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
)

// plainDecimal is what the API gets for quantities, prices, discounts and the
// VAT rate: digits with an optional fraction, no sign, no exponent, no
// grouping. The text is sent exactly as received, never through float64.
var plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// maxDecimalLen bounds a decimal's text; nothing in an invoice needs more.
const maxDecimalLen = 40

// isPlainDecimal reports whether s is a plain decimal.
func isPlainDecimal(s string) bool {
	return len(s) <= maxDecimalLen && plainDecimal.MatchString(s)
}

// isZeroDecimal reports whether the plain decimal s is zero.
func isZeroDecimal(s string) bool {
	for _, c := range s {
		if c != '0' && c != '.' {
			return false
		}
	}
	return true
}

// decimalOf returns the exact text of an amount decoded with UseNumber: a
// JSON number, or a JSON string holding a plain decimal. ok is false when v is
// absent (nil); err says why a present value cannot be sent.
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
	if !isPlainDecimal(s) {
		return "", true, fmt.Errorf("%s is not a plain decimal", quoteShort(s))
	}
	return s, true, nil
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
