// Command ingestgen writes a wrk Lua script that posts N distinct, validly
// signed TagihanAI deliveries of about 1 KiB (unique event ids, signatures
// made now, so run the load within the signature tolerance). Each wrk thread
// takes its own slice of the requests, so no id is sent twice.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

func main() {
	n := flag.Int("n", 200000, "number of distinct deliveries")
	secret := flag.String("secret", "whsec_benchsecret", "signing secret (raw encoding)")
	out := flag.String("out", "requests.lua", "output Lua script")
	threads := flag.Int("threads", 2, "wrk threads the script will be split across")
	flag.Parse()

	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	key := []byte(*secret)
	// Data file: one delivery per line, "<signature header>\t<body>".
	data, err := os.Create(*out + ".data")
	if err != nil {
		log.Fatal(err)
	}
	dw := bufio.NewWriterSize(data, 1<<20)
	for i := 0; i < *n; i++ {
		body := deliveryBody(i)
		fmt.Fprintf(dw, "%s\t%s\n", signature.SignatureHeader(key, ts, body), body)
	}
	if err := dw.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := data.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(w, "local threads = %d\nlocal datafile = %q\n", *threads, *out+".data")
	if _, err := io.WriteString(w, luaScript); err != nil {
		log.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// luaScript loads the data file in each wrk thread and walks its own
// stride of it (thread k of T sends lines k, k+T, k+2T, ...).
const luaScript = `
local reqs = {}
local counter = 0
local next_id = 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
function init(args)
  local i = 0
  for line in io.lines(datafile) do
    i = i + 1
    if (i - tid) % threads == 0 then
      local tab = line:find("\t", 1, true)
      local sig = line:sub(1, tab - 1)
      local body = line:sub(tab + 1)
      reqs[#reqs + 1] = wrk.format("POST", "/webhooks/tagihanai",
        {["Content-Type"] = "application/json", ["X-TagihanAI-Signature"] = sig}, body)
    end
  end
end
function request()
  counter = counter + 1
  return reqs[((counter - 1) % #reqs) + 1]
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

// deliveryBody is a realistic ~1 KiB transaction.paid delivery with a unique id.
func deliveryBody(i int) []byte {
	tx := fmt.Sprintf("550e8400-e29b-41d4-a716-%012d", i)
	body := map[string]any{
		"id":         fmt.Sprintf("evt_bench_%09d", i),
		"type":       "transaction.paid",
		"created_at": "2026-11-23T10:00:00Z",
		"data": map[string]any{
			"id": tx, "type": "INVOICE", "document_number": fmt.Sprintf("INV-2026-%06d", i),
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
