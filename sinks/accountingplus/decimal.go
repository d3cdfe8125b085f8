package accountingplus

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/tagihan-relay/tagihan-relay/sinks/internal/decimal"
)

// parseDecimal checks that v (a json.Number from a decoder with UseNumber, or
// a string holding a number) is an amount AccountingPlus takes, by the rules
// of decimal.AccountingPlus (a plain, non-negative decimal with at most two
// fraction digits whose integer part fits in an int64), and returns it
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
	d, err := decimal.Parse(lit, decimal.AccountingPlus)
	if err != nil {
		return "", err
	}
	return json.Number(d.String()), nil
}

// rat returns the exact value of a decimal that parseDecimal accepted.
func rat(n json.Number) *big.Rat { return decimal.Must(string(n), decimal.AccountingPlus).Rat() }

// isZero reports whether a checked decimal is zero.
func isZero(n json.Number) bool { return decimal.Must(string(n), decimal.AccountingPlus).IsZero() }

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
