package relay

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// errorCodeConsts returns the value of every E* string constant declared in
// errors.go: the relay error codes, read from the source so that a new code
// cannot be added without this test seeing it.
func errorCodeConsts(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !strings.HasPrefix(name.Name, "E") || !ok || lit.Kind != token.STRING {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				codes[name.Name] = v
			}
		}
	}
	if len(codes) < 12 {
		t.Fatalf("found only %d error codes in errors.go: %v", len(codes), codes)
	}
	return codes
}

func TestHTTPErrors_EveryCodeHasOneStatus(t *testing.T) {
	rows := map[string]int{}
	for _, e := range httpErrors {
		if _, dup := rows[e.code]; dup {
			t.Errorf("code %q is listed twice", e.code)
		}
		if http.StatusText(e.status) == "" || e.status < 400 {
			t.Errorf("code %q: status %d is not an HTTP error status", e.code, e.status)
		}
		rows[e.code] = e.status
	}
	for name, code := range errorCodeConsts(t) {
		if _, ok := rows[code]; !ok {
			t.Errorf("relay.%s (%q) has no row in httpErrors", name, code)
		}
	}
	// Every error the signature verifier returns answers 401 (SPEC 2.1).
	for _, err := range []error{signature.ErrMissingSignature, signature.ErrMalformedHeader, signature.ErrTooOld,
		signature.ErrTooNew, signature.ErrNoValidSignature, errors.New("unknown")} {
		code := signature.Code(err)
		if st, ok := rows[code]; !ok || st != http.StatusUnauthorized {
			t.Errorf("signature code %q (of %v): status %d, listed %v; want 401", code, err, st, ok)
		}
	}
	if got := HTTPStatus("no_such_code"); got != http.StatusInternalServerError {
		t.Errorf("HTTPStatus of an unknown code = %d, want 500", got)
	}
	if got := HTTPErrorCodes(); len(got) != len(httpErrors) {
		t.Errorf("HTTPErrorCodes lists %d codes, the table %d", len(got), len(httpErrors))
	}
}

// The statuses SPEC 2.1, 2.2, 4 and 4.1 name, and what the framework's own
// answers (by status) are called.
func TestHTTPErrors_Spec(t *testing.T) {
	status := map[string]int{
		EINVALID: 400, EUNAUTHORIZED: 401, signature.CodeMissing: 401, signature.CodeMalformed: 401,
		signature.CodeTolerance: 401, signature.CodeMismatch: 401, EFORBIDDENHOST: 403, ECROSSSITE: 403,
		ENOTFOUND: 404, EUNKNOWNSOURCE: 404, EMETHODNOTALLOWED: 405, ECONFLICT: 409, ETOOLARGE: 413, EUNSUPPORTEDMEDIA: 415,
		EINTERNAL: 500, EUNAVAILABLE: 503, EOVERLOADED: 503,
	}
	for code, want := range status {
		if got := HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", code, got, want)
		}
	}
	byStatus := map[int]string{400: EINVALID, 401: EUNAUTHORIZED, 404: ENOTFOUND, 405: EMETHODNOTALLOWED,
		413: ETOOLARGE, 500: EINTERNAL, 503: EUNAVAILABLE, http.StatusTeapot: EINTERNAL}
	for st, want := range byStatus {
		a := AnswerStatus(st, "")
		if a.Code != want || a.Status != st || a.Message != http.StatusText(st) || a.Internal {
			t.Errorf("AnswerStatus(%d) = %+v, want code %q and the status text", st, a, want)
		}
	}
	if a := AnswerStatus(404, "There is no such page."); a.Message != "There is no such page." {
		t.Errorf("AnswerStatus kept no message: %+v", a)
	}
}

func TestAnswerError(t *testing.T) {
	cause := errors.New("disk full at /var/lib/relay")
	tests := []struct {
		err  error
		want HTTPAnswer
	}{
		{Errorf(ENOTFOUND, "event %q", "e"), HTTPAnswer{404, ENOTFOUND, `event "e"`, false}},
		{fmt.Errorf("store: %w", Errorf(ECONFLICT, "busy")), HTTPAnswer{409, ECONFLICT, "busy", false}},
		{&Error{Code: EUNAVAILABLE, Message: "retry later", Err: cause}, HTTPAnswer{503, EUNAVAILABLE, "retry later", false}},
		{&Error{Code: signature.CodeTolerance, Message: "too old"}, HTTPAnswer{401, signature.CodeTolerance, "too old", false}},
		{Errorf(EINTERNAL, "render failed"), HTTPAnswer{500, EINTERNAL, "render failed", true}},
		{cause, HTTPAnswer{500, EINTERNAL, "internal error", true}},
		{fmt.Errorf("get: %w", ErrNotFound), HTTPAnswer{404, ENOTFOUND, "not found", false}},
	}
	for _, tt := range tests {
		if got := AnswerError(tt.err); got != tt.want {
			t.Errorf("AnswerError(%v) = %+v, want %+v", tt.err, got, tt.want)
		}
	}
}

func TestError_Is(t *testing.T) {
	cause := errors.New("disk full")
	busy := Errorf(ECONFLICT, "busy")
	wrapped := &Error{Code: EUNAVAILABLE, Message: "retry later", Err: busy}
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"SentinelByCode", fmt.Errorf("get: %w", Errorf(ENOTFOUND, "event e")), ErrNotFound, true},
		{"SentinelOtherCode", Errorf(ENOTFOUND, "event e"), ErrConflict, false},
		{"CodeOnlyTarget", Errorf(ECROSSSITE, "refused"), &Error{Code: ECROSSSITE}, true},
		{"Itself", busy, busy, true},
		{"SameTextOtherError", Errorf(ECONFLICT, "busy"), busy, false},
		{"Cause", &Error{Code: EUNAVAILABLE, Message: "retry later", Err: cause}, cause, true},
		{"CauseSentinel", wrapped, ErrConflict, true},
		{"OuterSentinel", wrapped, ErrUnavailable, true},
		{"NotAnError", busy, cause, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tt.name, tt.err, tt.target, got, tt.want)
		}
	}
	if got, want := wrapped.Error(), "relay: unavailable: retry later: relay: conflict: busy"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := ErrNotFound.Error(), "relay: not_found: not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
