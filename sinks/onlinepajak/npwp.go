package onlinepajak

import (
	"fmt"
	"regexp"
)

// npwp15 is the 15-digit NPWP in the format the reference documents for the
// npwp field and the registration link: 99.999.999.9-999.999.
var npwp15 = regexp.MustCompile(`^[0-9]{2}\.[0-9]{3}\.[0-9]{3}\.[0-9]-[0-9]{3}\.[0-9]{3}$`)

// normalizeNPWP accepts a counterparty NPWP as TagihanAI users write it and
// returns it in the form sent to OnlinePajak:
//
//   - 15 digits, formatted (01.234.567.8-901.000) or bare (012345678901000):
//     sent formatted, the only form the reference documents.
//   - 16 digits starting with 0 (0012345678901000): DJP's 16-digit NPWP of a
//     taxpayer that has a 15-digit one is that NPWP with a 0 in front, so it is
//     sent as the formatted 15-digit NPWP, losslessly.
//   - any other 16 digits (a NIK used as NPWP): there is no 15-digit form, so
//     it is sent as the 16 bare digits.
//
// Anything else is an error that gives the digit count, never the value.
func normalizeNPWP(s string) (string, error) {
	if npwp15.MatchString(s) {
		return s, nil
	}
	digits, others := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		} else {
			others++
		}
	}
	switch {
	case others == 0 && digits == 15:
		return formatNPWP15(s), nil
	case others == 0 && digits == 16 && s[0] == '0':
		return formatNPWP15(s[1:]), nil
	case others == 0 && digits == 16:
		return s, nil
	case others == 0:
		return "", fmt.Errorf("has %d digits, want 15 (99.999.999.9-999.999) or 16", digits)
	default:
		return "", fmt.Errorf("has %d digits and %d other characters, want 99.999.999.9-999.999, 15 bare digits or 16 digits", digits, others)
	}
}

// formatNPWP15 formats 15 digits as 99.999.999.9-999.999.
func formatNPWP15(d string) string {
	return d[0:2] + "." + d[2:5] + "." + d[5:8] + "." + d[8:9] + "-" + d[9:12] + "." + d[12:15]
}
