package tagihanaitest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// Transaction describes a transaction for AddTransaction. Every field may
// be left zero: the object is the relay/fixtures invoice of the same id
// and state (line items, customer, metadata, totals that add up), with
// these fields laid over it, then Fields.
type Transaction struct {
	ID             string // default: a random UUID
	Type           string // INVOICE (default), BILL, CREDIT_NOTE, DEBIT_NOTE
	DocumentNumber string // default: INV-<year>-<4 digits>
	DocumentDate   string // YYYY-MM-DD; default: the day of CreatedAt in Jakarta
	DueDate        string // default: 30 days after DocumentDate
	// Status is the transaction status, e.g. DRAFT, SENT, VIEWED, PARTIAL,
	// PAID, OVERDUE, CANCELLED; default SENT. The fixture of the matching
	// event gives the rest of the state (paid_amount, sent_at, ...).
	Status        string
	PaymentStatus string // UNPAID, PARTIAL, PAID; default: what Status implies
	ReceiverName  string // also counterparty_name; default PT Maju Jaya
	CreatedAt     time.Time
	// Fields are set last, at the top level of the object: any other field
	// or an override ("total": 1500000, "line_items": [...]); a nil value
	// removes the field.
	Fields map[string]any
}

// storedTx is a transaction the fake holds, numbers kept as json.Number so
// that amounts stay exact.
type storedTx struct {
	obj map[string]any
}

func (t *storedTx) str(key string) string {
	s, _ := t.obj[key].(string)
	return s
}

// statusEvents maps a status to the fixture event that leaves a
// transaction in it.
var statusEvents = map[string]string{
	"DRAFT":            "transaction.created",
	"PENDING_APPROVAL": "transaction.submitted",
	"APPROVED":         "transaction.approved",
	"REJECTED":         "transaction.rejected",
	"SENT":             "transaction.sent",
	"VIEWED":           "transaction.viewed",
	"CANCELLED":        "transaction.cancelled",
	"PARTIAL":          "transaction.partially_paid",
	"PARTIALLY_PAID":   "transaction.partially_paid",
	"PAID":             "transaction.paid",
	"OVERDUE":          "transaction.overdue",
	"DELETED":          "transaction.deleted",
}

// transactionTypes are the values of type.
var transactionTypes = []string{"INVOICE", "BILL", "CREDIT_NOTE", "DEBIT_NOTE"}

// AddTransaction stores a transaction (replacing one of the same id) and
// returns its id. GET /transactions/:id answers the whole object, GET
// /transactions the fields of the reference's list example.
func (s *Server) AddTransaction(tx Transaction) string {
	s.tb.Helper()
	status := tx.Status
	if status == "" {
		status = "SENT"
	}
	event, ok := statusEvents[status]
	if !ok {
		event = "transaction.created"
	}
	if tx.Type != "" && !slices.Contains(transactionTypes, tx.Type) {
		s.errorf("AddTransaction: type %q is not one of %v", tx.Type, transactionTypes)
	}
	created := tx.CreatedAt
	if created.IsZero() {
		created = s.clock()
	}
	body, err := fixtures.Body(event, fixtures.Options{TransactionID: tx.ID, DocumentNumber: tx.DocumentNumber, Now: created})
	if err != nil {
		s.errorf("AddTransaction: %v", err)
		return ""
	}
	var env struct {
		Data map[string]any `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		s.errorf("AddTransaction: %v", err)
		return ""
	}
	obj := env.Data
	obj["status"] = status
	obj["created_at"] = timestamp(created)
	set := func(key, v string) {
		if v != "" {
			obj[key] = v
		}
	}
	set("type", tx.Type)
	set("payment_status", tx.PaymentStatus)
	if tx.DocumentDate != "" {
		d, err := time.Parse(time.DateOnly, tx.DocumentDate)
		if err != nil {
			s.errorf("AddTransaction: document_date %q: %v", tx.DocumentDate, err)
		}
		obj["document_date"] = tx.DocumentDate
		obj["due_date"] = d.AddDate(0, 0, 30).Format(time.DateOnly)
	}
	set("due_date", tx.DueDate)
	set("receiver_name", tx.ReceiverName)
	set("counterparty_name", tx.ReceiverName)
	for k, v := range tx.Fields {
		if v == nil {
			delete(obj, k)
			continue
		}
		obj[k] = normalize(v)
	}
	id, _ := obj["id"].(string)
	if id == "" {
		s.errorf("AddTransaction: the transaction has no string id")
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &storedTx{obj: obj}
	if i := slices.IndexFunc(s.txs, func(t *storedTx) bool { return t.str("id") == id }); i >= 0 {
		s.txs[i] = st
	} else {
		s.txs = append(s.txs, st)
	}
	return id
}

// normalize turns v into what decoding its JSON with UseNumber gives, so
// that stored objects hold one kind of value.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if dec.Decode(&out) != nil {
		return v
	}
	return out
}

// Transaction returns the JSON object GET /transactions/:id answers for
// id in "data", nil when there is none.
func (s *Server) Transaction(id string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.txs {
		if t.str("id") == id {
			b, _ := json.Marshal(t.obj)
			return b
		}
	}
	return nil
}

// listFields are the fields of the reference's GET /transactions example.
var listFields = []string{"id", "type", "document_number", "document_date", "due_date", "status", "payment_status",
	"total", "paid_amount", "receiver_name", "description", "created_at"}

// sortFields are the fields sort= accepts.
var sortFields = []string{"created_at", "document_date", "due_date", "document_number", "total"}

func (s *Server) handleGetTransaction(w http.ResponseWriter, r *http.Request) {
	b := s.Transaction(r.PathValue("id"))
	if b == nil {
		writeError(w, http.StatusNotFound, "not-found", "Resource does not exist in this workspace")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": json.RawMessage(b)})
}

func (s *Server) handleListTransactions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if t := q.Get("type"); t != "" && !slices.Contains(transactionTypes, t) {
		writeError(w, http.StatusBadRequest, "bad-request", "type must be one of INVOICE, BILL, CREDIT_NOTE, DEBIT_NOTE")
		return
	}
	if p := q.Get("payment_status"); p != "" && p != "UNPAID" && p != "PARTIAL" && p != "PAID" {
		writeError(w, http.StatusBadRequest, "bad-request", "payment_status must be UNPAID, PARTIAL or PAID")
		return
	}
	dates := map[string]string{}
	for _, k := range []string{"date_from", "date_to", "due_before"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		d, ok := isoDate(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "bad-request", k+" must be an ISO 8601 date")
			return
		}
		dates[k] = d
	}
	sortField, desc := "created_at", true
	if v := q.Get("sort"); v != "" {
		f, dir, _ := strings.Cut(v, ":")
		if !slices.Contains(sortFields, f) || (dir != "" && dir != "asc" && dir != "desc") {
			writeError(w, http.StatusBadRequest, "bad-request", "sort must be field:direction with field one of "+strings.Join(sortFields, ", "))
			return
		}
		sortField, desc = f, dir == "desc"
	}
	page, perPage, ok := paging(w, r)
	if !ok {
		return
	}
	search := strings.ToLower(q.Get("search"))

	s.mu.Lock()
	var match []map[string]any
	for _, t := range s.txs {
		keep := func(param, field string) bool { v := q.Get(param); return v == "" || t.str(field) == v }
		if !keep("type", "type") || !keep("status", "status") || !keep("payment_status", "payment_status") || !keep("party_id", "counterparty_id") {
			continue
		}
		if d := dates["date_from"]; d != "" && t.str("document_date") < d {
			continue
		}
		if d := dates["date_to"]; d != "" && t.str("document_date") > d {
			continue
		}
		if d := dates["due_before"]; d != "" && (t.str("due_date") == "" || t.str("due_date") > d) {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(t.str("document_number")), search) &&
			!strings.Contains(strings.ToLower(t.str("receiver_name")), search) {
			continue
		}
		item := make(map[string]any, len(listFields))
		for _, f := range listFields {
			if v, ok := t.obj[f]; ok {
				item[f] = v
			}
		}
		match = append(match, item)
	}
	s.mu.Unlock()

	if desc {
		slices.Reverse(match) // ties: the later stored first
	}
	slices.SortStableFunc(match, func(a, b map[string]any) int {
		c := compareField(a[sortField], b[sortField])
		if desc {
			return -c
		}
		return c
	})
	lo, hi := window(len(match), page, perPage)
	writeJSON(w, http.StatusOK, map[string]any{
		"data":       match[lo:hi],
		"pagination": pageInfo{Total: len(match), Page: page, PerPage: perPage, HasMore: hi < len(match)},
	})
}

// isoDate returns the date (YYYY-MM-DD) of an ISO 8601 date or date-time.
func isoDate(v string) (string, bool) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.Format(time.DateOnly), true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.Format(time.DateOnly), true
	}
	return "", false
}

// compareField orders two values of a sort field: numbers by value,
// timestamps by time, anything else as text.
func compareField(a, b any) int {
	if x, ok := a.(json.Number); ok {
		if y, ok := b.(json.Number); ok {
			xf, _ := x.Float64()
			yf, _ := y.Float64()
			switch {
			case xf < yf:
				return -1
			case xf > yf:
				return 1
			}
			return 0
		}
	}
	as, _ := a.(string)
	bs, _ := b.(string)
	if at, err := time.Parse(time.RFC3339, as); err == nil {
		if bt, err := time.Parse(time.RFC3339, bs); err == nil {
			return at.Compare(bt)
		}
	}
	return strings.Compare(as, bs)
}
