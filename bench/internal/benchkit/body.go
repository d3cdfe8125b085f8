// Package benchkit is what the programs in bench/ share: realistic signed
// TagihanAI deliveries, the relay as a child process, a counting HTTP sink,
// /proc sampling and markdown tables. It is test tooling, not part of the
// service.
package benchkit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// Secret is the signing secret every bench program uses (raw encoding, the
// service's default): the service is started with
// TAGIHANAI_WEBHOOK_SECRETS=Secret.
const Secret = "whsec_benchsecret"

// EventID is the event id of delivery i under prefix.
func EventID(prefix string, i int) string { return fmt.Sprintf("evt_%s_%09d", prefix, i) }

// Subject is the transaction id (CloudEvents subject) of delivery i.
func Subject(i int) string { return fmt.Sprintf("550e8400-e29b-41d4-a716-%012d", i) }

// DocumentNumber is the invoice number of delivery i.
func DocumentNumber(i int) string { return fmt.Sprintf("INV-2026-%07d", i) }

// Body is a realistic transaction.paid delivery of about 1 KiB (a three-line
// INVOICE with tax metadata) with event id EventID(prefix, i), subject
// Subject(i/perSubject) and document number DocumentNumber(i/perSubject).
// perSubject < 1 means 1: every event its own invoice.
func Body(prefix string, i, perSubject int) []byte {
	if perSubject < 1 {
		perSubject = 1
	}
	s := i / perSubject
	body := map[string]any{
		"id":         EventID(prefix, i),
		"type":       "transaction.paid",
		"created_at": "2026-11-23T10:00:00Z",
		"data": map[string]any{
			"id": Subject(s), "type": "INVOICE", "document_number": DocumentNumber(s),
			"document_date": "2026-11-23", "due_date": "2026-12-23", "status": "PAID", "payment_status": "PAID",
			"currency": "IDR", "subtotal": 20800000, "tax_amount": 2288000, "total": 23088000, "paid_amount": 23088000,
			"receiver_name": "PT Maju Jaya", "counterparty_name": "PT Maju Jaya",
			"description": "Pengembangan modul penagihan, hosting dan perangkat jaringan November 2026",
			"line_items": []map[string]any{
				{"item_code": "JSA-DEV-001", "product_name": "Jasa Pengembangan Aplikasi Web", "quantity": 40, "unit": "jam", "unit_price": 350000, "discount_amount": 0, "amount": 14000000},
				{"product_name": "Langganan Cloud Hosting Business", "quantity": 3, "unit": "bulan", "unit_price": 1250000, "discount_amount": 250000, "amount": 3500000},
				{"item_code": "BRG-MKT-002", "product_name": "Router MikroTik hAP ax2", "quantity": 2, "unit": "pcs", "unit_price": 1650000, "discount_amount": 0, "amount": 3300000},
			},
			"metadata": map[string]any{"npwp": "01.234.567.8-901.000", "faktur_number": "010.000-26.00000042"},
		},
	}
	b, _ := json.Marshal(body)
	return b
}

// SignHeader returns the X-TagihanAI-Signature value for body signed now
// with Secret (primary form t=...,v1=...).
func SignHeader(body []byte, now time.Time) string {
	return signature.SignatureHeader([]byte(Secret), strconv.FormatInt(now.Unix(), 10), body)
}

// ExportLine is one NDJSON line of the export format (what
// `tagihan-relay import` reads) for delivery i, received at receivedAt.
func ExportLine(prefix string, i, perSubject int, receivedAt time.Time) []byte {
	body := Body(prefix, i, perSubject)
	rec := relay.ExportRecord{
		ID:         EventID(prefix, i),
		ReceivedAt: receivedAt.UTC(),
		Headers: map[string]string{
			"Content-Type":        "application/json",
			relay.HeaderSignature: SignHeader(body, receivedAt),
		},
		BodyBase64: body,
	}
	b, _ := json.Marshal(rec)
	return append(b, '\n')
}
