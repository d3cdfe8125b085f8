package onlinepajak

import (
	"bytes"
	"encoding/json"
)

// Invoice is the body of POST /marketplace/v1/invoices, field for field as in
// the reference's "Create an Invoice" example (same names, types and order).
// Quantities and amounts are strings holding the exact decimal received;
// revision and vatRate are JSON numbers, as in the examples.
type Invoice struct {
	InvoiceNumber string        `json:"invoiceNumber"`
	InvoiceItems  []InvoiceItem `json:"invoiceItems"`
	InvoiceDate   string        `json:"invoiceDate"` // yyyy-mm-dd
	DueDate       string        `json:"dueDate"`     // yyyy-mm-dd
	// PaymentDate and SSPDate are optional and sent empty, as in the
	// reference's examples.
	PaymentDate       string `json:"paymentDate"`
	SSPDate           string `json:"sspDate"`
	InvoiceType       string `json:"invoiceType"` // always "A", sales
	TransactionType   string `json:"transactionType"`
	TransactionDetail string `json:"transactionDetail"`
	DocumentType      string `json:"documentType"`
	NPWP              string `json:"npwp"`
	Vendor            string `json:"vendor"`
	DocumentNumber    string `json:"documentNumber"` // nomor faktur pajak
	// SerialNumber and AdditionalDocument are for credit notes and
	// replacement invoices only, sent empty.
	SerialNumber       string      `json:"serialNumber"`
	AdditionalDocument string      `json:"additionalDocument"`
	MasaPajak          string      `json:"masaPajak"`  // mm of InvoiceDate
	TahunPajak         string      `json:"tahunPajak"` // yyyy of InvoiceDate
	Revision           int         `json:"revision"`
	VATRate            json.Number `json:"vatRate"`
	AdditionalInfoID   string      `json:"additionalInfoID"`
}

// InvoiceItem is one line of an Invoice. Discount is the discount on the
// whole line, not per unit (reference: "total discount for the item").
type InvoiceItem struct {
	Description string `json:"description"`
	Quantity    string `json:"quantity"`
	UnitPrice   string `json:"unitPrice"`
	Discount    string `json:"discount"`
	WTO         string `json:"wto"` // always empty
}

// MarshalIndent returns the request body as it is sent but indented (for
// golden files and humans); Body is the compact form.
func (inv *Invoice) MarshalIndent() ([]byte, error) {
	return inv.encode("  ")
}

// Body returns the exact request body: compact JSON, with &, < and > not
// escaped so that the API stores names like "PT A & B" as written.
func (inv *Invoice) Body() ([]byte, error) {
	return inv.encode("")
}

func (inv *Invoice) encode(indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(inv); err != nil {
		return nil, err
	}
	if indent == "" {
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	return buf.Bytes(), nil
}
