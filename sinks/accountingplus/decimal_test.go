package accountingplus

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/sinks/internal/decimal"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in      any
		want    json.Number
		wantErr error
	}{
		{json.Number("0"), "0", nil},
		{json.Number("9007199254740993"), "9007199254740993", nil},
		{json.Number("9223372036854775807.99"), "9223372036854775807.99", nil},
		{json.Number("9223372036854775808"), "", decimal.ErrOutOfRange},
		{json.Number("1.5"), "1.5", nil},
		{json.Number("1.50"), "1.50", nil},
		{json.Number("1.505"), "", decimal.ErrTooManyFractionDigits},
		{json.Number("1e3"), "", decimal.ErrSyntax},
		{json.Number("1E3"), "", decimal.ErrSyntax},
		{json.Number("-1"), "", decimal.ErrNegative},
		{json.Number("-0"), "", decimal.ErrNegative},
		{"12.50", "12.50", nil},
		{"", "", decimal.ErrSyntax},
		{"1.", "", decimal.ErrSyntax},
		{".5", "", decimal.ErrSyntax},
		{"+1", "", decimal.ErrSyntax},
		{"00", "", decimal.ErrSyntax},
		{"1_000", "", decimal.ErrSyntax},
		{"١٢", "", decimal.ErrSyntax},
		{true, "", ErrWrongType},
		{nil, "", ErrWrongType},
		{[]any{}, "", ErrWrongType},
	}
	for _, tt := range tests {
		got, err := parseDecimal(tt.in)
		if got != tt.want || !errorsIs(err, tt.wantErr) {
			t.Errorf("parseDecimal(%#v) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// errorsIs is errors.Is that also matches nil with nil.
func errorsIs(err, target error) bool {
	if target == nil {
		return err == nil
	}
	return errors.Is(err, target)
}
