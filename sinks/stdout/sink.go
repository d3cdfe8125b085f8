package stdout

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Sink is a stdout sink. It is safe for concurrent use.
type Sink struct {
	mu sync.Mutex
	w  io.Writer
}

var _ relay.Sink = (*Sink)(nil)

// New returns a sink printing to w (run's stdout).
func New(w io.Writer) *Sink {
	return &Sink{w: w}
}

// Deliver writes o's CloudEvent, compacted to one line, and a newline with a
// single write call. An event that is not valid JSON is permanent; a write
// error or a done ctx is transient. No fsync: stdout offers no durability.
func (s *Sink) Deliver(ctx context.Context, o *relay.Outbound) relay.Result {
	if err := ctx.Err(); err != nil {
		return relay.Transient(0, 0, "stdout: "+err.Error())
	}
	line, err := relay.NDJSONLine(o.Event)
	if err != nil {
		return relay.Permanent(0, fmt.Sprintf("stdout: event %s: %v", o.EventID, err))
	}
	s.mu.Lock()
	_, err = s.w.Write(line)
	s.mu.Unlock()
	if err != nil {
		return relay.Transient(0, 0, "stdout: write: "+err.Error())
	}
	return relay.Delivered(0, nil)
}
