package relay_test

import (
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// benchBodies are realistic deliveries (relay/fixtures, fixed options so
// every run reads the same bytes) plus the worst cases of the envelope
// reader: an id only in a header and a verified body that is not JSON.
func benchBodies(b *testing.B) []struct {
	name   string
	body   []byte
	header map[string]string
} {
	b.Helper()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	body := func(typ string) []byte {
		bb, err := fixtures.Body(typ, fixtures.Options{EventID: "evt_01JGZ8T6Q4BENCH", Now: now,
			TransactionID: "550e8400-e29b-41d4-a716-446655440000", DocumentNumber: "INV-2026-0042"})
		if err != nil {
			b.Fatal(err)
		}
		return bb
	}
	return []struct {
		name   string
		body   []byte
		header map[string]string
	}{
		{"transaction.paid", body("transaction.paid"), nil},
		{"payment.completed", body("payment.completed"), nil},
		{"party.updated", body("party.updated"), nil},
		{"id_in_header", []byte(`{"type":"transaction.paid","data":{"id":"trx_1","document_number":"INV-1"}}`),
			map[string]string{relay.HeaderEventID: "evt_from_header"}},
		{"unparsed", []byte("amount=23088000&status=PAID"), nil},
	}
}

// BenchmarkReadEnvelope measures the tolerant envelope reader on one
// delivery body: id, type, time, resource, subject and search fields.
func BenchmarkReadEnvelope(b *testing.B) {
	for _, c := range benchBodies(b) {
		header := func(name string) string { return c.header[name] }
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				env, err := relay.ReadEnvelope(c.body, header)
				if env.ID == "" {
					b.Fatalf("no id (err %v)", err)
				}
			}
		})
	}
}

// BenchmarkPrepare measures everything ingest does to a verified delivery
// before the store commit: read the envelope, normalize it to the
// CloudEvent JSON and route it (three sinks, one matching by glob).
func BenchmarkPrepare(b *testing.B) {
	r := &relay.Receiver{Source: "tagihanai", Routes: []relay.Route{
		{Sink: "erp", OrderBySubject: true},
		{Sink: "accounting", Events: []string{"transaction.sent"}, OrderBySubject: true},
		{Sink: "payments", Events: []string{"payment.*", "transaction.paid"}},
	}}
	received := time.Date(2026, 11, 23, 10, 0, 1, 0, time.UTC)
	for _, c := range benchBodies(b) {
		headers := map[string]string{"Content-Type": "application/json", relay.HeaderSignature: "t=1795428001,v1=5f0c"}
		for k, v := range c.header {
			headers[k] = v
		}
		d := relay.Delivery{ReceivedAt: received, Headers: headers, Body: c.body}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if e := r.Prepare(d, true); e.ID == "" {
					b.Fatal("no id")
				}
			}
		})
	}
}
