package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/tagihanai"
)

// sentOrLater are the invoice states that promise a document (SPEC 7:
// SENT, VIEWED, PARTIAL/PAID, OVERDUE).
var sentOrLater = map[string]bool{"SENT": true, "VIEWED": true, "PARTIAL": true, "PARTIALLY_PAID": true, "PAID": true, "OVERDUE": true}

// Reconcile compares what TagihanAI shows for the source since now-window
// with what the relay holds, and with fix backfills each invoice a
// create-once sink lacks through the normal outbox.
func (m *Manager) Reconcile(ctx context.Context, name string, window time.Duration, fix bool) (relay.ReconcileReport, error) {
	now := m.opts.Now().UTC()
	if window <= 0 {
		window = relay.DefaultReconcileWindow
	}
	rep := relay.ReconcileReport{Source: name, Since: now.Add(-window), Until: now, Gaps: []relay.Gap{}, Fix: fix}
	cur, err := m.openCurrent(ctx, name)
	if err != nil {
		return rep, err
	}
	if cur == nil {
		return rep, relay.Errorf(relay.ENOTFOUND, "no source %q", name)
	}
	if cur.TagihanAI == nil || cur.TagihanAI.APIKey == "" {
		return rep, relay.Errorf(relay.EINVALID, "source %q has no TagihanAI API key: run `tagihan-relay connect %s --api-key ...` first", name, name)
	}
	api := m.client(cur.TagihanAI.APIKey, cur.TagihanAI.APIBaseURL)
	if id := cur.TagihanAI.WebhookID; id != "" {
		if err := m.undelivered(ctx, api, name, id, &rep); err != nil {
			return rep, err
		}
	}
	if err := m.missingDocuments(ctx, api, name, &rep); err != nil {
		return rep, err
	}
	if fix {
		if err := m.backfill(ctx, api, name, &rep); err != nil {
			return rep, err
		}
	}
	m.remember(rep)
	return rep, nil
}

// undelivered reports the deliveries TagihanAI gave up on (failed or dead
// letter in its log, since rep.Since) whose event the relay never stored.
// An entry without an event id can only be checked when it is a dead
// letter (TagihanAI will retry a failed one): it is reported with that
// said.
func (m *Manager) undelivered(ctx context.Context, api *tagihanai.Client, name, webhookID string, rep *relay.ReconcileReport) error {
	seen := map[string]bool{}
	for _, status := range []string{"dead_letter", "failed"} { // a dead letter says more: TagihanAI gave up
		err := api.WebhookDeliveries(ctx, webhookID, status, func(d tagihanai.WebhookDelivery) error {
			if d.CreatedAt.Before(rep.Since) {
				return nil
			}
			rep.Checked.Deliveries++
			key := d.EventID
			if key == "" {
				key = "delivery:" + d.ID
			}
			if seen[key] {
				return nil
			}
			seen[key] = true
			gap := relay.Gap{Kind: relay.GapUndelivered, TransactionID: d.TransactionID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
				Detail: fmt.Sprintf("TagihanAI's delivery %s of %s at %s ended %s (HTTP %d, attempt %d)", d.ID, d.EventType,
					d.CreatedAt.UTC().Format(time.RFC3339), d.Status, d.ResponseStatus, d.AttemptNumber)}
			if d.EventID == "" {
				if d.Status != "dead_letter" {
					return nil
				}
				gap.Detail += "; its log names no event id, so the relay cannot tell whether it stored it"
				rep.Gaps = append(rep.Gaps, gap)
				return nil
			}
			stored, err := m.stored(ctx, name, d.EventID)
			if err != nil || stored {
				return err // stored after all (a later retry, or another replica)
			}
			if d.EventType == "transaction.sent" && d.TransactionID != "" {
				// A lost transaction.sent that an earlier --fix backfilled
				// is closed: its document is on its way or made.
				if stored, err := m.stored(ctx, name, backfillID(d.TransactionID)); err != nil || stored {
					return err
				}
			}
			gap.Detail += "; the relay never stored event " + d.EventID
			rep.Gaps = append(rep.Gaps, gap)
			return nil
		})
		if err != nil {
			return apiError(name, "read the delivery log", err)
		}
	}
	return nil
}

// stored reports whether the relay holds the source's event id.
func (m *Manager) stored(ctx context.Context, source, id string) (bool, error) {
	_, err := m.opts.Events.GetEvent(ctx, relay.SourceEventID(source, id))
	if errors.Is(err, relay.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// backfillID is the id of the event reconcile queues for a transaction.
func backfillID(txID string) string { return "reconcile:" + txID + ":sent" }

// documentSinks are the source's create-once sinks that want
// transaction.sent: the ones an invoice must have a document at.
func (m *Manager) documentSinks(name string) []*relay.SinkSpec {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.running[name]
	if r == nil {
		return nil
	}
	var out []*relay.SinkSpec
	for _, s := range r.specs {
		if s.CreateOnce && s.Route.Matches("transaction.sent", false) {
			out = append(out, s)
		}
	}
	return out
}

// missingDocuments reports each invoice TagihanAI shows sent or later
// (since rep.Since) that a create-once sink of the source has no document
// for.
func (m *Manager) missingDocuments(ctx context.Context, api *tagihanai.Client, name string, rep *relay.ReconcileReport) error {
	specs := m.documentSinks(name)
	if len(specs) == 0 {
		return nil
	}
	q := tagihanai.TransactionQuery{Type: "INVOICE", DateFrom: rep.Since.Format("2006-01-02")}
	err := api.Transactions(ctx, q, func(tx tagihanai.TransactionSummary) error {
		rep.Checked.Transactions++
		if !sentOrLater[strings.ToUpper(tx.Status)] && !sentOrLater[strings.ToUpper(tx.PaymentStatus)] {
			return nil
		}
		for _, s := range specs {
			has, err := m.hasDocument(ctx, name, s.Name, tx.ID)
			if err != nil {
				return err
			}
			if has {
				continue
			}
			_, sink := relay.SinkSource(s.Name)
			rep.Gaps = append(rep.Gaps, relay.Gap{Kind: relay.GapMissingDocument, TransactionID: tx.ID, DocumentNumber: tx.DocumentNumber,
				Status: tx.Status, Sink: sink, Detail: fmt.Sprintf("TagihanAI shows %s %s; %s has no document for it", tx.DocumentNumber, tx.Status, sink)})
		}
		return nil
	})
	if err != nil {
		var re *relay.Error
		if errors.As(err, &re) {
			return err
		}
		return apiError(name, "list transactions", err)
	}
	return nil
}

// hasDocument reports whether the create-once sink (its outbox name) has
// a document for the transaction, or a delivery on its way to making one
// (pending, in flight, or waiting for an operator): only a transaction
// with neither is a gap.
func (m *Manager) hasDocument(ctx context.Context, source, sink, txID string) (bool, error) {
	f := relay.EventFilter{Subject: txID, Source: source, Limit: 100}
	for {
		page, err := m.opts.Events.ListEvents(ctx, f)
		if err != nil {
			return false, err
		}
		for _, e := range page.Events {
			ev, err := m.opts.Events.GetEvent(ctx, e.ID)
			if errors.Is(err, relay.ErrNotFound) {
				continue
			}
			if err != nil {
				return false, err
			}
			for _, c := range ev.Created {
				if c.Sink == sink {
					return true, nil
				}
			}
			for _, d := range ev.Deliveries {
				if d.Sink != sink {
					continue
				}
				switch d.State {
				case relay.StateDelivered, relay.StatePending, relay.StateInFlight, relay.StateNeedsReview:
					return true, nil
				}
			}
		}
		if page.NextCursor == "" {
			return false, nil
		}
		f.Cursor = page.NextCursor
	}
}

// backfill queues, for each transaction with a missing document, a
// transaction.sent event built from GET /transactions/:id, id
// reconcile:<transaction id>:sent, routed only to the sinks that lack the
// document. The id makes a second run a duplicate and the create-once
// record makes a delivered one a skip: nothing is created twice. A
// transaction the sinks could not map (no line items, no customer) stays
// a gap, with the reason.
func (m *Manager) backfill(ctx context.Context, api *tagihanai.Client, name string, rep *relay.ReconcileReport) error {
	lacking := map[string][]int{} // transaction → its gaps
	var order []string
	for i, g := range rep.Gaps {
		if g.Kind != relay.GapMissingDocument {
			continue
		}
		if _, ok := lacking[g.TransactionID]; !ok {
			order = append(order, g.TransactionID)
		}
		lacking[g.TransactionID] = append(lacking[g.TransactionID], i)
	}
	m.mu.Lock()
	r := m.running[name]
	var recv *relay.Receiver
	if r != nil {
		recv = m.receiver(r)
	}
	m.mu.Unlock()
	if recv == nil {
		return relay.Errorf(relay.EUNAVAILABLE, "source %q is not served here", name)
	}
	for _, txID := range order {
		gaps := lacking[txID]
		data, err := api.Transaction(ctx, txID)
		if err != nil {
			if errors.Is(err, tagihanai.ErrUnauthorized) {
				return apiError(name, "read transaction "+txID, err)
			}
			for _, i := range gaps {
				rep.Gaps[i].Detail += "; not backfilled: " + err.Error()
			}
			continue
		}
		if why := unmappable(data); why != "" {
			for _, i := range gaps {
				rep.Gaps[i].Detail += "; not backfilled: " + why
			}
			continue
		}
		body, err := json.Marshal(map[string]any{"id": backfillID(txID), "type": "transaction.sent",
			"created_at": m.opts.Now().UTC().Format(time.RFC3339Nano), "reconciled": true, "data": data})
		if err != nil {
			return err
		}
		d := relay.Delivery{ReceivedAt: m.opts.Now().UTC(), Headers: map[string]string{"Content-Type": "application/json", "X-Relay-Reconciled": "true"}, Body: body}
		e := recv.Prepare(d, true)
		want := map[string]bool{}
		for _, i := range gaps {
			want[relay.SourceSinkName(name, rep.Gaps[i].Sink)] = true
		}
		targets := e.Targets[:0]
		for _, t := range e.Targets {
			if want[t.Sink] {
				targets = append(targets, t)
			}
		}
		e.Targets = targets
		status, err := m.opts.Events.Ingest(ctx, e)
		if err != nil {
			return err
		}
		if status == relay.IngestAccepted {
			rep.Backfilled++
			if m.opts.Notify != nil {
				sinks := make([]string, len(targets))
				for i, t := range targets {
					sinks[i] = t.Sink
				}
				m.opts.Notify(sinks)
			}
		}
		for i := range rep.Gaps {
			if g := &rep.Gaps[i]; g.Kind == relay.GapUndelivered && g.TransactionID == txID && g.EventType == "transaction.sent" {
				g.Fixed = true
				g.Detail += "; closed by the backfill " + e.ID
			}
		}
		for _, i := range gaps {
			rep.Gaps[i].Fixed = true
			if status == relay.IngestDuplicate {
				rep.Gaps[i].Detail += "; already queued by an earlier reconcile (" + e.ID + ")"
			} else {
				rep.Gaps[i].Detail += "; backfilled as " + e.ID
			}
		}
	}
	return nil
}

// unmappable says why a transaction cannot become a document (no line
// items, no customer); "" when it can.
func unmappable(data json.RawMessage) string {
	var tx struct {
		LineItems    []json.RawMessage `json:"line_items"`
		ReceiverName string            `json:"receiver_name"`
		Customer     json.RawMessage   `json:"customer"`
		Party        json.RawMessage   `json:"party"`
		Counterparty json.RawMessage   `json:"counterparty"`
	}
	if err := json.Unmarshal(data, &tx); err != nil {
		return "TagihanAI's transaction is not a JSON object"
	}
	var missing []string
	if len(tx.LineItems) == 0 {
		missing = append(missing, "no line items")
	}
	if tx.ReceiverName == "" && isNull(tx.Customer) && isNull(tx.Party) && isNull(tx.Counterparty) {
		missing = append(missing, "no customer")
	}
	return strings.Join(missing, ", ")
}

func isNull(b json.RawMessage) bool {
	s := strings.TrimSpace(string(b))
	return s == "" || s == "null" || s == "{}"
}

// reports keeps the last report of each source, for the console.
type reports struct {
	mu   sync.Mutex
	last map[string]relay.ReconcileReport
}

func (m *Manager) remember(r relay.ReconcileReport) {
	m.reports.mu.Lock()
	defer m.reports.mu.Unlock()
	if m.reports.last == nil {
		m.reports.last = map[string]relay.ReconcileReport{}
	}
	m.reports.last[r.Source] = r
}

// LastReports returns the last reconcile report of each source, by name.
func (m *Manager) LastReports() []relay.ReconcileReport {
	m.reports.mu.Lock()
	defer m.reports.mu.Unlock()
	out := make([]relay.ReconcileReport, 0, len(m.reports.last))
	for _, r := range m.reports.last {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// LastReport returns the last reconcile report of the source.
func (m *Manager) LastReport(name string) (relay.ReconcileReport, bool) {
	m.reports.mu.Lock()
	defer m.reports.mu.Unlock()
	r, ok := m.reports.last[name]
	return r, ok
}

// Schedule is the background reconcile (RELAY_RECONCILE_INTERVAL).
type Schedule struct {
	Interval, Window time.Duration
	Fix              bool
	// Observe is told each run's report or error (metrics, logs).
	Observe func(source string, rep relay.ReconcileReport, err error)
}

// Connected lists the sources reconcile can run for: served here, not
// deleted, with a TagihanAI API key.
func (m *Manager) Connected() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name, r := range m.running {
		if r.sealed.DeletedAt == nil && r.src.TagihanAI != nil && r.src.TagihanAI.APIKey != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// RunReconcile reconciles every connected source each Interval until stop
// is called (which waits for the run in progress to end).
func (m *Manager) RunReconcile(s Schedule) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, name := range m.Connected() {
				if ctx.Err() != nil {
					return
				}
				rep, err := m.Reconcile(ctx, name, s.Window, s.Fix)
				if s.Observe != nil && ctx.Err() == nil {
					s.Observe(name, rep, err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
