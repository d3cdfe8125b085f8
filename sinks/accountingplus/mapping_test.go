package accountingplus

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/sinks/internal/decimal"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/accountingplus")

// goldenDir holds one directory per case: transaction.json (a TagihanAI
// transaction as received), optional config.json (MapConfig fields) and
// item_map.csv (ITEM_MAP), and either request.golden.json (the body sent) or
// error.golden.txt (why nothing is sent).
const goldenDir = "../../testdata/accountingplus"

// caseConfig is config.json.
type caseConfig struct {
	DefaultItemCode   string `json:"default_item_code"`
	TaxCode           string `json:"tax_code"`
	AutoCreatePayment bool   `json:"auto_create_payment"`
}

// MustCaseConfig reads a case's config.json and item_map.csv.
func MustCaseConfig(tb testing.TB, dir string) MapConfig {
	tb.Helper()
	var cc caseConfig
	if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&cc); err != nil {
			tb.Fatalf("%s/config.json: %v", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
	cfg := MapConfig{DefaultItemCode: cc.DefaultItemCode, TaxCode: cc.TaxCode, AutoCreatePayment: cc.AutoCreatePayment}
	if path := filepath.Join(dir, "item_map.csv"); fileExists(path) {
		m, err := LoadItemMap(path)
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		cfg.ItemCodes = m
	}
	return cfg
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestMap_Golden(t *testing.T) {
	tests := []struct {
		name    string
		wantErr error // nil: request.golden.json; else error.golden.txt
	}{
		{"item-codes", nil},
		{"item-map", nil},
		{"default-item-code", nil},
		{"no-line-items", nil},
		{"no-line-items-document-number", nil},
		{"discounts", nil},
		{"large-amounts", nil},
		{"string-amounts", nil},
		{"bill", ErrNotInvoice},
		{"invalid-fraction", decimal.ErrTooManyFractionDigits},
		{"invalid-exponent", decimal.ErrSyntax},
		{"negative-discount", decimal.ErrNegative},
		{"out-of-range", decimal.ErrOutOfRange},
		{"missing-customer", ErrMissing},
		{"no-item-code", ErrNoItemCode},
		{"discount-exceeds-line", ErrDiscountTooLarge},
		{"bad-date", ErrInvalidDate},
	}

	// Every case directory is in the table, so none is silently skipped.
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs, names []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	for _, tt := range tests {
		names = append(names, tt.name)
	}
	sort.Strings(names)
	if diff := cmp.Diff(dirs, names); diff != "" {
		t.Errorf("case directories vs table (-dirs +table):\n%s", diff)
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(goldenDir, tt.name)
			tx, err := os.ReadFile(filepath.Join(dir, "transaction.json"))
			if err != nil {
				t.Fatal(err)
			}
			inv, err := Map(tx, MustCaseConfig(t, dir))

			var got []byte
			var golden string
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Map: %v", err)
				}
				body, err := json.Marshal(inv)
				if err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				if err := json.Indent(&b, body, "", "  "); err != nil {
					t.Fatal(err)
				}
				got, golden = append(b.Bytes(), '\n'), filepath.Join(dir, "request.golden.json")
			} else {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Map error = %v, want %v", err, tt.wantErr)
				}
				got, golden = []byte(err.Error()+"\n"), filepath.Join(dir, "error.golden.txt")
			}
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestMap_ExactAmounts checks, outside of any golden file, that amounts are
// written byte for byte as received.
func TestMap_ExactAmounts(t *testing.T) {
	tx := `{"type":"INVOICE","document_date":"2026-11-23","receiver_name":"PT Maju Jaya",
		"line_items":[{"item_code":"A","product_name":"A","quantity":3,"unit_price":9007199254740993,"discount_amount":9007199254740993}]}`
	inv, err := Map(json.RawMessage(tx), MapConfig{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"unit_price":9007199254740993`, `"discount_amount":9007199254740993`, `"quantity":3`, `"other_amount":0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body %s lacks %s", body, want)
		}
	}
}

func TestMap_Errors(t *testing.T) {
	valid := func(line string) string {
		return `{"type":"INVOICE","document_date":"2026-11-23","receiver_name":"PT Maju Jaya","total":1000,` +
			`"line_items":[{"item_code":"A","product_name":"A","quantity":1,"unit_price":1000},` + line + `]}`
	}
	tests := []struct {
		name    string
		tx      string
		wantErr error
		wantMsg string
	}{
		{"Exponent", valid(`{"item_code":"B","product_name":"B","quantity":1,"unit_price":1e3}`),
			decimal.ErrSyntax, `line_items[1].unit_price: "1e3" is not a plain decimal`},
		{"ThreeFractionDigits", valid(`{"item_code":"B","product_name":"B","quantity":1,"unit_price":12.345}`),
			decimal.ErrTooManyFractionDigits, `line_items[1].unit_price: "12.345" has more than 2 fraction digits`},
		{"TrailingZeroDigits", valid(`{"item_code":"B","product_name":"B","quantity":1,"unit_price":12.500}`),
			decimal.ErrTooManyFractionDigits, `line_items[1].unit_price: "12.500" has more than 2 fraction digits`},
		{"PriceAlias", valid(`{"item_code":"B","product_name":"B","quantity":1,"price":"1.2.3"}`),
			decimal.ErrSyntax, `line_items[1].price: "1.2.3" is not a plain decimal`},
		{"StringWithSpace", valid(`{"item_code":"B","product_name":"B","quantity":1,"unit_price":" 10"}`),
			decimal.ErrSyntax, `line_items[1].unit_price: " 10" is not a plain decimal`},
		{"LeadingZero", valid(`{"item_code":"B","product_name":"B","quantity":1,"unit_price":"010"}`),
			decimal.ErrSyntax, `line_items[1].unit_price: "010" is not a plain decimal`},
		{"Bool", valid(`{"item_code":"B","product_name":"B","quantity":1,"unit_price":true}`),
			ErrWrongType, `line_items[1].unit_price: true is a boolean, want a number`},
		{"NegativeQuantity", valid(`{"item_code":"B","product_name":"B","quantity":-2,"unit_price":1}`),
			decimal.ErrNegative, `line_items[1].quantity: "-2" is negative`},
		{"ZeroQuantity", valid(`{"item_code":"B","product_name":"B","quantity":0.00,"unit_price":1}`),
			ErrZeroQuantity, `line_items[1].quantity: "0.00" is zero`},
		{"FractionalQuantityTooFine", valid(`{"item_code":"B","product_name":"B","quantity":0.125,"unit_price":1}`),
			decimal.ErrTooManyFractionDigits, `line_items[1].quantity: "0.125" has more than 2 fraction digits`},
		{"QuantityOutOfRange", valid(`{"item_code":"B","product_name":"B","quantity":99999999999999999999,"unit_price":1}`),
			decimal.ErrOutOfRange, `line_items[1].quantity: "99999999999999999999" is out of range (integer part beyond int64)`},
		{"NegativeDiscount", valid(`{"item_code":"B","product_name":"B","quantity":1,"unit_price":1,"discount_amount":-0.5}`),
			decimal.ErrNegative, `line_items[1].discount_amount: "-0.5" is negative`},
		{"NoPrice", valid(`{"item_code":"B","product_name":"B","quantity":1}`),
			ErrMissing, `line_items[1].unit_price: neither unit_price nor price is set`},
		{"NoName", valid(`{"item_code":"B","quantity":1,"unit_price":1}`),
			ErrMissing, `line_items[1].item_name: neither product_name nor name is set`},
		{"NameNotString", valid(`{"item_code":"B","product_name":{"id":1},"quantity":1,"unit_price":1}`),
			ErrWrongType, `line_items[1].product_name: is an object, want a string`},
		{"LineNotObject", valid(`"B"`),
			ErrWrongType, `line_items[1]: is a string, want an object`},
		{"LineItemsNotArray", `{"type":"INVOICE","document_date":"2026-11-23","receiver_name":"X","line_items":{}}`,
			ErrWrongType, `line_items: is an object, want an array`},
		{"NoType", `{"document_date":"2026-11-23","receiver_name":"X","total":1}`,
			ErrMissing, `type: missing; cannot tell an INVOICE from a BILL`},
		{"CreditNote", `{"type":"CREDIT_NOTE"}`,
			ErrNotInvoice, `transaction type "CREDIT_NOTE": only INVOICE transactions create a sales invoice`},
		{"NoDate", `{"type":"INVOICE","receiver_name":"X","total":1}`,
			ErrMissing, `document_date: missing`},
		{"NoTotal", `{"type":"INVOICE","document_date":"2026-11-23","receiver_name":"X","description":"D"}`,
			ErrMissing, `total: neither total nor amount is set`},
		{"NegativeTotal", `{"type":"INVOICE","document_date":"2026-11-23","receiver_name":"X","description":"D","total":-1}`,
			decimal.ErrNegative, `total: "-1" is negative`},
		{"NoLineName", `{"type":"INVOICE","document_date":"2026-11-23","receiver_name":"X","total":1}`,
			ErrMissing, `items: no line_items, and neither description nor document_number to name the one line`},
		{"TotalLineNoCode", `{"type":"INVOICE","document_date":"2026-11-23","receiver_name":"X","description":"D","total":1}`,
			ErrNoItemCode, `item_code: none on the line, no ITEM_MAP entry for "D" and no DEFAULT_ITEM_CODE: set the sink's DEFAULT_ITEM_CODE (SINK_<NAME>_DEFAULT_ITEM_CODE, one AccountingPlus item code for such lines) or add the product to its ITEM_MAP (a CSV of item_name,item_code), restart, then redrive the dead letter`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Map(json.RawMessage(tt.tx), MapConfig{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Map error = %v, want %v", err, tt.wantErr)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("Map error = %q, want %q", err, tt.wantMsg)
			}
		})
	}
}

func TestMap_InvalidJSON(t *testing.T) {
	for _, in := range []string{``, `[]`, `null`, `{"type":"INVOICE"`, `{} {}`, `"INVOICE"`} {
		if _, err := Map(json.RawMessage(in), MapConfig{}); err == nil {
			t.Errorf("Map(%q) succeeded, want an error", in)
		}
	}
}
