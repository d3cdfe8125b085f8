package relay

import (
	"context"
	"encoding/json"
	"time"
)

// Sink delivers one event to one destination and classifies what happened.
// Deliver must honour ctx (the dispatcher sets the sink's TIMEOUT on it) and
// must not retry by itself: the dispatcher owns the schedule, the ordering
// and the durable record of every attempt.
type Sink interface {
	Deliver(ctx context.Context, o *Outbound) Result
}

// Outcome classifies one delivery attempt.
type Outcome int

// Outcomes of an attempt.
const (
	// OutcomeDelivered: the destination accepted the event.
	OutcomeDelivered Outcome = iota + 1
	// OutcomeTransient: worth retrying on the schedule (network error,
	// timeout before sending, 408, 425, 429, 5xx).
	OutcomeTransient
	// OutcomePermanent: retrying cannot help (other 4xx, a business
	// rejection, a mapping error); the delivery becomes a dead letter.
	OutcomePermanent
	// OutcomeUnknown: the request may have been acted on but no answer came
	// back (timeout after sending). Non-idempotent sinks go to needs_review.
	OutcomeUnknown
	// OutcomeSkipped: the sink decided not to send (not an invoice, document
	// already created for this subject); final, with the reason.
	OutcomeSkipped
	// OutcomeRecheck: an earlier attempt's outcome is still unknown and this
	// attempt, a look-up, could not settle it yet (no such document yet: the
	// destination may still be creating it; or the look-up was rate
	// limited). The dispatcher looks again after RetryAfter, keeps the
	// delivery's PriorUnknown and PriorUnknownAt, and does not count the
	// attempt against the retry schedule, so the schedule cannot run out
	// while the sink waits.
	OutcomeRecheck
)

// String returns the outcome's metric label.
func (o Outcome) String() string {
	switch o {
	case OutcomeDelivered:
		return "delivered"
	case OutcomeTransient:
		return "transient"
	case OutcomePermanent:
		return "permanent"
	case OutcomeUnknown:
		return "unknown"
	case OutcomeSkipped:
		return "skipped"
	case OutcomeRecheck:
		return "recheck"
	default:
		return "invalid"
	}
}

// Result is what a sink reports for one attempt.
type Result struct {
	Outcome    Outcome
	StatusCode int           // HTTP status of the answer, 0 when none
	RetryAfter time.Duration // from a Retry-After header (transient only), 0 when none
	Reason     string        // why it failed or was skipped; never a secret
	// Result holds what the destination returned that an operator needs,
	// e.g. {"document_number": "00004/FPJ/07/29"}.
	Result map[string]string
	// Lookup marks an attempt that only looked up what an earlier attempt
	// with an unknown outcome did, and sent nothing (Sink checks unknown
	// outcomes, SinkSpec.ChecksUnknown). Delivered: the earlier attempt took
	// effect. Unknown: the look-up failed (needs_review under
	// ON_UNKNOWN=review). Transient: the look-ups settled that the earlier
	// attempt did nothing; the delivery is sent again on the schedule.
	// The attempt is recorded with Action "lookup".
	Lookup bool
	// Request is the exact body this attempt sent, or was sending when its
	// outcome became unknown, for the operator who settles it (the
	// dispatcher records it on the Attempt, see RequestRecord); nil when
	// the attempt sent no body of its own (a look-up, a skip). It must
	// carry no credential: sinks that build a body keep authentication in
	// headers or the URL, which are never recorded.
	Request []byte
}

// Delivered is a successful Result.
func Delivered(status int, result map[string]string) Result {
	return Result{Outcome: OutcomeDelivered, StatusCode: status, Result: result}
}

// Transient is a retryable failure.
func Transient(status int, retryAfter time.Duration, reason string) Result {
	return Result{Outcome: OutcomeTransient, StatusCode: status, RetryAfter: retryAfter, Reason: reason}
}

// Permanent is a failure that goes to the dead letters at once.
func Permanent(status int, reason string) Result {
	return Result{Outcome: OutcomePermanent, StatusCode: status, Reason: reason}
}

// Unknown is an attempt whose outcome cannot be known.
func Unknown(reason string) Result {
	return Result{Outcome: OutcomeUnknown, Reason: reason}
}

// Recheck asks for another look-up after retryAfter (OutcomeRecheck).
func Recheck(status int, retryAfter time.Duration, reason string) Result {
	return Result{Outcome: OutcomeRecheck, StatusCode: status, RetryAfter: retryAfter, Reason: reason, Lookup: true}
}

// Skipped is a deliberate non-delivery.
func Skipped(reason string) Result {
	return Result{Outcome: OutcomeSkipped, Reason: reason}
}

// Outbound is one event on its way to one sink.
type Outbound struct {
	EventID string
	Sink    string
	Type    string // the TagihanAI event type, e.g. "transaction.sent"
	Subject string
	Test    bool
	// Event is the normalized CloudEvent, structured-mode JSON.
	Event json.RawMessage
	// Data is the resource object exactly as received (the CloudEvent's data).
	Data json.RawMessage
	// Delivery is the original request: body byte for byte and headers.
	Delivery Delivery
	// Attempt is this attempt's number, from 1.
	Attempt int
	// PriorUnknown is set when an earlier attempt's outcome is unknown
	// (timeout after sending, or the process died mid-request): a sink that
	// can check whether the earlier attempt took effect must check first.
	PriorUnknown bool
	// PriorUnknownAt is when the latest attempt with an unknown outcome
	// began (the dispatcher's clock), set with PriorUnknown. After a crash
	// it is the time of the resume, which is later than the interrupted
	// attempt began: a sink that waits some time after it waits longer,
	// never shorter. Zero when unknown (records written before it existed).
	PriorUnknownAt time.Time
	// Created is the create-once record of (sink, subject), nil when none.
	Created *CreatedDocument
}

// CreatedDocument records what a non-idempotent sink created for a subject,
// so that it is never created twice.
type CreatedDocument struct {
	Sink           string    `json:"sink"`
	Subject        string    `json:"subject"`
	EventID        string    `json:"event_id"`
	DocumentNumber string    `json:"document_number"`
	CreatedAt      time.Time `json:"created_at"`
}
