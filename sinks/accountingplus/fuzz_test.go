package accountingplus

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzMap checks that Map never panics, is deterministic, and that whenever
// it succeeds every amount in the body it produces is a plain decimal that
// survives encoding and decoding byte for byte. Seeds: testdata/fuzz/FuzzMap.
func FuzzMap(f *testing.F) {
	f.Add([]byte(`{"type":"INVOICE","document_date":"2026-11-23","receiver_name":"A","total":9007199254740993}`))
	items, err := ParseItemMap(strings.NewReader("Router MikroTik hAP ax2,BRG-MKT-002\n"))
	if err != nil {
		f.Fatal(err)
	}
	cfg := MapConfig{ItemCodes: items, DefaultItemCode: "DEFAULT", TaxCode: "PPN12"}
	f.Fuzz(func(t *testing.T, tx []byte) {
		inv, err := Map(tx, cfg)
		again, err2 := Map(tx, cfg)
		if (err == nil) != (err2 == nil) || !cmp.Equal(inv, again) {
			t.Fatalf("Map is not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			if inv != nil {
				t.Fatalf("Map returned a body and an error %v", err)
			}
			return
		}
		if len(inv.Items) == 0 || inv.CustomerName == "" || inv.DocumentDate == "" {
			t.Fatalf("Map returned an incomplete body: %+v", inv)
		}
		body, err := json.Marshal(inv)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var back struct {
			OtherAmount json.Number `json:"other_amount"`
			Items       []struct {
				Quantity       json.Number `json:"quantity"`
				UnitPrice      json.Number `json:"unit_price"`
				DiscountAmount json.Number `json:"discount_amount"`
			} `json:"items"`
		}
		if err := d.Decode(&back); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		check := func(field string, sent, got json.Number) {
			if got != sent {
				t.Errorf("%s: sent %q, re-parsed %q", field, sent, got)
			}
			if _, err := parseDecimal(got); err != nil {
				t.Errorf("%s: %v", field, err)
			}
		}
		check("other_amount", inv.OtherAmount, back.OtherAmount)
		if len(back.Items) != len(inv.Items) {
			t.Fatalf("items: sent %d, re-parsed %d", len(inv.Items), len(back.Items))
		}
		for i, it := range inv.Items {
			check("quantity", it.Quantity, back.Items[i].Quantity)
			check("unit_price", it.UnitPrice, back.Items[i].UnitPrice)
			check("discount_amount", it.DiscountAmount, back.Items[i].DiscountAmount)
			if rat(it.Quantity).Sign() <= 0 {
				t.Errorf("items[%d].quantity %s is not positive", i, it.Quantity)
			}
		}
	})
}
