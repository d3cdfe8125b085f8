package decimal

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		rules   Rules
		wantErr error
		wantMsg string
	}{
		{in: "0", rules: AccountingPlus},
		{in: "7", rules: AccountingPlus},
		{in: "350000", rules: AccountingPlus},
		{in: "350000.00", rules: AccountingPlus},
		{in: "1.5", rules: OnlinePajak},
		{in: "0.05", rules: OnlinePajak},
		{in: "9007199254740993", rules: AccountingPlus},
		{in: "9223372036854775807", rules: AccountingPlus},
		{in: "9223372036854775807.99", rules: OnlinePajak},
		{in: "9223372036854775808", rules: AccountingPlus, wantErr: ErrOutOfRange, wantMsg: `"9223372036854775808" is out of range (integer part beyond int64)`},
		{in: "10000000000000000000", rules: OnlinePajak, wantErr: ErrOutOfRange},
		{in: "12.345", rules: AccountingPlus, wantErr: ErrTooManyFractionDigits, wantMsg: `"12.345" has more than 2 fraction digits`},
		{in: "12.500", rules: OnlinePajak, wantErr: ErrTooManyFractionDigits},
		{in: "12.5", rules: Rules{MaxFractionDigits: 0}, wantErr: ErrTooManyFractionDigits, wantMsg: `"12.5" has more than 0 fraction digits`},
		{in: "-5000", rules: AccountingPlus, wantErr: ErrNegative, wantMsg: `"-5000" is negative`},
		{in: "-0", rules: OnlinePajak, wantErr: ErrNegative},
		{in: "-", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "-007", rules: OnlinePajak, wantErr: ErrSyntax},
		// The old OnlinePajak check took these.
		{in: "007", rules: OnlinePajak, wantErr: ErrSyntax, wantMsg: `"007" is not a plain decimal`},
		{in: "00", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "00.5", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "1.123456789", rules: OnlinePajak, wantErr: ErrTooManyFractionDigits},
		{in: "1e3", rules: AccountingPlus, wantErr: ErrSyntax},
		{in: "1E3", rules: AccountingPlus, wantErr: ErrSyntax},
		{in: "1.65e6", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "12,500", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "1_000", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "+1", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: " 1", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "1 ", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: ".5", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "1.", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "1..2", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "1.2.3", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "١٢", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "NaN", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: "0x10", rules: OnlinePajak, wantErr: ErrSyntax},
		{in: strings.Repeat("9", 60), rules: OnlinePajak, wantErr: ErrOutOfRange, wantMsg: `"` + strings.Repeat("9", 40) + `"… is out of range (integer part beyond int64)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := Parse(tt.in, tt.rules)
			if tt.wantErr == nil {
				if err != nil || d.String() != tt.in {
					t.Fatalf("Parse(%q) = %q, %v; want it as given", tt.in, d, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%q) = %q, %v; want %v", tt.in, d, err, tt.wantErr)
			}
			var e *Error
			if !errors.As(err, &e) || e.Text != tt.in {
				t.Errorf("error %#v is not an *Error with the text", err)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestDecimal_Value(t *testing.T) {
	tests := []struct {
		a, b   string
		cmp    int
		zeroA  bool
		ratA   string // big.Rat's RatString of a
		intA   string
		fracA  string
		numOfA string
	}{
		{a: "0", b: "0.00", cmp: 0, zeroA: true, ratA: "0", intA: "0"},
		{a: "0.00", b: "0.01", cmp: -1, zeroA: true, ratA: "0", intA: "0", fracA: "00"},
		{a: "1.50", b: "1.5", cmp: 0, ratA: "3/2", intA: "1", fracA: "50"},
		{a: "10", b: "9.99", cmp: 1, ratA: "10", intA: "10"},
		{a: "9007199254740993", b: "9007199254740992", cmp: 1, ratA: "9007199254740993", intA: "9007199254740993"},
		{a: "2.05", b: "2.5", cmp: -1, ratA: "41/20", intA: "2", fracA: "05"},
		{a: "350000.00", b: "350000", cmp: 0, ratA: "350000", intA: "350000", fracA: "00"},
	}
	r := Rules{MaxFractionDigits: 2}
	for _, tt := range tests {
		a, b := Must(tt.a, r), Must(tt.b, r)
		if got := a.Cmp(b); got != tt.cmp {
			t.Errorf("%s.Cmp(%s) = %d, want %d", tt.a, tt.b, got, tt.cmp)
		}
		if got := b.Cmp(a); got != -tt.cmp {
			t.Errorf("%s.Cmp(%s) = %d, want %d", tt.b, tt.a, got, -tt.cmp)
		}
		if a.IsZero() != tt.zeroA {
			t.Errorf("%s.IsZero() = %v", tt.a, a.IsZero())
		}
		if got := a.Rat().RatString(); got != tt.ratA {
			t.Errorf("%s.Rat() = %s, want %s", tt.a, got, tt.ratA)
		}
		if a.IntPart() != tt.intA || a.FracPart() != tt.fracA {
			t.Errorf("%s: parts %q . %q, want %q . %q", tt.a, a.IntPart(), a.FracPart(), tt.intA, tt.fracA)
		}
	}
}

func TestMust_Panics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Must(\"1e3\") did not panic")
		}
	}()
	Must("1e3", AccountingPlus)
}

// plain is the grammar, written independently of scan.
var plain = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// FuzzParse checks Parse against math/big and the grammar: what it accepts
// is a plain decimal with big.Rat's value, within the rules, valid JSON,
// and round-trips; what it refuses breaks the grammar or a rule; Cmp and
// IsZero agree with big.Rat.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "7", "007", "1.5", "1.50", "0.00", "9007199254740993", "9223372036854775807",
		"9223372036854775808", "12.345", "-1", "-0", "1e3", "1.", ".5", "+1", "", " 1", "١٢", "1_000", "12,500"} {
		f.Add(s, "1.5", 2)
	}
	maxInt := new(big.Rat).SetInt64(math.MaxInt64)
	f.Fuzz(func(t *testing.T, s, other string, maxFrac int) {
		r := Rules{MaxFractionDigits: max(0, min(maxFrac, 64))}
		want, bigOK := new(big.Rat).SetString(s)
		frac := 0
		if _, f, ok := strings.Cut(s, "."); ok {
			frac = len(f)
		}
		valid := plain.MatchString(s) && frac <= r.MaxFractionDigits && bigOK && new(big.Rat).SetInt(intPart(want)).Cmp(maxInt) <= 0
		d, err := Parse(s, r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Text != s {
				t.Fatalf("Parse(%q): error %#v is not an *Error with the text", s, err)
			}
			if valid {
				t.Fatalf("Parse(%q, %+v) refused a valid decimal: %v", s, r, err)
			}
			return
		}
		if !valid {
			t.Fatalf("Parse(%q, %+v) = %q, but it breaks the grammar or a rule", s, r, d)
		}
		if d.Rat().Cmp(want) != 0 {
			t.Fatalf("Parse(%q).Rat() = %s, math/big says %s", s, d.Rat().RatString(), want.RatString())
		}
		if d.IsZero() != (want.Sign() == 0) {
			t.Fatalf("Parse(%q).IsZero() = %v", s, d.IsZero())
		}
		if !json.Valid([]byte(d.String())) {
			t.Fatalf("%q is not a valid JSON number", d)
		}
		again, err := Parse(d.String(), r)
		if err != nil || again != d || d.IntPart()+dotted(d.FracPart()) != s {
			t.Fatalf("round trip of %q: %q, %v", s, again, err)
		}
		if e, err := Parse(other, r); err == nil {
			o, _ := new(big.Rat).SetString(other)
			if got := d.Cmp(e); got != want.Cmp(o) {
				t.Fatalf("%q.Cmp(%q) = %d, math/big says %d", s, other, got, want.Cmp(o))
			}
		}
	})
}

// intPart is the integer part of a non-negative r.
func intPart(r *big.Rat) *big.Int {
	return new(big.Int).Quo(r.Num(), r.Denom())
}

func dotted(frac string) string {
	if frac == "" {
		return ""
	}
	return "." + frac
}
