package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Operations are the operator's actions and queries, shared by the admin
// API, the console and the CLI's offline mode: one implementation, so every
// door does the same thing and records it the same way.
type Operations struct {
	Store    Store
	Receiver *Receiver
	// Notify wakes sinks after entries become due (replay, redrive, resolve).
	Notify func(sinks []string)
	Now    func() time.Time
	// Sources manages the run-time sources (SPEC 6); nil when the relay
	// has none to manage (offline commands).
	Sources SourceAdmin
	// SourceRoutes returns the run-time sources' routes, so replay and
	// redrive reach their sinks too; nil: none.
	SourceRoutes func() []Route
	// Sync connects sources to TagihanAI and reconciles them (SPEC 7);
	// nil: not available.
	Sync SourceSync
	// SourceReceiver returns the receiver of a run-time source (import of
	// its records), nil when it is not served; nil: none.
	SourceReceiver func(name string) *Receiver
}

func (o *Operations) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Operations) notify(sinks ...string) {
	if o.Notify != nil && len(sinks) > 0 {
		o.Notify(sinks)
	}
}

// routes returns every configured route: the environment's and the
// run-time sources'.
func (o *Operations) routes() []Route {
	if o.SourceRoutes == nil {
		return o.Receiver.Routes
	}
	return append(slices.Clip(o.Receiver.Routes), o.SourceRoutes()...)
}

// route returns the configured route of sink or an EINVALID error.
func (o *Operations) route(sink string) (Route, error) {
	if sink == "" {
		return Route{}, Errorf(EINVALID, "sink: required")
	}
	r, ok := RouteFor(o.routes(), sink)
	if !ok {
		return Route{}, Errorf(EINVALID, "sink: %q is not a configured sink", sink)
	}
	return r, nil
}

// knownSink accepts a configured sink, or one the store still holds
// deliveries of (a sink since removed from the configuration), so a typo
// is an error instead of an empty list.
func (o *Operations) knownSink(ctx context.Context, sink string) error {
	routes := o.routes()
	if _, ok := RouteFor(routes, sink); ok {
		return nil
	}
	st, err := o.Store.Stats(ctx, o.now())
	if err != nil {
		return err
	}
	if _, ok := st.Sinks[sink]; ok {
		return nil
	}
	names := make([]string, 0, len(o.Receiver.Routes))
	for _, r := range o.Receiver.Routes {
		names = append(names, r.Sink)
	}
	if len(routes) > len(names) {
		names = append(names, fmt.Sprintf("and %d sinks of run-time sources", len(routes)-len(names)))
	}
	return Errorf(EINVALID, "sink: %q is not a configured sink (configured: %s)", sink, strings.Join(names, ", "))
}

// ListEvents lists events.
func (o *Operations) ListEvents(ctx context.Context, f EventFilter) (EventPage, error) {
	if err := CheckSourceFilter(f.Source); err != nil {
		return EventPage{}, err
	}
	return o.Store.ListEvents(ctx, f)
}

// GetEvent returns one event with its deliveries.
func (o *Operations) GetEvent(ctx context.Context, id string) (*EventDetail, error) {
	return o.Store.GetEvent(ctx, id)
}

// Stats summarizes events and sinks.
func (o *Operations) Stats(ctx context.Context) (Stats, error) {
	st, err := o.Store.Stats(ctx, o.now())
	if err != nil {
		return st, err
	}
	// Configured sinks appear even before their first delivery.
	for _, r := range o.routes() {
		if _, ok := st.Sinks[r.Sink]; !ok {
			st.Sinks[r.Sink] = SinkStats{}
		}
	}
	return st, nil
}

// ListDeadLetters lists dead and needs-review deliveries.
func (o *Operations) ListDeadLetters(ctx context.Context, f DeadLetterFilter) (DeadLetterPage, error) {
	if f.State != "" && f.State != StateDead && f.State != StateNeedsReview {
		return DeadLetterPage{}, Errorf(EINVALID, "state: must be dead or needs_review")
	}
	if err := CheckSourceFilter(f.Source); err != nil {
		return DeadLetterPage{}, err
	}
	if f.Sink != "" {
		if err := o.knownSink(ctx, f.Sink); err != nil {
			return DeadLetterPage{}, err
		}
	}
	return o.Store.ListDeadLetters(ctx, f)
}

// Replay queues a new delivery of a stored event to a configured sink. At
// a create-once sink whose subject already has a document it queues
// nothing and says so (Skipped, Reason): a replay never erases what a
// delivery achieved.
func (o *Operations) Replay(ctx context.Context, id, sink, operator string) (ReplayResult, error) {
	r, err := o.route(sink)
	if err != nil {
		return ReplayResult{}, err
	}
	ev, err := o.Store.GetEvent(ctx, id)
	if err != nil {
		return ReplayResult{}, err
	}
	if src, _ := SinkSource(sink); src != EventSource(ev.Source) {
		return ReplayResult{}, Errorf(EINVALID, "sink: %q belongs to source %q, and event %s to source %q: a replay stays in its workspace",
			sink, src, id, EventSource(ev.Source))
	}
	res, err := o.Store.Replay(ctx, id, ReplayRequest{Target: r.Target(ev.Subject), CreateOnce: r.CreateOnce, Operator: operator}, o.now())
	if err != nil {
		return ReplayResult{}, err
	}
	if res.Queued > 0 {
		o.notify(sink)
	}
	return res, nil
}

// Redrive moves dead deliveries back to pending.
func (o *Operations) Redrive(ctx context.Context, req Redrive, operator string) (int, error) {
	if req.Empty() {
		return 0, Errorf(EINVALID, "redrive: give ids, sink, type or all")
	}
	if req.Sink != "" {
		if _, err := o.route(req.Sink); err != nil {
			return 0, err
		}
	}
	if req.Type != "" && !ValidGlob(req.Type) {
		return 0, Errorf(EINVALID, "type: %q is not a valid glob", req.Type)
	}
	// Unknown ids are an error, not "redriven: 0": a typo must not look
	// like "nothing was dead".
	var missing []string
	for _, id := range req.IDs {
		if _, err := o.Store.GetEvent(ctx, id); ErrorCode(err) == ENOTFOUND {
			missing = append(missing, id)
		} else if err != nil {
			return 0, err
		}
	}
	if len(missing) > 0 {
		return 0, Errorf(ENOTFOUND, "ids: no event %s", strings.Join(missing, ", "))
	}
	req.Operator = operator
	n, err := o.Store.Redrive(ctx, req, o.now())
	if n > 0 {
		routes := o.routes()
		sinks := make([]string, 0, len(routes))
		for _, r := range routes {
			sinks = append(sinks, r.Sink)
		}
		o.notify(sinks...)
	}
	return n, err
}

// Resolve settles a needs_review delivery.
func (o *Operations) Resolve(ctx context.Context, id string, res Resolution, operator string) error {
	if res.Sink == "" {
		return Errorf(EINVALID, "sink: required")
	}
	if res.Outcome != "delivered" && res.Outcome != "retry" {
		return Errorf(EINVALID, "outcome: must be \"delivered\" or \"retry\"")
	}
	res.Operator = operator
	if err := o.Store.Resolve(ctx, id, res, o.now()); err != nil {
		return err
	}
	// Retry makes the delivery due; delivered makes the next queued event
	// of its subject due (subject ordering). Either way the sink must look.
	o.notify(res.Sink)
	return nil
}

// Import stores one exported delivery (skipped when its id exists), routed
// to sinks only when route is set. The CloudEvent, routing, subject and
// search fields are rebuilt from the raw body and receive time, exactly as
// ingest built them (the export's "event" is compacted JSON, so it is not
// stored); with the same RELAY_SOURCE the event comes out byte for byte.
func (o *Operations) Import(ctx context.Context, rec *ExportRecord, route bool) (bool, error) {
	if err := rec.Validate(); err != nil {
		return false, err
	}
	d := Delivery{ReceivedAt: rec.ReceivedAt, Headers: rec.Headers, Body: rec.BodyBase64}
	if d.Headers == nil {
		d.Headers = map[string]string{}
	}
	recv, err := o.importReceiver(rec, route)
	if err != nil {
		return false, err
	}
	e := recv.Prepare(d, route)
	if e.ID != rec.ID {
		// The id is the record's (it may have come from a header fallback).
		e.ID = rec.ID
	}

	ok, err := o.Store.Import(ctx, e)
	if err == nil && ok && len(e.Targets) > 0 {
		sinks := make([]string, len(e.Targets))
		for i, t := range e.Targets {
			sinks[i] = t.Sink
		}
		o.notify(sinks...)
	}
	return ok, err
}

// importReceiver is the receiver of the record's source: the
// environment's, or a run-time source's (its routes and names). A record
// of a source this relay does not serve keeps its source but can only be
// imported without routing.
func (o *Operations) importReceiver(rec *ExportRecord, route bool) (*Receiver, error) {
	src := StoredSource(rec.Source)
	if src == "" {
		return o.Receiver, nil
	}
	if err := CheckSourceName(src); err != nil {
		return nil, err
	}
	if o.SourceReceiver != nil {
		if r := o.SourceReceiver(src); r != nil {
			return r, nil
		}
	}
	if route {
		return nil, Errorf(EINVALID, "source %q of %s is not served here: apply the source first, or import without routing", src, rec.ID)
	}
	return &Receiver{Store: o.Store, Source: o.Receiver.Source + "/" + src, SourceName: src}, nil
}

// importWorkers is how many imports run at once: concurrent writes share
// group commits, so a large import costs a few fsyncs per batch instead of
// one per delivery.
const importWorkers = 32

// ImportMany imports records concurrently and returns how many were
// imported and skipped (already present). It stops at the first error.
func (o *Operations) ImportMany(ctx context.Context, recs []*ExportRecord, route bool) (imported, skipped int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan *ExportRecord)
	for w := 0; w < importWorkers && w < len(recs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rec := range next {
				ok, ierr := o.Import(ctx, rec, route)
				mu.Lock()
				switch {
				case ierr != nil && err == nil:
					err = fmt.Errorf("import %s: %w", rec.ID, ierr)
					cancel()
				case ierr == nil && ok:
					imported++
				case ierr == nil:
					skipped++
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, rec := range recs {
		select {
		case next <- rec:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return imported, skipped, err
}

// Validate checks what an import needs of a record.
func (r *ExportRecord) Validate() error {
	if r.ID == "" {
		return Errorf(EINVALID, "id: required")
	}
	if r.ReceivedAt.IsZero() {
		return Errorf(EINVALID, "received_at: required")
	}
	return nil
}

// ParseExportRecord decodes one NDJSON line of an export.
func ParseExportRecord(line []byte) (*ExportRecord, error) {
	var r ExportRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, Errorf(EINVALID, "import line: %v", err)
	}
	return &r, nil
}

// Export calls fn for each stored delivery matching f, oldest first.
func (o *Operations) Export(ctx context.Context, f ExportFilter, fn func(*ExportRecord) error) error {
	return o.Store.Export(ctx, f, fn)
}

// Backup writes a consistent copy of the whole store to w (see
// Store.Backup) and returns the bytes written.
func (o *Operations) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return o.Store.Backup(ctx, w)
}
