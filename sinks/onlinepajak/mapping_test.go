package onlinepajak

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/onlinepajak")

// goldenDir holds one directory per case: transaction.json (a TagihanAI
// transaction, the webhook's data object), an optional config.json (a
// MapConfig) and either request.golden.json (the body Map produces) or
// error.golden.txt (Map's error).
const goldenDir = "../../testdata/onlinepajak"

// goldenCases are the cases the golden test must find, with the sentinel
// each error case must carry; nil means Map succeeds.
var goldenCases = map[string]error{
	"line_items":                     nil,
	"no_line_items":                  nil,
	"no_line_items_total_only":       nil,
	"no_line_items_total_with_tax":   ErrMissingField,
	"discounts":                      nil,
	"large_amounts":                  nil,
	"npwp_15_bare":                   nil,
	"npwp_16_nik":                    nil,
	"npwp_16_leading_zero":           nil,
	"npwp_invalid":                   ErrInvalidField,
	"missing_tax_fields":             ErrMissingTaxField,
	"missing_tax_fields_with_config": ErrMissingTaxField,
	"config_fallback":                nil,
	"bill_skipped":                   ErrNotInvoice,
	"cancelled_skipped":              ErrCancelled,
	"no_due_date":                    nil,
	"invalid_amounts":                ErrInvalidField,
	"timestamp_dates":                nil,
}

func TestMap_Golden(t *testing.T) {
	dirs, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			wantErr, known := goldenCases[name]
			if !known {
				t.Fatalf("case %s is not listed in goldenCases", name)
			}
			dir := filepath.Join(goldenDir, name)
			tx := mustRead(t, filepath.Join(dir, "transaction.json"))
			cfg := goldenConfig(t, dir)

			inv, err := Map(tx, cfg)
			reqPath := filepath.Join(dir, "request.golden.json")
			errPath := filepath.Join(dir, "error.golden.txt")
			var got []byte
			path, stale := reqPath, errPath
			if err != nil {
				if wantErr == nil || !errors.Is(err, wantErr) {
					t.Fatalf("Map: error %v, want %v", err, wantErr)
				}
				got = []byte(err.Error() + "\n")
				path, stale = errPath, reqPath
			} else {
				if wantErr != nil {
					t.Fatalf("Map: no error, want %v", wantErr)
				}
				if got, err = inv.MarshalIndent(); err != nil {
					t.Fatal(err)
				}
			}
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				_ = os.Remove(stale)
			}
			if _, err := os.Stat(stale); err == nil {
				t.Errorf("%s exists but Map now gives %s (run with -update)", stale, filepath.Base(path))
			}
			if diff := cmp.Diff(string(mustRead(t, path)), string(got)); diff != "" {
				t.Errorf("%s mismatch (-golden +got), run with -update if intended:\n%s", path, diff)
			}
		})
	}
	for name := range goldenCases {
		if !seen[name] {
			t.Errorf("golden case %s missing from %s", name, goldenDir)
		}
	}
}

func goldenConfig(t *testing.T, dir string) MapConfig {
	t.Helper()
	var cfg MapConfig
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return cfg
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	return cfg
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestMap_Fields pins the rules one at a time, on a valid transaction changed
// by one mutator per case.
func TestMap_Fields(t *testing.T) {
	base := mustRead(t, filepath.Join(goldenDir, "line_items", "transaction.json"))
	tests := []struct {
		name    string
		cfg     MapConfig
		mutate  func(tx map[string]any)
		check   func(t *testing.T, inv *Invoice)
		wantErr error
		wantMsg []string // substrings of the error
	}{
		{
			name: "OK",
			check: func(t *testing.T, inv *Invoice) {
				want := []InvoiceItem{
					{"Jasa Pengembangan Aplikasi Web", "40", "350000", "0", ""},
					{"Langganan Cloud Hosting Business", "3", "1250000", "250000", ""},
					{"Router MikroTik hAP ax2", "2", "1650000", "0", ""},
				}
				if diff := cmp.Diff(want, inv.InvoiceItems); diff != "" {
					t.Errorf("items (-want +got):\n%s", diff)
				}
				got := [...]string{inv.InvoiceNumber, inv.InvoiceDate, inv.DueDate, inv.InvoiceType, inv.MasaPajak, inv.TahunPajak, inv.NPWP, inv.Vendor, inv.DocumentNumber, inv.VATRate.String()}
				wantF := [...]string{"INV-2026-0042", "2026-11-23", "2026-12-23", "A", "11", "2026", "01.234.567.8-901.000", "PT Maju Jaya", "010.000-26.00000042", "12"}
				if got != wantF {
					t.Errorf("fields = %q, want %q", got, wantF)
				}
			},
		},
		{
			name:   "ExactLargeAmount",
			mutate: func(tx map[string]any) { line(tx, 0)["unit_price"] = json.Number("9007199254740993") },
			check: func(t *testing.T, inv *Invoice) {
				if got := inv.InvoiceItems[0].UnitPrice; got != "9007199254740993" {
					t.Errorf("unitPrice = %s, want 9007199254740993 (not rounded)", got)
				}
			},
		},
		{
			name: "PriceKeyAndStringQuantity",
			mutate: func(tx map[string]any) {
				l := line(tx, 0)
				delete(l, "unit_price")
				l["price"] = "100.50"
				l["quantity"] = "0.25"
			},
			check: func(t *testing.T, inv *Invoice) {
				if it := inv.InvoiceItems[0]; it.UnitPrice != "100.50" || it.Quantity != "0.25" {
					t.Errorf("item = %+v, want unitPrice 100.50 and quantity 0.25 as written", it)
				}
			},
		},
		{
			name:   "NameWhenNoProductName",
			mutate: func(tx map[string]any) { l := line(tx, 0); delete(l, "product_name"); l["name"] = "Jasa Audit" },
			check: func(t *testing.T, inv *Invoice) {
				if got := inv.InvoiceItems[0].Description; got != "Jasa Audit" {
					t.Errorf("description = %q", got)
				}
			},
		},
		{
			name:   "MetadataOverridesConfig",
			cfg:    MapConfig{TransactionType: "4", TransactionDetail: "10", DocumentType: "2"},
			mutate: func(tx map[string]any) {},
			check: func(t *testing.T, inv *Invoice) {
				if inv.TransactionType != "5" || inv.TransactionDetail != "1" || inv.DocumentType != "1" {
					t.Errorf("codes = %s/%s/%s, want metadata's 5/1/1", inv.TransactionType, inv.TransactionDetail, inv.DocumentType)
				}
			},
		},
		{
			name: "ConfiguredKeys",
			cfg:  MapConfig{NPWPKey: "customer_npwp", FakturKeys: []string{"efaktur_no"}},
			mutate: func(tx map[string]any) {
				md(tx)["customer_npwp"] = "998877665544332"
				md(tx)["efaktur_no"] = "040.002-26.12345678"
			},
			check: func(t *testing.T, inv *Invoice) {
				if inv.NPWP != "99.887.766.5-544.332" || inv.DocumentNumber != "040.002-26.12345678" {
					t.Errorf("npwp, documentNumber = %s, %s", inv.NPWP, inv.DocumentNumber)
				}
			},
		},
		{
			name: "ReceiverNameFirst",
			mutate: func(tx map[string]any) {
				tx["receiver_name"] = "PT Maju Jaya Tbk"
				tx["counterparty_name"] = "Maju Jaya"
			},
			check: func(t *testing.T, inv *Invoice) {
				if inv.Vendor != "PT Maju Jaya Tbk" {
					t.Errorf("vendor = %q", inv.Vendor)
				}
			},
		},
		{
			name:    "NoVendor",
			mutate:  func(tx map[string]any) { delete(tx, "receiver_name"); delete(tx, "counterparty_name") },
			wantErr: ErrMissingField,
			wantMsg: []string{"vendor: missing field (set receiver_name or counterparty_name)"},
		},
		{
			name:    "NoDocumentNumber",
			mutate:  func(tx map[string]any) { delete(tx, "document_number") },
			wantErr: ErrMissingField,
			wantMsg: []string{"invoiceNumber: missing field (set document_number)"},
		},
		{
			name:    "NoDocumentDate",
			mutate:  func(tx map[string]any) { delete(tx, "document_date") },
			wantErr: ErrMissingField,
			wantMsg: []string{"invoiceDate: missing field (set document_date)"},
		},
		{
			name:    "BadDate",
			mutate:  func(tx map[string]any) { tx["document_date"] = "23/11/2026" },
			wantErr: ErrInvalidField,
			wantMsg: []string{`invoiceDate: document_date "23/11/2026" is not a date`},
		},
		{
			name:    "RevisionTwoDigits",
			mutate:  func(tx map[string]any) { md(tx)["revision"] = json.Number("10") },
			wantErr: ErrInvalidField,
			wantMsg: []string{`revision: metadata.revision "10" is not a single digit`},
		},
		{
			name:    "BadVATRate",
			cfg:     MapConfig{VATRate: "12%"},
			wantErr: ErrInvalidField,
			wantMsg: []string{`vatRate: config VAT_RATE "12%" is not a plain decimal`},
		},
		{
			name:    "NPWPNotEchoed",
			mutate:  func(tx map[string]any) { md(tx)["npwp"] = "01-234-567-8" },
			wantErr: ErrInvalidField,
			wantMsg: []string{"npwp: metadata.npwp has 9 digits and 3 other characters"},
		},
		{
			name:    "MissingQuantity",
			mutate:  func(tx map[string]any) { delete(line(tx, 1), "quantity") },
			wantErr: ErrMissingField,
			wantMsg: []string{"invoiceItems[1].quantity: missing field (set line_items[1].quantity)"},
		},
		{
			name:    "ExponentAmount",
			mutate:  func(tx map[string]any) { line(tx, 2)["unit_price"] = json.Number("1.65e6") },
			wantErr: ErrInvalidField,
			wantMsg: []string{`invoiceItems[2].unitPrice: line_items[2].unit_price "1.65e6" is not a plain decimal`},
		},
		{
			name:    "NegativeDiscount",
			mutate:  func(tx map[string]any) { line(tx, 1)["discount_amount"] = json.Number("-1") },
			wantErr: ErrInvalidField,
			wantMsg: []string{`invoiceItems[1].discount: line_items[1].discount_amount "-1" is negative`},
		},
		{
			// The rules of decimal.OnlinePajak, which the old check did not
			// have: no leading zeros, at most 2 fraction digits, int64 range.
			name:    "LeadingZeroQuantity",
			mutate:  func(tx map[string]any) { line(tx, 0)["quantity"] = "007" },
			wantErr: ErrInvalidField,
			wantMsg: []string{`invoiceItems[0].quantity: line_items[0].quantity "007" is not a plain decimal`},
		},
		{
			name:    "ThreeFractionDigits",
			mutate:  func(tx map[string]any) { line(tx, 0)["unit_price"] = json.Number("350000.125") },
			wantErr: ErrInvalidField,
			wantMsg: []string{`invoiceItems[0].unitPrice: line_items[0].unit_price "350000.125" has more than 2 fraction digits`},
		},
		{
			name:    "BeyondInt64",
			mutate:  func(tx map[string]any) { line(tx, 0)["unit_price"] = json.Number("9223372036854775808") },
			wantErr: ErrInvalidField,
			wantMsg: []string{`invoiceItems[0].unitPrice: line_items[0].unit_price "9223372036854775808" is out of range`},
		},
		{
			name:    "LeadingZeroVATRate",
			cfg:     MapConfig{VATRate: "012"},
			wantErr: ErrInvalidField,
			wantMsg: []string{`vatRate: config VAT_RATE "012" is not a plain decimal`},
		},
		{
			name: "ExactAmountsKept",
			mutate: func(tx map[string]any) {
				line(tx, 0)["unit_price"] = json.Number("9007199254740993")
				line(tx, 1)["unit_price"] = "1250000.50"
				line(tx, 1)["discount_amount"] = json.Number("250000.00")
			},
			check: func(t *testing.T, inv *Invoice) {
				got := []string{inv.InvoiceItems[0].UnitPrice, inv.InvoiceItems[1].UnitPrice, inv.InvoiceItems[1].Discount}
				if diff := cmp.Diff([]string{"9007199254740993", "1250000.50", "250000.00"}, got); diff != "" {
					t.Errorf("amounts (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:    "MissingTypeIsAnError",
			mutate:  func(tx map[string]any) { delete(tx, "type") },
			wantErr: ErrMissingField,
		},
		{
			name:    "CreditNoteSkipped",
			mutate:  func(tx map[string]any) { tx["type"] = "CREDIT_NOTE" },
			wantErr: ErrNotInvoice,
			wantMsg: []string{`type is "CREDIT_NOTE"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := base
			if tt.mutate != nil {
				tx := decodeForTest(t, base)
				tt.mutate(tx)
				var err error
				if raw, err = json.Marshal(tx); err != nil {
					t.Fatal(err)
				}
			}
			inv, err := Map(raw, tt.cfg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Map: error %v, want %v", err, tt.wantErr)
				}
				for _, s := range tt.wantMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			tt.check(t, inv)
		})
	}
}

// TestMap_MissingTaxFieldsNamed checks that every missing tax field is named,
// with where it can be set.
func TestMap_MissingTaxFieldsNamed(t *testing.T) {
	tx := mustRead(t, filepath.Join(goldenDir, "missing_tax_fields", "transaction.json"))
	_, err := Map(tx, MapConfig{})
	var me *MapError
	if !errors.As(err, &me) {
		t.Fatalf("Map: error %v, want *MapError", err)
	}
	var got []string
	for _, f := range me.Fields {
		if errors.Is(f, ErrMissingTaxField) {
			got = append(got, f.Field)
		}
	}
	want := []string{"npwp", "documentNumber", "transactionType", "transactionDetail", "documentType"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("missing tax fields (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(err.Error(), "onlinepajak: cannot map transaction: missing tax fields npwp, documentNumber, transactionType, transactionDetail, documentType; ") {
		t.Errorf("error = %q", err)
	}
}

func TestMap_NotAnObject(t *testing.T) {
	for _, in := range []string{``, `null`, `[]`, `"INVOICE"`, `{"type":"INVOICE"} {}`, `{`} {
		if _, err := Map(json.RawMessage(in), MapConfig{}); !errors.Is(err, ErrInvalidTransaction) {
			t.Errorf("Map(%q): error %v, want ErrInvalidTransaction", in, err)
		}
	}
}

func decodeForTest(t *testing.T, b []byte) map[string]any {
	t.Helper()
	obj, err := decodeObject(b)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func line(tx map[string]any, i int) map[string]any {
	return tx["line_items"].([]any)[i].(map[string]any)
}

func md(tx map[string]any) map[string]any { return tx["metadata"].(map[string]any) }
