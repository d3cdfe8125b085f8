package onlinepajak

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/sinks/internal/decimal"
)

// FuzzMap checks that Map never panics and that whatever it accepts is an
// invoice the API can take: every amount a plain decimal copied from the
// input, dates and tax period consistent, tax fields present, the NPWP in a
// documented form. Seeds: every golden transaction plus testdata/fuzz/FuzzMap.
func FuzzMap(f *testing.F) {
	dirs, err := os.ReadDir(goldenDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(goldenDir, d.Name(), "transaction.json")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, tx []byte) {
		inv, err := Map(tx, MapConfig{})
		if err != nil {
			var me *MapError
			if !errors.As(err, &me) && !errors.Is(err, ErrNotInvoice) && !errors.Is(err, ErrCancelled) && !errors.Is(err, ErrInvalidTransaction) {
				t.Fatalf("Map: unexpected error type %T: %v", err, err)
			}
			if me != nil && len(me.Fields) == 0 {
				t.Fatal("MapError without fields")
			}
			return
		}
		body, err := inv.Body()
		if err != nil {
			t.Fatalf("Body: %v", err)
		}
		if !json.Valid(body) {
			t.Fatalf("Body is not JSON: %s", body)
		}
		if len(inv.InvoiceItems) == 0 {
			t.Fatal("no invoice items")
		}
		for i, it := range inv.InvoiceItems {
			for _, v := range []string{it.Quantity, it.UnitPrice, it.Discount} {
				if _, err := decimal.Parse(v, decimal.OnlinePajak); err != nil {
					t.Fatalf("item %d: %q is not a plain decimal", i, v)
				}
				if v != "0" && v != "1" && !strings.Contains(string(tx), v) {
					t.Fatalf("item %d: %q does not come from the input", i, v)
				}
			}
			if it.Description == "" || it.WTO != "" {
				t.Fatalf("item %d = %+v", i, it)
			}
		}
		d, err := time.Parse(time.DateOnly, inv.InvoiceDate)
		if err != nil {
			t.Fatalf("invoiceDate %q: %v", inv.InvoiceDate, err)
		}
		if _, err := time.Parse(time.DateOnly, inv.DueDate); err != nil {
			t.Fatalf("dueDate %q: %v", inv.DueDate, err)
		}
		if inv.MasaPajak != d.Format("01") || inv.TahunPajak != d.Format("2006") {
			t.Fatalf("masaPajak/tahunPajak %s/%s for %s", inv.MasaPajak, inv.TahunPajak, inv.InvoiceDate)
		}
		for name, v := range map[string]string{"invoiceNumber": inv.InvoiceNumber, "vendor": inv.Vendor, "documentNumber": inv.DocumentNumber,
			"transactionType": inv.TransactionType, "transactionDetail": inv.TransactionDetail, "documentType": inv.DocumentType} {
			if v == "" {
				t.Fatalf("%s is empty", name)
			}
		}
		if !npwp15.MatchString(inv.NPWP) && !(len(inv.NPWP) == 16 && strings.Trim(inv.NPWP, "0123456789") == "") {
			t.Fatalf("npwp %q is in no documented form", inv.NPWP)
		}
		if inv.InvoiceType != "A" || inv.Revision < 0 || inv.Revision > 9 || inv.VATRate != "12" {
			t.Fatalf("invoiceType %q revision %d vatRate %q", inv.InvoiceType, inv.Revision, inv.VATRate)
		}
	})
}
