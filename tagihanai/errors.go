package tagihanai

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound is returned when the transaction or webhook subscription
	// does not exist in the API key's workspace (404).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized is returned when TagihanAI refuses the API key: it is
	// missing, unknown or revoked (401) or lacks the scope the call needs
	// (403). The *Error's message names that scope, never the key.
	ErrUnauthorized = errors.New("the API key is unknown, revoked or lacks the scope")
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
