package stdout_test

import (
	"context"
	"os"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/stdout"
)

// Each event becomes one NDJSON line, compacted.
func ExampleSink_Deliver() {
	s := stdout.New(os.Stdout)
	s.Deliver(context.Background(), &relay.Outbound{
		EventID: "evt_1",
		Event:   []byte("{\n  \"specversion\": \"1.0\",\n  \"id\": \"evt_1\"\n}"),
	})
	// Output:
	// {"specversion":"1.0","id":"evt_1"}
}
