package accountingplus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
)

// SalesInvoice is the body of POST /v1/sales-invoices. Field order follows
// the reference's example. Amounts are json.Number holding the decimal
// exactly as TagihanAI sent it, so they are written back byte for byte.
type SalesInvoice struct {
	CustomerName      string      `json:"customer_name"`
	DocumentDate      string      `json:"document_date"` // DD/MM/YYYY
	AutoCreatePayment bool        `json:"auto_create_payment"`
	OtherAmount       json.Number `json:"other_amount"`
	Items             []Item      `json:"items"`
}

// Item is one line of a SalesInvoice.
type Item struct {
	ItemCode          string      `json:"item_code"`
	ItemName          string      `json:"item_name"`
	Quantity          json.Number `json:"quantity"`
	UnitOfMeasurement string      `json:"unit_of_measurement"`
	UnitPrice         json.Number `json:"unit_price"`
	DiscountAmount    json.Number `json:"discount_amount"`
	TaxCode           string      `json:"tax_code"` // always sent, "" when TAX_CODE is unset (as in the reference)
}

// MapConfig is what the mapping takes from the sink's configuration.
type MapConfig struct {
	ItemCodes         ItemMap // ITEM_MAP
	DefaultItemCode   string  // DEFAULT_ITEM_CODE
	TaxCode           string  // TAX_CODE; "" is sent as "tax_code": ""
	AutoCreatePayment bool    // AUTO_CREATE_PAYMENT
}

// defaultUnit is the unit_of_measurement of a line without "unit".
const defaultUnit = "pcs"

// Map turns a TagihanAI transaction object into the sales invoice to create.
// It is pure: no I/O, no clock. A transaction that is not an INVOICE returns
// an error wrapping ErrNotInvoice; anything that cannot be mapped exactly
// returns a *FieldError naming the field. Amounts and quantities are decoded
// with json.Number and never pass through float64.
func Map(tx json.RawMessage, cfg MapConfig) (*SalesInvoice, error) {
	obj, err := decodeObject(tx)
	if err != nil {
		return nil, err
	}
	return mapTransaction(obj, cfg)
}

// decodeObject decodes one JSON object, numbers as json.Number.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("transaction: invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("transaction: invalid JSON: data after the object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("transaction: is %s, want an object", jsonKind(v))
	}
	return obj, nil
}

func mapTransaction(tx map[string]any, cfg MapConfig) (*SalesInvoice, error) {
	typ, err := text(tx, "type")
	if err != nil {
		return nil, err
	}
	if typ == "" {
		return nil, &FieldError{"type", &detail{ErrMissing, "missing; cannot tell an INVOICE from a BILL"}}
	}
	if !strings.EqualFold(typ, "INVOICE") {
		return nil, fmt.Errorf("transaction type %q: %w", typ, ErrNotInvoice)
	}
	customer, err := customerName(tx)
	if err != nil {
		return nil, err
	}
	date, err := documentDate(tx)
	if err != nil {
		return nil, err
	}
	items, err := mapItems(tx, cfg)
	if err != nil {
		return nil, err
	}
	return &SalesInvoice{
		CustomerName:      customer,
		DocumentDate:      date,
		AutoCreatePayment: cfg.AutoCreatePayment,
		OtherAmount:       "0",
		Items:             items,
	}, nil
}

// customerName is receiver_name, else counterparty_name.
func customerName(tx map[string]any) (string, error) {
	for _, k := range []string{"receiver_name", "counterparty_name"} {
		s, err := text(tx, k)
		if err != nil || s != "" {
			return s, err
		}
	}
	return "", &FieldError{"customer_name", &detail{ErrMissing, "neither receiver_name nor counterparty_name is set"}}
}

// documentDate formats document_date (YYYY-MM-DD or RFC 3339) as DD/MM/YYYY.
// An RFC 3339 time keeps the calendar date it was written in, whatever its
// offset: 2026-11-23T00:30:00+07:00 is 23/11/2026.
func documentDate(tx map[string]any) (string, error) {
	s, err := text(tx, "document_date")
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", &FieldError{"document_date", &detail{ErrMissing, "missing"}}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		return "", &FieldError{"document_date", fmt.Errorf("%q %w", clip(s), ErrInvalidDate)}
	}
	return t.Format("02/01/2006"), nil
}

// hasLineItems reports whether tx carries at least one line item.
func hasLineItems(tx map[string]any) bool {
	items, ok := tx["line_items"].([]any)
	return ok && len(items) > 0
}

func mapItems(tx map[string]any, cfg MapConfig) ([]Item, error) {
	switch v := tx["line_items"].(type) {
	case nil:
		return totalLine(tx, cfg)
	case []any:
		if len(v) == 0 {
			return totalLine(tx, cfg)
		}
		items := make([]Item, 0, len(v))
		for i, raw := range v {
			it, err := mapLine(fmt.Sprintf("line_items[%d]", i), raw, cfg)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		return items, nil
	default:
		return nil, &FieldError{"line_items", &detail{ErrWrongType, fmt.Sprintf("is %s, want an array", jsonKind(v))}}
	}
}

// totalLine is the one line sent when the transaction has no line items: the
// description (else the document number), quantity 1, the total as price.
func totalLine(tx map[string]any, cfg MapConfig) ([]Item, error) {
	var name string
	for _, k := range []string{"description", "document_number"} {
		s, err := text(tx, k)
		if err != nil {
			return nil, err
		}
		if s != "" {
			name = s
			break
		}
	}
	if name == "" {
		return nil, &FieldError{"items", &detail{ErrMissing, "no line_items, and neither description nor document_number to name the one line"}}
	}
	price, err := decimalField(tx, "", "total", "amount")
	if err != nil {
		return nil, err
	}
	code, err := itemCode("item_code", "", name, cfg)
	if err != nil {
		return nil, err
	}
	return []Item{{
		ItemCode:          code,
		ItemName:          name,
		Quantity:          "1",
		UnitOfMeasurement: defaultUnit,
		UnitPrice:         price,
		DiscountAmount:    "0",
		TaxCode:           cfg.TaxCode,
	}}, nil
}

func mapLine(path string, raw any, cfg MapConfig) (Item, error) {
	line, ok := raw.(map[string]any)
	if !ok {
		return Item{}, &FieldError{path, &detail{ErrWrongType, fmt.Sprintf("is %s, want an object", jsonKind(raw))}}
	}
	name, err := firstText(line, path, "item_name", "product_name", "name")
	if err != nil {
		return Item{}, err
	}
	qty, err := optionalDecimal(line, path, "quantity", "1")
	if err != nil {
		return Item{}, err
	}
	if isZero(qty) {
		return Item{}, &FieldError{path + ".quantity", fmt.Errorf("%q %w", qty, ErrZeroQuantity)}
	}
	price, err := decimalField(line, path+".", "unit_price", "price")
	if err != nil {
		return Item{}, err
	}
	discount, err := optionalDecimal(line, path, "discount_amount", "0")
	if err != nil {
		return Item{}, err
	}
	if gross := new(big.Rat).Mul(rat(qty), rat(price)); rat(discount).Cmp(gross) > 0 {
		return Item{}, &FieldError{path + ".discount_amount",
			fmt.Errorf("%q %w (%s × %s)", discount, ErrDiscountTooLarge, qty, price)}
	}
	unit, err := text(line, "unit")
	if err != nil {
		return Item{}, prefixed(path, err)
	}
	if unit == "" {
		unit = defaultUnit
	}
	own, err := text(line, "item_code")
	if err != nil {
		return Item{}, prefixed(path, err)
	}
	code, err := itemCode(path+".item_code", own, name, cfg)
	if err != nil {
		return Item{}, err
	}
	return Item{
		ItemCode:          code,
		ItemName:          name,
		Quantity:          qty,
		UnitOfMeasurement: unit,
		UnitPrice:         price,
		DiscountAmount:    discount,
		TaxCode:           cfg.TaxCode,
	}, nil
}

// itemCode is the line's own item_code, else ITEM_MAP's code for its name,
// else DEFAULT_ITEM_CODE.
func itemCode(field, own, name string, cfg MapConfig) (string, error) {
	if own != "" {
		return own, nil
	}
	if code, ok := cfg.ItemCodes.Lookup(name); ok {
		return code, nil
	}
	if cfg.DefaultItemCode != "" {
		return cfg.DefaultItemCode, nil
	}
	return "", &FieldError{field, &detail{ErrNoItemCode, fmt.Sprintf(
		"none on the line, no ITEM_MAP entry for %q and no DEFAULT_ITEM_CODE: set the sink's DEFAULT_ITEM_CODE "+
			"(SINK_<NAME>_DEFAULT_ITEM_CODE, one AccountingPlus item code for such lines) or add the product to its ITEM_MAP "+
			"(a CSV of item_name,item_code), restart, then redrive the dead letter", clip(name))}}
}

// firstText returns the first non-empty of keys in obj; when none is set the
// error names want.
func firstText(obj map[string]any, path, want string, keys ...string) (string, error) {
	for _, k := range keys {
		s, err := text(obj, k)
		if err != nil {
			return "", prefixed(path, err)
		}
		if s != "" {
			return s, nil
		}
	}
	return "", &FieldError{path + "." + want, &detail{ErrMissing, "neither " + strings.Join(keys, " nor ") + " is set"}}
}

// text returns obj[key] trimmed; "" when absent or null. A number is taken
// as its literal (item codes and document numbers are sometimes numeric).
func text(obj map[string]any, key string) (string, error) {
	switch v := obj[key].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case json.Number:
		return string(v), nil
	default:
		return "", &FieldError{key, &detail{ErrWrongType, fmt.Sprintf("is %s, want a string", jsonKind(v))}}
	}
}

// decimalField returns the first of keys present (not null) in obj as an
// exact decimal; the error names the key read, or keys[0] when none is set.
func decimalField(obj map[string]any, prefix string, keys ...string) (json.Number, error) {
	for _, k := range keys {
		v, ok := obj[k]
		if !ok || v == nil {
			continue
		}
		n, err := parseDecimal(v)
		if err != nil {
			return "", &FieldError{prefix + k, err}
		}
		return n, nil
	}
	msg := "missing"
	if len(keys) > 1 {
		msg = "neither " + strings.Join(keys, " nor ") + " is set"
	}
	return "", &FieldError{prefix + keys[0], &detail{ErrMissing, msg}}
}

// optionalDecimal is obj[key] as an exact decimal, def when absent or null.
func optionalDecimal(obj map[string]any, path, key string, def json.Number) (json.Number, error) {
	if v, ok := obj[key]; !ok || v == nil {
		return def, nil
	}
	return decimalField(obj, path+".", key)
}

// prefixed puts path in front of a *FieldError's field.
func prefixed(path string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{path + "." + fe.Field, fe.Err}
	}
	return err
}
