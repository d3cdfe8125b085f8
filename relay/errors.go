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

// Error is the one application error type that crosses into the HTTP layer.
type Error struct {
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("relay: %s: %s", e.Code, e.Message) }

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

// ErrNotFound is returned when an event, delivery or dead letter does not exist.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}
