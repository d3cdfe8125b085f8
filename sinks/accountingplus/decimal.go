package accountingplus

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// maxFractionDigits is the most digits after the point an amount may have:
// Rupiah amounts have cents at most.
const maxFractionDigits = 2

// parseDecimal checks that v (a json.Number from a decoder with UseNumber, or
// a string holding a number) is a plain, non-negative decimal with at most
// two fraction digits whose integer part fits in an int64, and returns it
// exactly as received. The literal is never converted to a float.
func parseDecimal(v any) (json.Number, error) {
	var lit string
	switch v := v.(type) {
	case json.Number:
		lit = string(v)
	case string:
		lit = v
	default:
		return "", &detail{ErrWrongType, fmt.Sprintf("%s is %s, want a number", short(v), jsonKind(v))}
	}
	intPart, frac, ok := splitPlain(lit)
	switch {
	case !ok:
		return "", fmt.Errorf("%q %w", clip(lit), ErrNotPlainDecimal)
	case strings.HasPrefix(intPart, "-"):
		return "", fmt.Errorf("%q %w", lit, ErrNegative)
	case len(frac) > maxFractionDigits:
		return "", fmt.Errorf("%q %w", lit, ErrTooManyFractionDigits)
	}
	if _, err := strconv.ParseInt(intPart, 10, 64); err != nil {
		return "", fmt.Errorf("%q %w", clip(lit), ErrOutOfRange)
	}
	return json.Number(lit), nil
}

// splitPlain splits a plain decimal `-?(0|[1-9][0-9]*)(\.[0-9]+)?` into its
// signed integer part and its fraction digits; ok is false for anything
// else (exponents, "+", leading zeros, spaces, "1.", ".5", "").
func splitPlain(s string) (intPart, frac string, ok bool) {
	intPart, frac, dot := strings.Cut(s, ".")
	digits := strings.TrimPrefix(intPart, "-")
	if digits == "" || !allDigits(digits) || (len(digits) > 1 && digits[0] == '0') {
		return "", "", false
	}
	if dot && (frac == "" || !allDigits(frac)) {
		return "", "", false
	}
	return intPart, frac, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// rat returns the exact value of a decimal that parseDecimal accepted.
func rat(n json.Number) *big.Rat {
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		panic("accountingplus: rat of unchecked decimal " + string(n))
	}
	return r
}

// isZero reports whether a checked decimal is zero.
func isZero(n json.Number) bool { return rat(n).Sign() == 0 }

// clip shortens a long literal for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// short renders a decoded JSON value for an error message.
func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return clip(string(b))
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
