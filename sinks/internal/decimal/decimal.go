// Package decimal is the one exact-decimal type of the sinks that create
// documents (AccountingPlus, OnlinePajak): amounts, quantities and rates read
// from a TagihanAI transaction and written to a counterpart exactly as
// received. It is pure: no I/O, no clock, and no float64 anywhere, so
// 9007199254740993 stays 9007199254740993.
//
// # What is accepted
//
// A plain decimal: `0` or a digit 1-9 followed by digits, then optionally a
// point and one or more digits. No sign, exponent, leading zeros ("007",
// "00.5"), grouping ("12,500", "1_000"), spaces, "+", ".5", "1." or
// non-ASCII digits. On top of the syntax, Rules bound the fraction digits
// (as written: "12.500" has three) and the integer part (at most
// 9223372036854775807, the int64 range).
//
// # Why these rules (per counterpart)
//
// AccountingPlus (sinks/accountingplus, Rules AccountingPlus): the body
// carries amounts as JSON numbers, written from the received text. The
// syntax above is exactly JSON's number grammar without sign and exponent,
// so the literal is always valid JSON ("007" would not be); its API holds
// Rupiah amounts with at most two decimals; the integer part must fit its
// int64 fields. SPEC 3.2.
//
// OnlinePajak (sinks/onlinepajak, Rules OnlinePajak): quantity, unitPrice
// and discount are sent as JSON strings and vatRate as a JSON number. The
// reference documents no precision and shows whole numbers only ("2",
// "100000", vatRate 10); e-Faktur amounts are Rupiah with at most two
// decimals. So the same rules apply: the same syntax (vatRate is a JSON
// number, and a string "007" or "1e3" would be read differently by
// different parsers), at most two fraction digits (a value the server would
// have to round, by rules it does not document, is refused here with the
// field named instead), and the int64 range (the API answers totals as JSON
// numbers). Trailing zeros are kept: "350000.00" is sent as "350000.00".
package decimal

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
)

// Errors of Parse, inside an *Error; compare with errors.Is.
var (
	// ErrSyntax is returned when the text is not a plain decimal (an
	// exponent, a leading zero, grouping, an empty string, ...).
	ErrSyntax = errors.New("is not a plain decimal")
	// ErrNegative is returned when the text is a plain decimal with a minus
	// sign ("-5000", "-0").
	ErrNegative = errors.New("is negative")
	// ErrTooManyFractionDigits is returned when the text has more digits
	// after the point than the Rules allow.
	ErrTooManyFractionDigits = errors.New("has too many fraction digits")
	// ErrOutOfRange is returned when the integer part exceeds the int64
	// range.
	ErrOutOfRange = errors.New("is out of range (integer part beyond int64)")
)

// Error is a text Parse refused and why.
type Error struct {
	Text string // the refused text, as given
	Err  error  // one of the Err* sentinels
	// MaxFractionDigits is the limit broken, for ErrTooManyFractionDigits.
	MaxFractionDigits int
}

// Error reads like `"12.345" has more than 2 fraction digits`; a long text
// is cut.
func (e *Error) Error() string {
	if e.Err == ErrTooManyFractionDigits {
		return fmt.Sprintf("%s has more than %d fraction digits", quote(e.Text), e.MaxFractionDigits)
	}
	return quote(e.Text) + " " + e.Err.Error()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Rules are what a counterpart accepts beyond the syntax.
type Rules struct {
	// MaxFractionDigits is the most digits after the point, as written.
	MaxFractionDigits int
}

// The rules of each counterpart; the package comment says why.
var (
	AccountingPlus = Rules{MaxFractionDigits: 2}
	OnlinePajak    = Rules{MaxFractionDigits: 2}
)

// maxInt is the largest integer part, math.MaxInt64, as text.
const maxInt = "9223372036854775807"

// Decimal is an exact non-negative decimal number, kept as the text it was
// parsed from. The zero value is not a valid Decimal; use Parse or Must.
type Decimal struct {
	text  string
	point int // index of '.' in text, or len(text) when there is none
}

// Parse checks s against the syntax and r and returns it as a Decimal.
// Every error is an *Error wrapping one of the Err* sentinels.
func Parse(s string, r Rules) (Decimal, error) {
	digits := s
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		digits = s[1:]
	}
	point, ok := scan(digits)
	if !ok {
		return Decimal{}, &Error{Text: s, Err: ErrSyntax}
	}
	if neg {
		return Decimal{}, &Error{Text: s, Err: ErrNegative}
	}
	if frac := len(s) - point - 1; point < len(s) && frac > r.MaxFractionDigits {
		return Decimal{}, &Error{Text: s, Err: ErrTooManyFractionDigits, MaxFractionDigits: r.MaxFractionDigits}
	}
	if intPart := s[:point]; len(intPart) > len(maxInt) || len(intPart) == len(maxInt) && intPart > maxInt {
		return Decimal{}, &Error{Text: s, Err: ErrOutOfRange}
	}
	return Decimal{text: s, point: point}, nil
}

// scan reports whether s is `(0|[1-9][0-9]*)(\.[0-9]+)?` and where its
// point is (len(s) when none).
func scan(s string) (point int, ok bool) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 || i > 1 && s[0] == '0' {
		return 0, false
	}
	if i == len(s) {
		return i, true
	}
	if s[i] != '.' || i+1 == len(s) {
		return 0, false
	}
	for j := i + 1; j < len(s); j++ {
		if !isDigit(s[j]) {
			return 0, false
		}
	}
	return i, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Must is Parse for literals known to be valid; it panics otherwise.
func Must(s string, r Rules) Decimal {
	d, err := Parse(s, r)
	if err != nil {
		panic("decimal: " + err.Error())
	}
	return d
}

// String returns the text exactly as parsed ("350000.00" stays so).
func (d Decimal) String() string { return d.text }

// IntPart returns the digits before the point.
func (d Decimal) IntPart() string { return d.text[:d.point] }

// FracPart returns the digits after the point, as written ("" when none).
func (d Decimal) FracPart() string {
	if d.point >= len(d.text) {
		return ""
	}
	return d.text[d.point+1:]
}

// IsZero reports whether d is zero ("0", "0.00").
func (d Decimal) IsZero() bool {
	for i := 0; i < len(d.text); i++ {
		if c := d.text[i]; c != '0' && c != '.' {
			return false
		}
	}
	return true
}

// Cmp compares d and e by value: -1, 0 or +1. "1.50" equals "1.5".
func (d Decimal) Cmp(e Decimal) int {
	a, b := d.IntPart(), e.IntPart()
	if len(a) != len(b) {
		return sign(len(a) - len(b)) // no leading zeros: longer is larger
	}
	if a != b {
		if a < b {
			return -1
		}
		return 1
	}
	fa, fb := d.FracPart(), e.FracPart()
	for i := 0; i < max(len(fa), len(fb)); i++ {
		ca, cb := digitAt(fa, i), digitAt(fb, i)
		if ca != cb {
			return sign(int(ca) - int(cb))
		}
	}
	return 0
}

func digitAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return '0'
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// Rat returns d's exact value: its digits as an integer over 10 to the
// number of fraction digits.
func (d Decimal) Rat() *big.Rat {
	num, _ := new(big.Int).SetString(d.IntPart()+d.FracPart(), 10)
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(d.FracPart()))), nil)
	return new(big.Rat).SetFrac(num, den)
}

// quote quotes s for an error message, cut to 40 bytes.
func quote(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}
