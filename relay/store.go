package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Event statuses (SPEC 4.1).
const (
	StatusUnparsed    = "unparsed"
	StatusUnrouted    = "unrouted"
	StatusNeedsReview = "needs_review"
	StatusDead        = "dead"
	StatusPending     = "pending"
	StatusDelivered   = "delivered"
)

// Delivery states of one event at one sink (SPEC 4.1).
const (
	StatePending     = "pending"
	StateInFlight    = "in_flight"
	StateDelivered   = "delivered"
	StateSkipped     = "skipped"
	StateDead        = "dead"
	StateNeedsReview = "needs_review"
)

// Terminal reports whether a delivery state is final (delivered, skipped, dead).
func Terminal(state string) bool {
	return state == StateDelivered || state == StateSkipped || state == StateDead
}

// EventStatus derives an event's status from its delivery states: the first
// of needs_review, dead, pending (anything not final) that any delivery is
// in, else delivered; unrouted when there are none.
func EventStatus(unparsed bool, states []string) string {
	if unparsed {
		return StatusUnparsed
	}
	if len(states) == 0 {
		return StatusUnrouted
	}
	var dead, pending bool
	for _, s := range states {
		switch s {
		case StateNeedsReview:
			return StatusNeedsReview
		case StateDead:
			dead = true
		case StateDelivered, StateSkipped:
		default:
			pending = true
		}
	}
	switch {
	case dead:
		return StatusDead
	case pending:
		return StatusPending
	}
	return StatusDelivered
}

// List page sizes: a list asks for Limit items; 0 means DefaultListLimit,
// and more than MaxListLimit gets MaxListLimit (both backends).
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// ClampLimit is the page size a list with limit n returns at most.
func ClampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultListLimit
	case n > MaxListLimit:
		return MaxListLimit
	}
	return n
}

// AllSkipped reports whether there are deliveries and every one is skipped.
func AllSkipped(states []string) bool {
	for _, s := range states {
		if s != StateSkipped {
			return false
		}
	}
	return len(states) > 0
}

// ListStatus is the status a list shows for the event: its status, except
// that an event whose every delivery was skipped reads "skipped", not
// "delivered" (SPEC 4.1's statuses have no "skipped"; the JSON keeps the
// status and says skipped separately). The CLI and the console both use it.
func (e EventSummary) ListStatus() string {
	if e.Status == StatusDelivered && e.Skipped {
		return StateSkipped
	}
	return e.Status
}

// IngestStatus is what storing a delivery did.
type IngestStatus string

// Ingest statuses, as answered on the wire.
const (
	IngestAccepted  IngestStatus = "accepted"
	IngestDuplicate IngestStatus = "duplicate"
	IngestUnparsed  IngestStatus = "unparsed"
)

// OutboxTarget is one outbox entry to create for a new event.
type OutboxTarget struct {
	Sink string
	// OrderKey serializes the sink's deliveries of one subject: it is the
	// event's subject (SINK_<NAME>_ORDERING=subject) or "" (unordered); a
	// store refuses any other value with EINVALID.
	OrderKey string
}

// NewEvent is everything ingest commits for one delivery, in one transaction.
type NewEvent struct {
	ID       string
	Delivery Delivery
	// Source is the relay source (SPEC 6) the delivery came in at; ""
	// means DefaultSource. Stores keep it with the event and list it.
	Source string
	// Unparsed is set when the body was verified but not a recognizable
	// event; Event and Targets are then empty.
	Unparsed   bool
	ParseError string
	Type       string
	Subject    string
	Test       bool
	// DocumentNumber, Counterparty and TransactionID feed the search index.
	DocumentNumber string
	Counterparty   string
	// TransactionID is the transaction of a resource that is not one (a
	// payment's data.transaction_id): a search that finds the transaction
	// finds this event too.
	TransactionID string
	// Event is the normalized CloudEvent JSON.
	Event json.RawMessage
	// EventDataOffset is where Event's data member starts (0: unknown).
	EventDataOffset int
	Targets         []OutboxTarget
}

// EventSummary is one line of an event listing.
type EventSummary struct {
	ID      string `json:"id"`
	Source  string `json:"source"` // the relay source (SPEC 6): DefaultSource for the environment's and older events
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Status  string `json:"status"`
	// Skipped: every delivery of the event was skipped (a BILL at
	// AccountingPlus, a transaction whose document another event created):
	// its status reads delivered, but nothing was sent.
	Skipped        bool      `json:"skipped,omitempty"`
	Test           bool      `json:"test"`
	ReceivedAt     time.Time `json:"received_at"`
	DocumentNumber string    `json:"document_number,omitempty"`
	Counterparty   string    `json:"counterparty,omitempty"`
}

// RawDelivery is the stored request as the admin API shows it.
type RawDelivery struct {
	Headers    map[string]string `json:"headers"`
	BodyBase64 []byte            `json:"body_base64"`
	Body       json.RawMessage   `json:"body,omitempty"`
}

// Attempt is one recorded delivery attempt.
type Attempt struct {
	At         time.Time     `json:"at"`
	Duration   time.Duration `json:"duration_ns"`
	Outcome    string        `json:"outcome"`
	StatusCode int           `json:"status_code,omitempty"`
	Error      string        `json:"error,omitempty"`
	// Action is "lookup" for an attempt that only looked up what an earlier
	// attempt did (Result.Lookup); empty for a send.
	Action string `json:"action,omitempty"`
	// Request is the body the attempt sent (Result.Request): the JSON as
	// sent, or, when it is not JSON or longer than MaxRequestRecord, its
	// start as a JSON string with RequestTruncated set when cut. Only the
	// latest attempt that sent a body keeps it (AppendAttempt), so a
	// delivery's record stays small however often it is retried.
	Request          json.RawMessage `json:"request,omitempty"`
	RequestTruncated bool            `json:"request_truncated,omitempty"`
}

// DeliveryState is an event's delivery record at one sink.
type DeliveryState struct {
	Sink          string            `json:"sink"`
	State         string            `json:"state"`
	Attempts      int               `json:"attempts"`
	NextAttemptAt *time.Time        `json:"next_attempt_at"`
	LastError     string            `json:"last_error"`
	LastStatus    int               `json:"last_status"`
	Result        map[string]string `json:"result"`
	History       []Attempt         `json:"history"`
	PriorUnknown  bool              `json:"prior_unknown,omitempty"`
	// PriorUnknownAt is when the attempt whose outcome is unknown began.
	PriorUnknownAt time.Time `json:"prior_unknown_at,omitzero"`
	UpdatedAt      time.Time `json:"updated_at"`
	// WaitingFor is, for a pending delivery that waits for its turn
	// (subject ordering), the id of the event whose open delivery at the
	// same sink it waits behind; WaitingForState is that delivery's state
	// (in_flight, pending: due or waiting to retry, needs_review). Both are
	// empty when the delivery is not waiting. GetEvent computes them; they
	// are never stored.
	WaitingFor      string `json:"waiting_for,omitempty"`
	WaitingForState string `json:"waiting_for_state,omitempty"`
}

// HistoryEntry records an operator action on an event.
type HistoryEntry struct {
	At       time.Time `json:"at"`
	Operator string    `json:"operator"`
	Action   string    `json:"action"`
	Sink     string    `json:"sink,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// EventDetail is everything known about one event.
type EventDetail struct {
	EventSummary
	Duplicates     int               `json:"duplicates"`
	LastReceivedAt time.Time         `json:"last_received_at"`
	ParseError     string            `json:"parse_error,omitempty"`
	Raw            RawDelivery       `json:"raw"`
	Event          json.RawMessage   `json:"event"`
	Deliveries     []DeliveryState   `json:"deliveries"`
	Operations     []HistoryEntry    `json:"operations,omitempty"`
	Created        []CreatedDocument `json:"created,omitempty"`
}

// EventFilter selects events; zero fields match everything.
type EventFilter struct {
	// Q finds events by id or subject (exact), document number or
	// counterparty name (case-insensitive substring), and with them the
	// events of other resources that belong to a transaction found so (a
	// payment of the invoice).
	Q       string
	Type    string // glob over the TagihanAI type
	Status  string
	Subject string
	Source  string // exact; DefaultSource matches the environment's events, older ones included
	Since   time.Time
	Until   time.Time
	Limit   int
	Cursor  string
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events     []EventSummary `json:"events"`
	NextCursor string         `json:"next_cursor"`
}

// DeadLetter is a delivery that needs a person: dead or needs_review.
type DeadLetter struct {
	EventID    string    `json:"event_id"`
	Sink       string    `json:"sink"`
	Source     string    `json:"source"` // the sink's source (SinkSource): "acme" for the sink "acme/ap"
	State      string    `json:"state"`
	Type       string    `json:"type"`
	Subject    string    `json:"subject"`
	Attempts   int       `json:"attempts"`
	Reason     string    `json:"reason"`
	LastStatus int       `json:"last_status"`
	DeadAt     time.Time `json:"dead_at"`
}

// DeadLetterFilter selects dead letters; zero fields match everything.
type DeadLetterFilter struct {
	Sink   string
	Source string // exact: the dead letters of that source's sinks (SinkSource)
	Type   string // glob
	State  string // dead or needs_review; "" both
	Since  time.Time
	Limit  int
	Cursor string
}

// DeadLetterPage is one page of dead letters, newest first.
type DeadLetterPage struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	NextCursor  string       `json:"next_cursor"`
}

// Redrive selects dead deliveries to move back to pending.
type Redrive struct {
	IDs  []string `json:"ids,omitempty"`
	Sink string   `json:"sink,omitempty"`
	Type string   `json:"type,omitempty"`
	All  bool     `json:"all,omitempty"`
	// Operator is who asked, for the event's history.
	Operator string `json:"-"`
}

// Empty reports whether the request selects nothing (answered 400).
func (r Redrive) Empty() bool { return len(r.IDs) == 0 && r.Sink == "" && r.Type == "" && !r.All }

// Resolution settles one needs_review delivery.
type Resolution struct {
	Sink     string            `json:"sink"`
	Outcome  string            `json:"outcome"` // "delivered" or "retry"
	Result   map[string]string `json:"result,omitempty"`
	Operator string            `json:"-"`
}

// SinkStats counts one sink's deliveries by state.
type SinkStats struct {
	Pending          int64   `json:"pending"`
	InFlight         int64   `json:"in_flight"`
	Delivered        int64   `json:"delivered"`
	Skipped          int64   `json:"skipped"`
	Dead             int64   `json:"dead"`
	NeedsReview      int64   `json:"needs_review"`
	OldestPendingAge float64 `json:"oldest_pending_age_seconds"`
	// DeliveredLastHour and FailedLastHour count the attempts of the last
	// hour (relay.AttemptCounts), from the store: they survive a restart.
	DeliveredLastHour int64 `json:"delivered_last_hour"`
	FailedLastHour    int64 `json:"failed_last_hour"`
}

// Stats summarizes the store.
type Stats struct {
	Events map[string]int64     `json:"events"`
	Sinks  map[string]SinkStats `json:"sinks"`
}

// ExportRecord is one stored delivery as exported and imported (NDJSON).
type ExportRecord struct {
	ID string `json:"id"`
	// Source is the relay source the delivery came to (SPEC 6); absent
	// for the environment's ("default").
	Source     string            `json:"source,omitempty"`
	ReceivedAt time.Time         `json:"received_at"`
	Headers    map[string]string `json:"headers"`
	BodyBase64 []byte            `json:"body_base64"`
	Event      json.RawMessage   `json:"event,omitempty"`
	Status     string            `json:"status"`
}

// ExportFilter selects what to export.
type ExportFilter struct {
	Type  string
	Since time.Time
	Until time.Time
}

// Claim is one outbox entry handed to a worker; it is in_flight in the
// store until Finish records its attempt.
type Claim struct {
	Outbound
	// ScheduleAttempt counts attempts since the schedule last started
	// (creation, redrive or resolve-retry), from 1.
	ScheduleAttempt int
}

// Transition is the state a delivery moves to after an attempt.
type Transition struct {
	State   string // pending (retry), delivered, skipped, dead, needs_review
	NextAt  time.Time
	Reason  string
	Result  map[string]string
	Created *CreatedDocument // set to record a create-once document
	// PriorUnknown marks a retry after an unknown outcome, PriorUnknownAt
	// when that attempt began (kept for the next claim's Outbound).
	PriorUnknown   bool
	PriorUnknownAt time.Time
	// KeepSchedule: this attempt does not count against the retry schedule
	// (a look-up that could not settle an unknown outcome yet, or the
	// unknown attempt itself until a look-up settles it): the next claim's
	// ScheduleAttempt stays what this one's was.
	KeepSchedule bool
}

// ReplayRequest is one replay of a stored event to a sink.
type ReplayRequest struct {
	Target OutboxTarget
	// CreateOnce marks a sink that creates one document per subject
	// (AccountingPlus, OnlinePajak): when the subject already has a
	// document there, or the event's own delivery there already created
	// one, nothing is queued; the replay is recorded in the delivery's
	// history as skipped and the delivery keeps its state and result.
	CreateOnce bool
	// Operator is who asked, for the event's history.
	Operator string
}

// ReplayResult is what a replay did: one delivery queued, or one skipped
// with the reason (SPEC 3, 4.1).
type ReplayResult struct {
	Queued  int    `json:"queued"`
	Skipped int    `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// ReplaySkip returns why a replay to a create-once sink must queue nothing,
// or "" when it may queue: the subject already has a document there (cd,
// the create-once record of the sink and subject; nil when none), or the
// event's own delivery there (own, nil when none) is delivered with a
// document number. Both backends decide with it, so they answer alike.
func ReplaySkip(r ReplayRequest, cd *CreatedDocument, own *DeliveryState) string {
	if !r.CreateOnce {
		return ""
	}
	if cd != nil {
		doc := cd.DocumentNumber
		if doc == "" {
			doc = "-"
		}
		return fmt.Sprintf("document %s already created for %s by event %s; the replay sent nothing", doc, cd.Subject, cd.EventID)
	}
	if own != nil && own.State == StateDelivered {
		doc := own.Result["document_number"]
		if doc == "" {
			doc = own.Result["invoice_number"]
		}
		if doc != "" {
			return fmt.Sprintf("document %s already created by this event; the replay sent nothing", doc)
		}
	}
	return ""
}

// SkipReplay records a skipped replay in a delivery's history (the
// delivery's state, attempts and result stay as they are) and returns the
// operator action to record with it. maxHistory bounds the history kept.
func SkipReplay(ds *DeliveryState, r ReplayRequest, reason string, now time.Time, maxHistory int) HistoryEntry {
	ds.History = AppendAttempt(ds.History, Attempt{At: now.UTC(), Outcome: OutcomeSkipped.String(), Error: reason}, maxHistory)
	ds.UpdatedAt = now.UTC()
	return HistoryEntry{At: now.UTC(), Operator: r.Operator, Action: "replay:skipped", Sink: r.Target.Sink, Detail: reason}
}

// PurgeResult counts what retention removed.
type PurgeResult struct {
	Events int
	Done   bool // nothing older remains that could be removed
}

// Store is the relay's durable state: deliveries, events, the dedup index,
// the per-sink outbox, dead letters and create-once records. Every method is
// safe for concurrent use. Implementations: store (bbolt) and, for
// multi-replica deployments, a NATS JetStream backend; both pass the
// contract suite in store/storetest.
type Store interface {
	// Ingest commits a new event, or records a duplicate, durably (fsynced)
	// before it returns. Duplicates create no outbox entries.
	Ingest(ctx context.Context, e *NewEvent) (IngestStatus, error)

	ListEvents(ctx context.Context, f EventFilter) (EventPage, error)
	GetEvent(ctx context.Context, id string) (*EventDetail, error)
	Stats(ctx context.Context, now time.Time) (Stats, error)

	// ClaimDue marks up to max due entries of sink in_flight and returns
	// them, with the due time of the next entry not yet due (zero if none).
	ClaimDue(ctx context.Context, sink string, now time.Time, max int) ([]Claim, time.Time, error)
	// Finish records an attempt of a claimed entry and its transition.
	Finish(ctx context.Context, sink, eventID string, a Attempt, t Transition) error
	// ResumeInFlight handles entries left in_flight by a crash: to
	// needs_review when review is set (unknown outcome at a non-idempotent
	// sink), else back to pending, due at now, marked PriorUnknown.
	ResumeInFlight(ctx context.Context, sink string, review bool, now time.Time) (int, error)

	ListDeadLetters(ctx context.Context, f DeadLetterFilter) (DeadLetterPage, error)
	// Redrive moves the selected dead deliveries back to pending (event id
	// kept, fresh schedule) and returns how many.
	Redrive(ctx context.Context, r Redrive, now time.Time) (int, error)
	// Replay queues a new delivery of a stored event to a sink, unless the
	// sink is create-once and the event's subject already has a document
	// there: then it queues nothing, leaves the delivery's state and result
	// as they are and records the replay in its history as skipped. The
	// check and the write are one atomic step against concurrent writers.
	Replay(ctx context.Context, eventID string, r ReplayRequest, now time.Time) (ReplayResult, error)
	// Resolve settles a needs_review delivery.
	Resolve(ctx context.Context, eventID string, r Resolution, now time.Time) error

	// Export calls fn for each stored delivery matching f, oldest first.
	Export(ctx context.Context, f ExportFilter, fn func(*ExportRecord) error) error
	// Import stores one exported delivery unless its id exists (false).
	Import(ctx context.Context, e *NewEvent) (bool, error)
	// Backup writes a consistent copy of the whole store to w: the bbolt
	// database file (tx.WriteTo). A backend whose backup is something else
	// (NATS: an export-format NDJSON snapshot) also implements
	// BackupContentType() string.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// Purge removes up to max finished events received before cutoff.
	Purge(ctx context.Context, cutoff time.Time, max int) (PurgeResult, error)

	Close() error
}
