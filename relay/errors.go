package relay

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// Application error codes. Each has one HTTP status, in httpErrors below;
// everything below the HTTP layer returns *Error or wraps one.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid_request"
	ENOTFOUND     = "not_found"
	EUNAVAILABLE  = "unavailable"
	EUNAUTHORIZED = "unauthorized"
)

// Refusals of the admin listener's request guard (SPEC 4, "Admin security").
const (
	// ECROSSSITE: a state-changing request sent by a page of another site.
	ECROSSSITE = "cross_site"
	// EFORBIDDENHOST: a Host header the admin listener does not answer to.
	EFORBIDDENHOST = "forbidden_host"
	// EUNSUPPORTEDMEDIA: a /v1/ request body of the wrong Content-Type.
	EUNSUPPORTEDMEDIA = "unsupported_media_type"
)

// Refusals of the HTTP layer itself (SPEC 2.2).
const (
	// ETOOLARGE: a body over its limit (RELAY_MAX_BODY_BYTES at ingest).
	ETOOLARGE = "too_large"
	// EOVERLOADED: no room for another body in flight
	// (RELAY_MAX_INFLIGHT_BYTES); the sender retries.
	EOVERLOADED = "overloaded"
	// EMETHODNOTALLOWED: a known path asked with a method it does not serve.
	EMETHODNOTALLOWED = "method_not_allowed"
	// EUNKNOWNSOURCE: a delivery to a source that does not exist or is
	// disabled (SPEC 6); nothing is stored.
	EUNKNOWNSOURCE = "unknown_source"
)

// httpErrors is the one table from an error code to the HTTP status every
// listener answers it with: the ingest endpoint and /v1/ in JSON
// ({"error":<code>,"message":...}), the console in an HTML page. The
// signature codes are SPEC 2.1's (signature.Code). An answer the framework
// gives by status (an unknown route, a wrong method) takes the first code
// listed for that status; the table lists each status's general code first.
var httpErrors = []struct {
	code   string
	status int
}{
	{EINVALID, http.StatusBadRequest},
	{EUNAUTHORIZED, http.StatusUnauthorized},
	{signature.CodeMissing, http.StatusUnauthorized},
	{signature.CodeMalformed, http.StatusUnauthorized},
	{signature.CodeTolerance, http.StatusUnauthorized},
	{signature.CodeMismatch, http.StatusUnauthorized},
	{EFORBIDDENHOST, http.StatusForbidden},
	{ECROSSSITE, http.StatusForbidden},
	{ENOTFOUND, http.StatusNotFound},
	{EUNKNOWNSOURCE, http.StatusNotFound},
	{EMETHODNOTALLOWED, http.StatusMethodNotAllowed},
	{ECONFLICT, http.StatusConflict},
	{ETOOLARGE, http.StatusRequestEntityTooLarge},
	{EUNSUPPORTEDMEDIA, http.StatusUnsupportedMediaType},
	{EINTERNAL, http.StatusInternalServerError},
	{EUNAVAILABLE, http.StatusServiceUnavailable},
	{EOVERLOADED, http.StatusServiceUnavailable},
}

// HTTPStatus returns the HTTP status of an error code, 500 for a code the
// table does not list.
func HTTPStatus(code string) int {
	for _, e := range httpErrors {
		if e.code == code {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// HTTPErrorCodes returns every code the table lists, in its order.
func HTTPErrorCodes() []string {
	codes := make([]string, len(httpErrors))
	for i, e := range httpErrors {
		codes[i] = e.code
	}
	return codes
}

// HTTPAnswer is how a listener answers an error: the status, the code
// (JSON "error") and the message (JSON "message", the console page's text).
type HTTPAnswer struct {
	Status  int
	Code    string
	Message string
	// Internal is set for an error that is no *Error (or is EINTERNAL):
	// the message is generic and the error belongs in the log.
	Internal bool
}

// AnswerError returns the answer to err: the code and message of the first
// *Error in its chain with that code's status, or 500 internal with a
// generic message for any other error (whose text may carry internals).
func AnswerError(err error) HTTPAnswer {
	code := ErrorCode(err)
	return HTTPAnswer{Status: HTTPStatus(code), Code: code, Message: ErrorMessage(err), Internal: code == EINTERNAL}
}

// AnswerStatus returns the answer of a status the framework chose (an
// unknown route is 404, a wrong method 405): the first code the table lists
// for it and message, or the status's text when message is "". A status
// the table does not list has the code "internal".
func AnswerStatus(status int, message string) HTTPAnswer {
	a := HTTPAnswer{Status: status, Code: EINTERNAL, Message: message}
	for _, e := range httpErrors {
		if e.status == status {
			a.Code = e.code
			break
		}
	}
	if a.Message == "" {
		a.Message = http.StatusText(status)
	}
	return a
}

// Error is the one application error type that crosses into the HTTP layer.
type Error struct {
	Code string
	// Message is what the caller is told; the sentinels below have none
	// and say their code in words ("not found").
	Message string
	// Err is the cause, for logs and errors.Is; it is never answered.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("relay: %s: %s: %v", e.Code, e.message(), e.Err)
	}
	return fmt.Sprintf("relay: %s: %s", e.Code, e.message())
}

func (e *Error) message() string {
	if e.Message == "" {
		return strings.ReplaceAll(e.Code, "_", " ")
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match by code when the target has only a code (the
// sentinels below, or &Error{Code: c}). Any other target matches only
// itself, which errors.Is checks before it calls Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic text for other errors (whose text may carry internals).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.message()
	}
	return "internal error"
}

// Sentinels for errors.Is: any *Error with the same code matches.
var (
	// ErrNotFound matches errors for an event, delivery or dead letter that does not exist.
	ErrNotFound = &Error{Code: ENOTFOUND}
	// ErrConflict matches errors for an action the current state does not allow.
	ErrConflict = &Error{Code: ECONFLICT}
	// ErrInvalid matches errors for a bad filter, body or argument.
	ErrInvalid = &Error{Code: EINVALID}
	// ErrUnavailable matches errors for a store that cannot take writes now.
	ErrUnavailable = &Error{Code: EUNAVAILABLE}
)
