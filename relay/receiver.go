package relay

import "context"

// Receiver turns a verified Delivery into a stored event: it reads the
// envelope, normalizes it, routes it to sinks and commits everything in one
// Store.Ingest. It is the single place ingest semantics live; the HTTP
// handler and import both call it.
type Receiver struct {
	Store  Store
	Routes []Route
	// Source is the CloudEvents source attribute of the events it makes.
	Source string
	// SourceName is the relay source (SPEC 6) it receives for; "" is
	// DefaultSource. Another source's events are stored under
	// SourceEventID, so the same TagihanAI id in two workspaces is two
	// events; the CloudEvent's id stays TagihanAI's.
	SourceName string
	// Notify, when set, is called with the sinks that got new outbox
	// entries, after the commit.
	Notify func(sinks []string)
}

// Receipt is what Receive did.
type Receipt struct {
	ID     string
	Status IngestStatus
	Type   string
	Test   bool
	Sinks  []string
}

// Prepare builds the NewEvent for a delivery without storing it: the event
// id, the normalized CloudEvent and the outbox targets (none when route is
// false).
func (r *Receiver) Prepare(d Delivery, route bool) *NewEvent {
	env, err := ReadEnvelope(d.Body, d.Header)
	e := &NewEvent{ID: SourceEventID(r.SourceName, env.ID), Delivery: d, Source: r.SourceName}
	if err != nil {
		e.Unparsed = true
		e.ParseError = err.Error()
		return e
	}
	e.Type = env.Type
	e.Subject = env.Subject
	e.Test = env.Test
	e.DocumentNumber = env.DocumentNumber
	e.Counterparty = env.Counterparty
	e.TransactionID = env.TransactionID
	e.Event, e.EventDataOffset = Normalize(env, d.ReceivedAt, r.Source).appendJSON(make([]byte, 0, 320+len(env.Resource)))
	if route {
		for _, rt := range r.Routes {
			if rt.Matches(env.Type, env.Test) {
				e.Targets = append(e.Targets, rt.Target(env.Subject))
			}
		}
	}
	return e
}

// Target is the outbox entry this route makes for an event of subject.
func (r Route) Target(subject string) OutboxTarget {
	t := OutboxTarget{Sink: r.Sink}
	if r.OrderBySubject {
		t.OrderKey = subject
	}
	return t
}

// Receive stores a delivery (durably, before it returns) and reports what
// happened. Any error means the delivery was not stored and the sender
// should retry: it is an EUNAVAILABLE *Error whose message is the answer
// to give and whose Err is the store's error, for the log.
func (r *Receiver) Receive(ctx context.Context, d Delivery) (Receipt, error) {
	e := r.Prepare(d, true)
	status, err := r.Store.Ingest(ctx, e)
	rc := Receipt{ID: e.ID, Status: status, Type: e.Type, Test: e.Test}
	if err != nil {
		return rc, &Error{Code: EUNAVAILABLE, Message: "could not store the delivery; retry later", Err: err}
	}
	if status == IngestAccepted && len(e.Targets) > 0 {
		rc.Sinks = make([]string, len(e.Targets))
		for i, t := range e.Targets {
			rc.Sinks[i] = t.Sink
		}
		if r.Notify != nil {
			r.Notify(rc.Sinks)
		}
	}
	return rc, nil
}

// RouteFor returns the route of a sink by name.
func RouteFor(routes []Route, sink string) (Route, bool) {
	for _, r := range routes {
		if r.Sink == sink {
			return r, true
		}
	}
	return Route{}, false
}
