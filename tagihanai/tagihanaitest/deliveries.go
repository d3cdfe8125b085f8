package tagihanaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// Delivery statuses of the delivery log.
const (
	StatusSuccess    = "success"
	StatusFailed     = "failed"
	StatusDeadLetter = "dead_letter"
)

// TestEventType is the type of the synthetic test event POST
// /webhooks/:id/test posts; its body also says "test": true.
const TestEventType = "webhook.test"

// GiveUpAttempts is how many attempts GiveUp records: all failed, the last
// a dead letter.
const GiveUpAttempts = 5

// Delivery is one entry of a subscription's delivery log: one attempt to
// deliver an event.
type Delivery struct {
	ID             string
	EventType      string
	Status         string // StatusSuccess, StatusFailed or StatusDeadLetter
	ResponseStatus int    // 0 when the endpoint did not answer
	ResponseTimeMS int
	AttemptNumber  int
	CreatedAt      time.Time
	// EventID is the delivered body's id and TransactionID the transaction
	// it is about (data.id of a transaction.* event, data.transaction_id of
	// a payment). The reference's example has neither; the fake sends them
	// unless HideDeliveryIDs.
	EventID       string
	TransactionID string
	// Body is what was posted, nil when nothing was.
	Body []byte
}

type deliveryJSON struct {
	ID             string `json:"id"`
	EventType      string `json:"event_type"`
	Status         string `json:"status"`
	ResponseStatus int    `json:"response_status"`
	ResponseTimeMS int    `json:"response_time_ms"`
	AttemptNumber  int    `json:"attempt_number"`
	CreatedAt      string `json:"created_at"`
	EventID        string `json:"event_id,omitempty"`
	TransactionID  string `json:"transaction_id,omitempty"`
}

// HideDeliveryIDs makes GET /webhooks/:id/deliveries answer without
// event_id and transaction_id, exactly as the reference's example does.
func (s *Server) HideDeliveryIDs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hideDeliveryIDs = true
}

// PaginateDeliveries makes GET /webhooks/:id/deliveries answer with a
// pagination object, as GET /transactions does. By default it has none:
// the reference shows none, so a client knows the last page only by its
// being short.
func (s *Server) PaginateDeliveries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveryPagination = true
}

// Deliveries returns subscription id's delivery log, oldest first.
func (s *Server) Deliveries(id string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logs[id])
}

// AddDelivery records d in subscription id's log without posting anything,
// filling in ID, CreatedAt (now) and AttemptNumber (1) when zero, and
// returns the entry. It fails the test when the subscription does not
// exist or d.Status is not a log status.
func (s *Server) AddDelivery(id string, d Delivery) Delivery {
	s.tb.Helper()
	if d.Status != StatusSuccess && d.Status != StatusFailed && d.Status != StatusDeadLetter {
		s.errorf("AddDelivery: status %q is not success, failed or dead_letter", d.Status)
		return Delivery{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subLocked(id)
	if sub == nil {
		s.errorf("AddDelivery: no subscription %q", id)
		return Delivery{}
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = s.now()
	}
	if d.AttemptNumber == 0 {
		d.AttemptNumber = 1
	}
	return s.recordLocked(sub, d)
}

// recordLocked appends d to sub's log and updates sub's counters.
func (s *Server) recordLocked(sub *Subscription, d Delivery) Delivery {
	if d.ID == "" {
		d.ID = newUUID()
	}
	d.CreatedAt = d.CreatedAt.UTC().Truncate(time.Second)
	d.Body = slices.Clone(d.Body)
	s.logs[sub.ID] = append(s.logs[sub.ID], d)
	if d.Status == StatusSuccess {
		sub.ConsecutiveFailures = 0
	} else {
		sub.ConsecutiveFailures++
	}
	if d.CreatedAt.After(sub.LastDeliveryAt) {
		sub.LastDeliveryAt = d.CreatedAt
	}
	return d
}

// GiveUp records that TagihanAI tried to deliver body (an event of
// eventType) to subscription id and gave up, as when the relay was down:
// GiveUpAttempts entries a minute apart, ending now, without response
// status, failed and the last dead_letter, with the body's event and
// transaction ids. Nothing is posted. It returns the entries.
func (s *Server) GiveUp(id, eventType string, body []byte) []Delivery {
	s.tb.Helper()
	eventID, txID := bodyIDs(eventType, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subLocked(id)
	if sub == nil {
		s.errorf("GiveUp: no subscription %q", id)
		return nil
	}
	now := s.now()
	out := make([]Delivery, 0, GiveUpAttempts)
	for n := 1; n <= GiveUpAttempts; n++ {
		status := StatusFailed
		if n == GiveUpAttempts {
			status = StatusDeadLetter
		}
		out = append(out, s.recordLocked(sub, Delivery{EventType: eventType, Status: status, AttemptNumber: n,
			CreatedAt: now.Add(-time.Duration(GiveUpAttempts-n) * time.Minute), EventID: eventID, TransactionID: txID}))
	}
	return out
}

// Deliver posts body, an event of eventType, to subscription id's URL,
// signed as TagihanAI signs deliveries, and records the outcome in its log
// (success on a 2xx, failed otherwise, the attempt number counting earlier
// attempts of the same event id). It fails the test when the subscription
// does not exist, is inactive or does not want eventType, or when body's
// type is not eventType.
func (s *Server) Deliver(id, eventType string, body []byte) Delivery {
	s.tb.Helper()
	if t := bodyType(body); t != "" && t != eventType {
		s.errorf("Deliver: body is of type %q, not %q", t, eventType)
		return Delivery{}
	}
	sub, ok := s.Webhook(id)
	switch {
	case !ok:
		s.errorf("Deliver: no subscription %q", id)
		return Delivery{}
	case !sub.Subscribes(eventType):
		s.errorf("Deliver: subscription %s (active %v, event types %v) does not want %s", id, sub.IsActive, sub.EventTypes, eventType)
		return Delivery{}
	}
	return s.deliver(context.Background(), sub, eventType, body)
}

// Publish delivers body, an event of eventType, to every active
// subscription that wants it, in order of creation, as TagihanAI does when
// the event happens, and returns the log entries.
func (s *Server) Publish(eventType string, body []byte) []Delivery {
	s.tb.Helper()
	var out []Delivery
	for _, sub := range s.Webhooks() {
		if sub.Subscribes(eventType) {
			out = append(out, s.deliver(context.Background(), sub, eventType, body))
		}
	}
	return out
}

// deliver posts body to sub and records the attempt.
func (s *Server) deliver(ctx context.Context, sub Subscription, eventType string, body []byte) Delivery {
	eventID, txID := bodyIDs(eventType, body)
	status, took := s.post(ctx, sub, body)
	d := Delivery{EventType: eventType, Status: StatusFailed, ResponseStatus: status, ResponseTimeMS: int(took / time.Millisecond),
		EventID: eventID, TransactionID: txID, Body: body}
	if status >= 200 && status < 300 {
		d.Status = StatusSuccess
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	live := s.subLocked(sub.ID)
	if live == nil { // deleted meanwhile
		return d
	}
	d.CreatedAt = s.now()
	d.AttemptNumber = 1
	for _, e := range s.logs[sub.ID] {
		if eventID != "" && e.EventID == eventID {
			d.AttemptNumber++
		}
	}
	return s.recordLocked(live, d)
}

// post sends one signed delivery to sub's URL and returns the status of
// the answer (0 when none came) and how long it took.
func (s *Server) post(ctx context.Context, sub Subscription, body []byte) (status int, took time.Duration) {
	s.mu.Lock()
	hc, now := s.poster, s.now
	s.mu.Unlock()
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "TagihanAI-Webhooks/1.0")
	req.Header.Set("X-TagihanAI-Signature", signature.SignatureHeader([]byte(sub.SigningSecret), ts, body))
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// testEventBody is the synthetic test event of subscription id. It says it
// is a test twice over (its type and "test": true), as the relay looks for
// either.
func testEventBody(id string, now time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"id":         "evt_test_" + randomHex(12),
		"type":       TestEventType,
		"created_at": timestamp(now),
		"test":       true,
		"data": map[string]any{
			"webhook_id": id,
			"message":    "This is a test event from TagihanAI",
		},
	})
	return b
}

func (s *Server) handleTestWebhook(w http.ResponseWriter, r *http.Request) {
	sub, ok := s.Webhook(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "not-found", "Resource does not exist in this workspace")
		return
	}
	d := s.deliver(r.Context(), sub, TestEventType, testEventBody(sub.ID, s.clock()))
	writeJSON(w, http.StatusCreated, map[string]any{"data": map[string]any{
		"success":          d.Status == StatusSuccess,
		"status_code":      d.ResponseStatus,
		"response_time_ms": d.ResponseTimeMS,
	}})
}

func (s *Server) handleListDeliveries(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && status != StatusSuccess && status != StatusFailed && status != StatusDeadLetter {
		writeError(w, http.StatusBadRequest, "bad-request", "status must be success, failed or dead_letter")
		return
	}
	page, perPage, ok := paging(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	sub := s.subLocked(id)
	var match []Delivery
	for _, d := range s.logs[id] {
		if status == "" || d.Status == status {
			match = append(match, d)
		}
	}
	hide, paginate := s.hideDeliveryIDs, s.deliveryPagination
	s.mu.Unlock()
	if sub == nil {
		writeError(w, http.StatusNotFound, "not-found", "Resource does not exist in this workspace")
		return
	}
	// Newest first; entries of the same second in reverse order of logging.
	slices.Reverse(match)
	slices.SortStableFunc(match, func(a, b Delivery) int { return b.CreatedAt.Compare(a.CreatedAt) })
	lo, hi := window(len(match), page, perPage)
	out := make([]deliveryJSON, 0, hi-lo)
	for _, d := range match[lo:hi] {
		j := deliveryJSON{ID: d.ID, EventType: d.EventType, Status: d.Status, ResponseStatus: d.ResponseStatus,
			ResponseTimeMS: d.ResponseTimeMS, AttemptNumber: d.AttemptNumber, CreatedAt: timestamp(d.CreatedAt)}
		if !hide {
			j.EventID, j.TransactionID = d.EventID, d.TransactionID
		}
		out = append(out, j)
	}
	answer := map[string]any{"data": out}
	if paginate {
		answer["pagination"] = pageInfo{Total: len(match), Page: page, PerPage: perPage, HasMore: hi < len(match)}
	}
	writeJSON(w, http.StatusOK, answer)
}

// bodyType is the "type" of a delivery body, "" when it has none.
func bodyType(body []byte) string {
	var env struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &env)
	return env.Type
}

// bodyIDs reads a delivery body's event id (id, else event_id) and the
// transaction it is about: data.transaction_id, else data.id of a
// transaction.* event.
func bodyIDs(eventType string, body []byte) (eventID, transactionID string) {
	var env struct {
		ID      string `json:"id"`
		EventID string `json:"event_id"`
		Data    struct {
			ID            string `json:"id"`
			TransactionID string `json:"transaction_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &env)
	eventID = env.ID
	if eventID == "" {
		eventID = env.EventID
	}
	transactionID = env.Data.TransactionID
	if transactionID == "" && strings.HasPrefix(eventType, "transaction.") {
		transactionID = env.Data.ID
	}
	return eventID, transactionID
}
