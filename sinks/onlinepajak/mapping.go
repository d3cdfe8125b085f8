package onlinepajak

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tagihan-relay/tagihan-relay/sinks/internal/decimal"
)

// DefaultVATRate is the VAT rate sent when none is configured: PPN 12%.
const DefaultVATRate = "12"

// DefaultNPWPKey is the metadata key read for the counterparty's NPWP.
const DefaultNPWPKey = "npwp"

// DefaultFakturKeys are the metadata keys read, in order, for the faktur
// number (nomor faktur pajak) sent as documentNumber.
var DefaultFakturKeys = []string{"faktur_number", "nomor_faktur", "documentNumber"}

// maxInvoiceNumberLen is the reference's "String (255)" for invoiceNumber.
const maxInvoiceNumberLen = 255

// MapConfig is what Map needs besides the transaction. The zero value is
// usable: VAT 12, NPWP under metadata "npwp", faktur number under
// DefaultFakturKeys, and no default tax codes.
type MapConfig struct {
	// VATRate is sent as vatRate; a plain decimal, DefaultVATRate when empty.
	VATRate string
	// TransactionType, TransactionDetail and DocumentType are used when the
	// transaction's metadata has no value of the same name.
	TransactionType   string
	TransactionDetail string
	DocumentType      string
	// NPWPKey is the metadata key of the counterparty's NPWP.
	NPWPKey string
	// FakturKeys are the metadata keys of the faktur number, first match wins.
	FakturKeys []string
}

func (c MapConfig) withDefaults() MapConfig {
	c.VATRate = strings.TrimSpace(c.VATRate)
	if c.VATRate == "" {
		c.VATRate = DefaultVATRate
	}
	c.NPWPKey = strings.TrimSpace(c.NPWPKey)
	if c.NPWPKey == "" {
		c.NPWPKey = DefaultNPWPKey
	}
	var keys []string
	for _, k := range c.FakturKeys {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		keys = DefaultFakturKeys
	}
	c.FakturKeys = keys
	return c
}

// cancelledStatuses are transaction statuses for which no tax invoice is
// drafted even when an event for them is routed to the sink.
var cancelledStatuses = map[string]bool{"CANCELLED": true, "CANCELED": true, "VOID": true, "VOIDED": true, "DELETED": true}

// Map turns a TagihanAI transaction (the webhook's data object, byte for
// byte) into the OnlinePajak invoice to create. It is pure: no I/O, no clock.
//
// It returns ErrNotInvoice or ErrCancelled (wrapped) when the transaction must
// not be sent, an error wrapping ErrInvalidTransaction when tx is not a JSON
// object, and a *MapError naming every field it could not fill otherwise.
// Amounts are decoded as json.Number and sent as their exact text.
func Map(tx json.RawMessage, cfg MapConfig) (*Invoice, error) {
	obj, err := decodeObject(tx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTransaction, err)
	}
	cfg = cfg.withDefaults()
	m := &mapper{}

	switch typ := m.text(obj, "type", "type"); {
	case typ == "":
		m.missing("type", "type (INVOICE)", ErrMissingField)
		return nil, m.err()
	case !strings.EqualFold(typ, "INVOICE"):
		return nil, fmt.Errorf("%w: type is %s", ErrNotInvoice, quoteShort(typ))
	}
	if st := m.text(obj, "status", "status"); cancelledStatuses[strings.ToUpper(st)] {
		return nil, fmt.Errorf("%w: status is %s", ErrCancelled, quoteShort(st))
	}

	md, _ := obj["metadata"].(map[string]any)
	parties := partyObjects(obj)
	inv := &Invoice{InvoiceType: "A"}

	inv.InvoiceNumber = m.text(obj, "document_number", "document_number")
	switch {
	case inv.InvoiceNumber == "":
		m.missing("invoiceNumber", "document_number", ErrMissingField)
	case utf8.RuneCountInString(inv.InvoiceNumber) > maxInvoiceNumberLen:
		m.invalid("invoiceNumber", "document_number", fmt.Sprintf("is longer than %d characters", maxInvoiceNumberLen))
		inv.InvoiceNumber = ""
	}

	inv.InvoiceItems = m.items(obj, inv.InvoiceNumber)

	if s := m.text(obj, "document_date", "document_date"); s == "" {
		m.missing("invoiceDate", "document_date", ErrMissingField)
	} else if d, ok := parseDate(s); !ok {
		m.invalid("invoiceDate", "document_date", quoteShort(s)+" is not a date (YYYY-MM-DD)")
	} else {
		inv.InvoiceDate = d
		inv.MasaPajak = d[5:7]
		inv.TahunPajak = d[0:4]
	}
	if s := m.text(obj, "due_date", "due_date"); s == "" {
		inv.DueDate = inv.InvoiceDate
	} else if d, ok := parseDate(s); !ok {
		m.invalid("dueDate", "due_date", quoteShort(s)+" is not a date (YYYY-MM-DD)")
	} else {
		inv.DueDate = d
	}

	inv.NPWP = m.npwp(md, parties, cfg.NPWPKey)
	inv.DocumentNumber = m.faktur(md, cfg.FakturKeys)
	inv.TransactionType = m.code(md, "transactionType", cfg.TransactionType, "TRANSACTION_TYPE")
	inv.TransactionDetail = m.code(md, "transactionDetail", cfg.TransactionDetail, "TRANSACTION_DETAIL")
	inv.DocumentType = m.code(md, "documentType", cfg.DocumentType, "DOCUMENT_TYPE")

	inv.Vendor = m.text(obj, "receiver_name", "receiver_name")
	if inv.Vendor == "" {
		inv.Vendor = m.text(obj, "counterparty_name", "counterparty_name")
	}
	for _, p := range parties {
		if inv.Vendor == "" {
			inv.Vendor = m.text(p.obj, "name", p.key+".name")
		}
	}
	if inv.Vendor == "" {
		m.missing("vendor", "receiver_name or counterparty_name", ErrMissingField)
	}

	inv.Revision = m.revision(md)

	if rate, err := decimal.Parse(cfg.VATRate, decimal.OnlinePajak); err == nil {
		inv.VATRate = json.Number(rate.String())
	} else {
		m.invalid("vatRate", "config VAT_RATE", err.Error())
	}

	if err := m.err(); err != nil {
		return nil, err
	}
	return inv, nil
}

// decodeObject decodes one JSON object with UseNumber, so that no amount ever
// passes through float64.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("got a JSON %s", jsonKind(v))
	}
	return obj, nil
}

// party is a counterparty object embedded in the transaction.
type party struct {
	key string
	obj map[string]any
}

// partyObjects returns data.counterparty and data.party, when present.
func partyObjects(obj map[string]any) []party {
	var ps []party
	for _, k := range []string{"counterparty", "party"} {
		if p, ok := obj[k].(map[string]any); ok {
			ps = append(ps, party{key: k, obj: p})
		}
	}
	return ps
}

// parseDate returns the yyyy-mm-dd date of s, a date (YYYY-MM-DD) or an RFC
// 3339 timestamp; a timestamp's date is taken as written, in its own offset.
func parseDate(s string) (string, bool) {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, true
	}
	if _, err := time.Parse(time.RFC3339, s); err == nil && len(s) > 10 {
		return s[:10], true
	}
	return "", false
}

// mapper collects every field error of one Map call.
type mapper struct {
	errs []*FieldError
}

func (m *mapper) missing(field, from string, sentinel error) {
	m.errs = append(m.errs, &FieldError{Field: field, From: from, Err: sentinel})
}

func (m *mapper) invalid(field, from, reason string) {
	m.errs = append(m.errs, &FieldError{Field: field, From: from, Reason: reason, Err: ErrInvalidField})
}

func (m *mapper) err() error {
	if len(m.errs) == 0 {
		return nil
	}
	return &MapError{Fields: m.errs}
}

// text returns obj[key] as trimmed text: a string, or a number's exact text.
// Absent, null or empty is "". Another JSON type is recorded as invalid under
// field name from and read as "".
func (m *mapper) text(obj map[string]any, key, from string) string {
	switch v := obj[key].(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return string(v)
	default:
		m.invalid(from, from, "is a JSON "+jsonKind(v)+", not a string")
		return ""
	}
}

// code returns a tax code from metadata[key], else the configured default.
func (m *mapper) code(md map[string]any, key, def, env string) string {
	if v := m.text(md, key, "metadata."+key); v != "" {
		return v
	}
	if def = strings.TrimSpace(def); def != "" {
		return def
	}
	m.missing(key, "metadata."+key+" or config "+env, ErrMissingTaxField)
	return ""
}

// npwp returns the counterparty's NPWP: metadata first, then the embedded
// party objects' npwp and tax_id. The first value found is the one used; a
// malformed one is an error, not a reason to look further.
func (m *mapper) npwp(md map[string]any, parties []party, key string) string {
	raw, src := m.text(md, key, "metadata."+key), "metadata."+key
	for _, p := range parties {
		for _, k := range []string{"npwp", "tax_id"} {
			if raw == "" {
				raw, src = m.text(p.obj, k, p.key+"."+k), p.key+"."+k
			}
		}
	}
	if raw == "" {
		m.missing("npwp", orList([]string{"metadata." + key, "counterparty.npwp", "counterparty.tax_id", "party.npwp", "party.tax_id"}), ErrMissingTaxField)
		return ""
	}
	n, err := normalizeNPWP(raw)
	if err != nil {
		m.invalid("npwp", src, err.Error())
		return ""
	}
	return n
}

// faktur returns the faktur number from the first metadata key that has one.
func (m *mapper) faktur(md map[string]any, keys []string) string {
	from := make([]string, len(keys))
	for i, k := range keys {
		from[i] = "metadata." + k
		if v := m.text(md, k, from[i]); v != "" {
			return v
		}
	}
	m.missing("documentNumber", orList(from), ErrMissingTaxField)
	return ""
}

// revision returns metadata.revision, a single digit, 0 when absent.
func (m *mapper) revision(md map[string]any) int {
	s := m.text(md, "revision", "metadata.revision")
	if s == "" {
		return 0
	}
	if len(s) != 1 || s[0] < '0' || s[0] > '9' {
		m.invalid("revision", "metadata.revision", quoteShort(s)+" is not a single digit")
		return 0
	}
	n, _ := strconv.Atoi(s)
	return n
}

// items maps line_items; without any it makes the one line described in
// the package documentation.
func (m *mapper) items(obj map[string]any, invoiceNumber string) []InvoiceItem {
	var lines []any
	switch v := obj["line_items"].(type) {
	case nil:
	case []any:
		lines = v
	default:
		m.invalid("invoiceItems", "line_items", "is a JSON "+jsonKind(v)+", not an array")
		return nil
	}
	if len(lines) == 0 {
		return m.singleItem(obj, invoiceNumber)
	}
	items := make([]InvoiceItem, 0, len(lines))
	for i, l := range lines {
		src := fmt.Sprintf("line_items[%d]", i)
		field := fmt.Sprintf("invoiceItems[%d]", i)
		line, ok := l.(map[string]any)
		if !ok {
			m.invalid(field, src, "is a JSON "+jsonKind(l)+", not an object")
			continue
		}
		it := InvoiceItem{Discount: "0"}
		for _, k := range []string{"product_name", "name", "description"} {
			if it.Description == "" {
				it.Description = m.text(line, k, src+"."+k)
			}
		}
		if it.Description == "" {
			m.missing(field+".description", orList([]string{src + ".product_name", src + ".name", src + ".description"}), ErrMissingField)
		}
		it.Quantity = m.amount(line, field+".quantity", src, "quantity")
		it.UnitPrice = m.amount(line, field+".unitPrice", src, "unit_price", "price")
		if d := m.optionalAmount(line, field+".discount", src, "discount_amount", "discount"); d != "" {
			it.Discount = d
		}
		items = append(items, it)
	}
	return items
}

// singleItem is the line of a transaction without line items: its
// description, quantity 1, and the amount before VAT (OnlinePajak adds VAT
// itself): subtotal, else total when the transaction carries no tax_amount.
func (m *mapper) singleItem(obj map[string]any, invoiceNumber string) []InvoiceItem {
	it := InvoiceItem{Quantity: "1", Discount: "0"}
	it.Description = m.text(obj, "description", "description")
	if it.Description == "" {
		it.Description = invoiceNumber
	}
	if it.Description == "" {
		m.missing("invoiceItems[0].description", "description or document_number (no line_items)", ErrMissingField)
	}
	const field = "invoiceItems[0].unitPrice"
	if s, ok := m.decimal(obj["subtotal"], field, "subtotal"); ok {
		it.UnitPrice = s
		return []InvoiceItem{it}
	}
	tax, hasTax := m.decimal(obj["tax_amount"], field, "tax_amount")
	total, hasTotal := m.decimal(obj["total"], field, "total")
	switch {
	case hasTax && !decimal.Must(tax, decimal.OnlinePajak).IsZero():
		m.errs = append(m.errs, &FieldError{Field: field, From: "subtotal", Err: ErrMissingField,
			Reason: "is missing and total includes tax_amount, so the amount before VAT is unknown (the transaction has no line_items)"})
	case hasTotal:
		it.UnitPrice = total
	default:
		m.missing(field, "subtotal, total or line_items", ErrMissingField)
	}
	return []InvoiceItem{it}
}

// amount returns the first present of line[keys...] as an exact decimal,
// recording it as missing when none is present.
func (m *mapper) amount(line map[string]any, field, src string, keys ...string) string {
	if s := m.optionalAmount(line, field, src, keys...); s != "" {
		return s
	}
	if !m.hasErrorFor(field) {
		from := make([]string, len(keys))
		for i, k := range keys {
			from[i] = src + "." + k
		}
		m.missing(field, orList(from), ErrMissingField)
	}
	return ""
}

// optionalAmount is amount without the missing error: "" when absent.
func (m *mapper) optionalAmount(line map[string]any, field, src string, keys ...string) string {
	for _, k := range keys {
		if v, present := line[k]; present && v != nil {
			s, _ := m.decimal(v, field, src+"."+k)
			return s
		}
	}
	return ""
}

// decimal returns v's exact decimal text; ok is false when v is absent or
// invalid (recorded).
func (m *mapper) decimal(v any, field, from string) (string, bool) {
	s, present, err := decimalOf(v)
	if err != nil {
		m.invalid(field, from, err.Error())
		return "", false
	}
	return s, present
}

func (m *mapper) hasErrorFor(field string) bool {
	for _, e := range m.errs {
		if e.Field == field {
			return true
		}
	}
	return false
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
