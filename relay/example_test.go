package relay_test

import (
	"fmt"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func ExampleReadEnvelope() {
	body := []byte(`{"event_id":"evt_1","event":"transaction.paid","occurred_at":1767225600,
		"data":{"id":"trx_1","type":"INVOICE","document_number":"INV-2026-0042","receiver_name":"PT Maju Jaya"}}`)
	env, err := relay.ReadEnvelope(body, nil)
	fmt.Println(env.ID, env.Type, env.Time.Format(time.RFC3339), env.Subject, err)
	fmt.Println(env.DocumentNumber, env.Counterparty, env.TransactionType)

	// Not JSON: still an id, so the delivery is stored and deduplicated.
	env, err = relay.ReadEnvelope([]byte("hello"), func(name string) string {
		if name == relay.HeaderDeliveryID {
			return "dlv_42"
		}
		return ""
	})
	fmt.Println(env.ID, err)
	// Output:
	// evt_1 transaction.paid 2026-01-01T00:00:00Z trx_1 <nil>
	// INV-2026-0042 PT Maju Jaya INVOICE
	// dlv_42 relay: body is not a JSON object
}

func ExampleNormalize() {
	body := []byte(`{"id":"evt_1","type":"payment.completed","data":{ "id": "pay_1" }}`)
	env, _ := relay.ReadEnvelope(body, nil)
	ev := relay.Normalize(env, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), "tagihanai")
	b, _ := ev.MarshalJSON()
	fmt.Println(string(b))
	// Output:
	// {"specversion":"1.0","id":"evt_1","source":"tagihanai","type":"com.tagihanai.payment.completed","time":"2026-11-23T10:00:00Z","subject":"pay_1","datacontenttype":"application/json","tagihanaievent":"payment.completed","relayreceivedat":"2026-11-23T10:00:00Z","data":{ "id": "pay_1" }}
}

func ExampleNextDelay() {
	schedule, _ := relay.ParseSchedule("5s,30s")
	noJitter := func(n int64) int64 { return n - 1 } // the top of [0, d]
	for attempt := 1; ; attempt++ {
		d, ok := relay.NextDelay(schedule, attempt, 0, noJitter)
		if !ok {
			fmt.Printf("attempt %d failed: dead letter\n", attempt)
			break
		}
		fmt.Printf("attempt %d failed: retry in up to %v\n", attempt, d)
	}
	d, _ := relay.NextDelay(schedule, 1, time.Minute, noJitter)
	fmt.Println("with Retry-After: 60:", d)
	// Output:
	// attempt 1 failed: retry in up to 5s
	// attempt 2 failed: retry in up to 30s
	// attempt 3 failed: dead letter
	// with Retry-After: 60: 1m0s
}
