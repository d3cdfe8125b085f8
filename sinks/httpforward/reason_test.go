package httpforward

import (
	"strings"
	"testing"
)

func TestStatusReason(t *testing.T) {
	tests := []struct {
		name string
		code int
		body string
		want string
	}{
		{name: "NoBody", code: 400, want: "400 Bad Request"},
		{name: "Body", code: 422, body: `{"error":"x"}`, want: `422 Unprocessable Entity: {"error":"x"}`},
		{name: "UnknownStatus", code: 499, body: "nope", want: "499: nope"},
		{name: "ControlChars", code: 400, body: "line1\r\nline2\x00", want: "400 Bad Request: line1  line2"},
		{name: "InvalidUTF8", code: 400, body: "a\xffb", want: "400 Bad Request: a b"},
		{name: "CutRune", code: 400, body: strings.Repeat("a", 199) + "\xe2\x80", want: "400 Bad Request: " + strings.Repeat("a", 199)},
		{name: "WholeRuneAtEnd", code: 400, body: strings.Repeat("a", 197) + "—", want: "400 Bad Request: " + strings.Repeat("a", 197) + "—"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusReason(tt.code, []byte(tt.body)); got != tt.want {
				t.Errorf("statusReason = %q, want %q", got, tt.want)
			}
		})
	}
}
