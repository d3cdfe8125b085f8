package onlinepajak

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials the fake OnlinePajak accepts.
const (
	fakeAPIKey  = "op-key-3f9a7c1e5b"
	fakeUserID  = "4217"
	unauthedKey = "op-key-no-invoices" // a valid key without access to invoices
)

// fakeOnlinePajak is a hand-written OnlinePajak invoice API, as strict as the
// reference: it checks the gateway credentials, the Content-Type, and every
// field of a created invoice (name, JSON type, format), and answers like the
// reference's examples. Invoices live in memory by invoiceNumber; unlike the
// real API it counts a second POST of the same number as a duplicate.
type fakeOnlinePajak struct {
	srv *httptest.Server

	mu         sync.Mutex
	invoices   map[string]fakeInvoice
	nextID     int
	posts      int      // POSTs received (authenticated or not)
	gets       int      // GETs received
	bodies     [][]byte // raw body of every POST
	duplicates int      // POSTs that created an invoice number a second time
	rejections []string // why the fake rejected a POST, for test failures

	// postHook, when set, sees every authenticated POST after its body was
	// read and before it is validated; returning true means it answered.
	postHook func(w http.ResponseWriter, r *http.Request, body []byte) bool
	// stallAfterCreate makes a valid POST create the invoice and then never
	// answer (until the client goes away).
	stallAfterCreate bool
	// getHook, when set, sees every authenticated GET first.
	getHook func(w http.ResponseWriter, r *http.Request) bool

	release chan struct{}
}

type fakeInvoice struct {
	ID   int
	Body map[string]json.RawMessage
}

func newFakeOnlinePajak(tb testing.TB) *fakeOnlinePajak {
	tb.Helper()
	f := &fakeOnlinePajak{invoices: map[string]fakeInvoice{}, nextID: 1389133, release: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(func() {
		close(f.release)
		f.srv.Close()
	})
	return f
}

// stall blocks a handler until the client gives up or the test ends.
func (f *fakeOnlinePajak) stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.release:
	}
}

// addInvoice stores an invoice as if created earlier.
func (f *fakeOnlinePajak) addInvoice(number string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID
	f.nextID++
	f.invoices[number] = fakeInvoice{ID: id, Body: map[string]json.RawMessage{
		"invoiceNumber": json.RawMessage(fmt.Sprintf("%q", number)),
		"invoiceDate":   json.RawMessage(`"2026-11-23"`),
		"dueDate":       json.RawMessage(`"2026-12-23"`),
		"masaPajak":     json.RawMessage(`"11"`),
		"tahunPajak":    json.RawMessage(`"2026"`),
		"revision":      json.RawMessage(`0`),
	}}
	return id
}

type fakeCounts struct{ posts, gets, invoices, duplicates int }

func (f *fakeOnlinePajak) counts() fakeCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeCounts{f.posts, f.gets, len(f.invoices), f.duplicates}
}

func (f *fakeOnlinePajak) lastBody() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return nil
	}
	return f.bodies[len(f.bodies)-1]
}

func (f *fakeOnlinePajak) rejected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.rejections...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func gatewayError(w http.ResponseWriter, status int, kind, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": kind, "message": msg}})
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "message": msg})
}

func (f *fakeOnlinePajak) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	switch r.Method {
	case http.MethodPost:
		f.posts++
		f.bodies = append(f.bodies, body)
	case http.MethodGet:
		f.gets++
	}
	f.mu.Unlock()

	// The API gateway: api_key first, then the user.
	q := r.URL.Query()
	switch key := q.Get("api_key"); key {
	case fakeAPIKey:
	case unauthedKey:
		gatewayError(w, http.StatusForbidden, "API_KEY_UNAUTHORIZED", "The api_key supplied is not authorized to access the given service.")
		return
	default:
		gatewayError(w, http.StatusForbidden, "API_KEY_INVALID", "An invalid api_key was supplied. Get one at http://api.staging-achilles.systems")
		return
	}
	if len(q["api_key"]) != 1 || q.Get("user_id") != fakeUserID || len(q["user_id"]) != 1 {
		apiError(w, http.StatusBadRequest, "invalid token given")
		return
	}
	if r.URL.Path != "/marketplace/v1/invoices" {
		apiError(w, http.StatusNotFound, "resource not found")
		return
	}
	switch r.Method {
	case http.MethodPost:
		f.create(w, r, body)
	case http.MethodGet:
		f.get(w, r, body)
	default:
		apiError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func (f *fakeOnlinePajak) get(w http.ResponseWriter, r *http.Request, body []byte) {
	if f.getHook != nil && f.getHook(w, r) {
		return
	}
	// The reference: "perform a HTTP GET with the required parameters in
	// the body as JSON"; a query parameter, when given, must agree.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		apiError(w, http.StatusBadRequest, "Content-Type must be application/json")
		return
	}
	var req struct {
		InvoiceNumber string `json:"invoiceNumber"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.InvoiceNumber == "" {
		apiError(w, http.StatusBadRequest, "Missing mandatory parameters (invoiceNumber) in the request body!")
		return
	}
	if qn := r.URL.Query()["invoiceNumber"]; len(qn) > 0 && (len(qn) != 1 || qn[0] != req.InvoiceNumber) {
		apiError(w, http.StatusBadRequest, "invoiceNumber in the query and the body differ")
		return
	}
	f.mu.Lock()
	inv, ok := f.invoices[req.InvoiceNumber]
	f.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, "Invoice not found")
		return
	}
	writeJSON(w, http.StatusOK, f.invoiceAnswer("Invoice entity has been succesfully created!", inv))
}

func (f *fakeOnlinePajak) invoiceAnswer(msg string, inv fakeInvoice) map[string]any {
	var date, due, masa, tahun string
	_ = json.Unmarshal(inv.Body["invoiceDate"], &date)
	_ = json.Unmarshal(inv.Body["dueDate"], &due)
	_ = json.Unmarshal(inv.Body["masaPajak"], &masa)
	_ = json.Unmarshal(inv.Body["tahunPajak"], &tahun)
	gross, grand := fakeTotals(inv.Body)
	return map[string]any{
		"code":    200,
		"message": msg,
		"response": map[string]any{"invoice": map[string]any{
			"invoiceId":      inv.ID,
			"invoiceDate":    date,
			"invoiceDueDate": due,
			"grossAmount":    json.Number(gross),
			"grandTotal":     json.Number(grand),
			"revision":       inv.Body["revision"],
			"taxPeriod":      masa + "/" + tahun,
		}},
	}
}

// fakeTotals computes grossAmount (sum of quantity*unitPrice-discount) and
// grandTotal (plus VAT) exactly, as the API does for its answer.
func fakeTotals(body map[string]json.RawMessage) (gross, grand string) {
	var items []map[string]string
	_ = json.Unmarshal(body["invoiceItems"], &items)
	sum := new(big.Rat)
	for _, it := range items {
		q, _ := new(big.Rat).SetString(it["quantity"])
		p, _ := new(big.Rat).SetString(it["unitPrice"])
		d, _ := new(big.Rat).SetString(it["discount"])
		if q == nil || p == nil || d == nil {
			continue
		}
		sum.Add(sum, new(big.Rat).Sub(new(big.Rat).Mul(q, p), d))
	}
	vat, ok := new(big.Rat).SetString(string(body["vatRate"]))
	if !ok {
		vat = new(big.Rat)
	}
	total := new(big.Rat).Mul(sum, new(big.Rat).Add(big.NewRat(1, 1), new(big.Rat).Quo(vat, big.NewRat(100, 1))))
	return sum.FloatString(0), total.FloatString(0)
}

func (f *fakeOnlinePajak) create(w http.ResponseWriter, r *http.Request, body []byte) {
	if f.postHook != nil && f.postHook(w, r, body) {
		return
	}
	if problems := validateInvoice(r, body); len(problems) > 0 {
		f.mu.Lock()
		f.rejections = append(f.rejections, problems...)
		f.mu.Unlock()
		apiError(w, http.StatusBadRequest, strings.Join(problems, "; "))
		return
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(body, &fields)
	var number string
	_ = json.Unmarshal(fields["invoiceNumber"], &number)
	f.mu.Lock()
	if _, dup := f.invoices[number]; dup {
		f.duplicates++
	}
	inv := fakeInvoice{ID: f.nextID, Body: fields}
	f.nextID++
	f.invoices[number] = inv
	stall := f.stallAfterCreate
	f.mu.Unlock()
	if stall {
		f.stall(r)
		return
	}
	writeJSON(w, http.StatusOK, f.invoiceAnswer("Invoice entity has been successfully created!", inv))
}

// The fields of the reference's "Request Parameters" table, and the ones the
// 400 example lists as mandatory (revision too: "YES" in the table).
var (
	fakeMandatory = []string{"invoiceNumber", "invoiceDate", "dueDate", "invoiceType", "transactionType", "transactionDetail", "documentType", "npwp", "vendor", "documentNumber", "masaPajak", "tahunPajak", "invoiceItems", "vatRate", "revision"}
	fakeKnown     = map[string]bool{
		"invoiceNumber": true, "invoiceItems": true, "invoiceDate": true, "dueDate": true, "paymentDate": true, "sspDate": true,
		"invoiceType": true, "transactionType": true, "transactionDetail": true, "documentType": true, "npwp": true,
		"vendor": true, "documentNumber": true, "serialNumber": true, "additionalDocument": true, "masaPajak": true,
		"tahunPajak": true, "revision": true, "vendorAddress": true, "vendorCity": true, "vendorPostCode": true,
		"vendorRegion": true, "vendorCountry": true, "vendorPhone": true, "vendorEmail": true, "vatRate": true,
		"additionalInformation": true, "additionalInfoID": true, "imported": true, "old_id": true,
	}
	fakeItemKnown  = map[string]bool{"description": true, "quantity": true, "unitPrice": true, "discount": true, "wto": true, "total": true}
	fakeNPWP15     = regexp.MustCompile(`^\d{2}\.\d{3}\.\d{3}\.\d-\d{3}\.\d{3}$`)
	fakeNPWP16     = regexp.MustCompile(`^\d{16}$`)
	fakeFaktur     = regexp.MustCompile(`^\d{3}\.\d{3}-\d{2}\.\d{8}$`)
	fakeDecimal    = regexp.MustCompile(`^\d+(\.\d+)?$`)
	fakeMonth      = regexp.MustCompile(`^(0[1-9]|1[0-2])$`)
	fakeYear       = regexp.MustCompile(`^\d{4}$`)
	fakeDocTypes   = map[string]bool{"1": true, "2": true, "3": true, "5": true, "8": true}
	fakeSalesTypes = map[string]bool{"4": true, "5": true}
	fakeBuyTypes   = map[string]bool{"1": true, "2": true, "3": true}
)

// validateInvoice checks a create request the way the reference describes
// the API: JSON content type, mandatory parameters (reported in the
// reference's own message), and each field's type and format.
func validateInvoice(r *http.Request, body []byte) []string {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return []string{"Content-Type must be application/json, got " + r.Header.Get("Content-Type")}
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || dec.More() {
		return []string{"request body is not a JSON object"}
	}
	var missing []string
	for _, k := range fakeMandatory {
		if _, ok := fields[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return []string{"Missing mandatory parameters (" + strings.Join(missing, ", ") + ") in the request body!"}
	}
	var p []string
	var unknown []string
	for k := range fields {
		if !fakeKnown[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		p = append(p, "unknown parameter "+k)
	}

	str := func(k string) string {
		raw := fields[k]
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			p = append(p, k+" must be a string")
			return ""
		}
		return s
	}
	for k := range fields {
		switch k {
		case "invoiceItems", "revision", "vatRate", "old_id":
		default:
			if string(fields[k]) != "null" {
				str(k)
			}
		}
	}
	number := str("invoiceNumber")
	if number == "" || len([]rune(number)) > 255 {
		p = append(p, "invoiceNumber must have 1 to 255 characters")
	}
	date := func(k string) time.Time {
		t, err := time.Parse("2006-01-02", str(k))
		if err != nil {
			p = append(p, k+" must be yyyy-mm-dd")
		}
		return t
	}
	invDate := date("invoiceDate")
	if due := date("dueDate"); due.Before(invDate) {
		p = append(p, "dueDate is before invoiceDate")
	}
	for _, k := range []string{"paymentDate", "sspDate"} {
		if s := str(k); s != "" {
			date(k)
		}
	}
	switch typ := str("invoiceType"); typ {
	case "A":
		if !fakeSalesTypes[str("transactionType")] {
			p = append(p, "transactionType must be 4 or 5 for invoiceType A")
		}
	case "B":
		if !fakeBuyTypes[str("transactionType")] {
			p = append(p, "transactionType must be 1, 2 or 3 for invoiceType B")
		}
	default:
		p = append(p, "invoiceType must be A or B")
	}
	if str("transactionDetail") == "" {
		p = append(p, "transactionDetail is empty")
	}
	if !fakeDocTypes[str("documentType")] {
		p = append(p, "documentType must be 1, 2, 3, 5 or 8")
	}
	if n := str("npwp"); !fakeNPWP15.MatchString(n) && !fakeNPWP16.MatchString(n) {
		p = append(p, "npwp must be 99.999.999.9-999.999 (or 16 digits)")
	}
	if str("vendor") == "" {
		p = append(p, "vendor is empty")
	}
	if !fakeFaktur.MatchString(str("documentNumber")) {
		p = append(p, "documentNumber must be XXX.XXX-XX.XXXXXXXX")
	}
	masa, tahun := str("masaPajak"), str("tahunPajak")
	if !fakeMonth.MatchString(masa) || !fakeYear.MatchString(tahun) {
		p = append(p, "masaPajak must be mm and tahunPajak yyyy")
	} else if !invDate.IsZero() && (masa != invDate.Format("01") || tahun != invDate.Format("2006")) {
		p = append(p, "masaPajak/tahunPajak do not match invoiceDate")
	}
	var rev int
	if err := json.Unmarshal(fields["revision"], &rev); err != nil || fields["revision"][0] == '"' || rev < 0 || rev > 9 {
		p = append(p, "revision must be a single-digit integer")
	}
	if vat := fields["vatRate"]; len(vat) == 0 || !fakeDecimal.Match(vat) {
		p = append(p, "vatRate must be a number")
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(fields["invoiceItems"], &items); err != nil || len(items) == 0 {
		p = append(p, "invoiceItems must be a non-empty array of objects")
	}
	for i, it := range items {
		for k := range it {
			if !fakeItemKnown[k] {
				p = append(p, fmt.Sprintf("invoiceItems[%d]: unknown parameter %s", i, k))
			}
		}
		text := func(k string) (string, bool) {
			var s string
			raw := it[k]
			if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
				p = append(p, fmt.Sprintf("invoiceItems[%d].%s must be a string", i, k))
				return "", false
			}
			return s, true
		}
		if d, ok := text("description"); ok && d == "" {
			p = append(p, fmt.Sprintf("invoiceItems[%d].description is empty", i))
		}
		for _, k := range []string{"quantity", "unitPrice", "discount"} {
			if s, ok := text(k); ok && !fakeDecimal.MatchString(s) {
				p = append(p, fmt.Sprintf("invoiceItems[%d].%s must be a decimal string", i, k))
			}
		}
		text("wto")
	}
	return p
}
