package httpapi

// The request and response bodies of the admin API that are not relay
// types, shared by the handlers (admin.go) and the Client. Lists, event
// details and the replay result are relay.EventPage, relay.EventDetail,
// relay.DeadLetterPage and relay.ReplayResult; a resolve takes a
// relay.Resolution and a redrive a relay.Redrive.

// ReplayRequest is the body of POST /v1/events/{id}/replay.
type ReplayRequest struct {
	Sink string `json:"sink"`
}

// ResolveResponse answers POST /v1/events/{id}/resolve.
type ResolveResponse struct {
	Resolved bool   `json:"resolved"`
	EventID  string `json:"event_id"`
	Sink     string `json:"sink"`
	Outcome  string `json:"outcome"`
}

// RedriveResponse answers POST /v1/dead-letters/redrive.
type RedriveResponse struct {
	Redriven int `json:"redriven"`
}

// ImportResponse answers POST /v1/import.
type ImportResponse struct {
	Imported int `json:"imported"`
	Skipped  int `json:"skipped"`
}

// ErrorResponse is the JSON body of every error answer.
type ErrorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}
