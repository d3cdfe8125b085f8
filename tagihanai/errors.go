package tagihanai

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound is returned when the transaction does not exist in the
	// API key's workspace (404).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized is returned when the API key is missing, invalid or
	// lacks the transactions:read scope (401, 403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited is returned when the API still answers 429 after the
	// client's bounded retries.
	ErrRateLimited = errors.New("rate limit exceeded")
	// ErrUnexpectedResponse is returned when the API answers with a status
	// or a body this client does not understand.
	ErrUnexpectedResponse = errors.New("unexpected response")
)

// Error is a failed call to the TagihanAI API. It never holds the API key.
type Error struct {
	// Op says what was attempted, e.g. `get transaction "550e8400-…"`.
	Op string
	// StatusCode is the HTTP status of the answer, 0 when none came.
	StatusCode int
	// RetryAfter is the server's Retry-After, 0 when it sent none.
	RetryAfter time.Duration
	// Temporary reports whether the same call can succeed later.
	Temporary bool
	// Err is the cause: one of the sentinels above (wrapped with the API's
	// message) or a network error.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("tagihanai: %s: HTTP %d: %v", e.Op, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("tagihanai: %s: %v", e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
