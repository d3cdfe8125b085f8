package relay

import (
	"errors"
	"fmt"
)

// Application error codes. The HTTP layer maps each to one status in one
// place; everything below it returns *Error or wraps one.
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

// Error is the one application error type that crosses into the HTTP layer.
type Error struct {
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("relay: %s: %s", e.Code, e.Message) }

// Is makes errors.Is match an *Error by code, so callers and tests can
// write errors.Is(err, relay.ErrNotFound) for any not-found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t == e || t.Message == e.Message || isSentinel(t))
}

// Sentinels compare by code only.
func isSentinel(e *Error) bool {
	return e == ErrNotFound || e == ErrConflict || e == ErrInvalid || e == ErrUnavailable
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
		return e.Message
	}
	return "internal error"
}

// Sentinels for errors.Is: any *Error with the same code matches.
var (
	// ErrNotFound matches errors for an event, delivery or dead letter that does not exist.
	ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}
	// ErrConflict matches errors for an action the current state does not allow.
	ErrConflict = &Error{Code: ECONFLICT, Message: "conflict"}
	// ErrInvalid matches errors for a bad filter, body or argument.
	ErrInvalid = &Error{Code: EINVALID, Message: "invalid request"}
	// ErrUnavailable matches errors for a store that cannot take writes now.
	ErrUnavailable = &Error{Code: EUNAVAILABLE, Message: "unavailable"}
)
