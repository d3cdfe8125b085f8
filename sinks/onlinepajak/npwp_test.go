package onlinepajak

import (
	"strings"
	"testing"
)

func TestNormalizeNPWP(t *testing.T) {
	tests := []struct {
		in, want string
		errHas   string
	}{
		{in: "01.234.567.8-901.000", want: "01.234.567.8-901.000"},
		{in: "012345678901000", want: "01.234.567.8-901.000"},
		{in: "0012345678901000", want: "01.234.567.8-901.000"},
		{in: "3171012345678901", want: "3171012345678901"},
		{in: "00.000.000.0-000.000", want: "00.000.000.0-000.000"},
		{in: "01234567890100", errHas: "has 14 digits"},
		{in: "01234567890100011", errHas: "has 17 digits"},
		{in: "01.234.567.8-901", errHas: "has 12 digits and 4 other characters"},
		{in: "01-234-567-8-901-000", errHas: "other characters"},
		{in: "0123456789O1000", errHas: "other characters"},
		{in: "０12345678901000", errHas: "other characters"}, // fullwidth digit
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := normalizeNPWP(tt.in)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("normalizeNPWP(%q) = %q, %v; want error with %q", tt.in, got, err, tt.errHas)
				}
				if strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q echoes the NPWP", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("normalizeNPWP(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
