package accountingplus_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tagihan-relay/tagihan-relay/sinks/accountingplus"
)

func ExampleMap() {
	tx := json.RawMessage(`{
	  "id": "550e8400-e29b-41d4-a716-446655440000",
	  "type": "INVOICE",
	  "document_number": "INV-2026-0042",
	  "document_date": "2026-02-10",
	  "receiver_name": "PT Maju Jaya",
	  "line_items": [{"product_name": "Web development", "quantity": 2, "unit_price": 9007199254740993}]
	}`)
	inv, err := accountingplus.Map(tx, accountingplus.MapConfig{DefaultItemCode: "JASA"})
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := json.Marshal(inv)
	fmt.Println(string(body))

	_, err = accountingplus.Map(json.RawMessage(`{"type":"BILL"}`), accountingplus.MapConfig{})
	fmt.Println(errors.Is(err, accountingplus.ErrNotInvoice), err)
	// Output:
	// {"customer_name":"PT Maju Jaya","document_date":"10/02/2026","auto_create_payment":false,"other_amount":0,"items":[{"item_code":"JASA","item_name":"Web development","quantity":2,"unit_of_measurement":"pcs","unit_price":9007199254740993,"discount_amount":0,"tax_code":""}]}
	// true transaction type "BILL": only INVOICE transactions create a sales invoice
}
