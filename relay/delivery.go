package relay

import (
	"net/http"
	"strings"
	"time"
)

// Delivery is one HTTP request TagihanAI sent, kept byte for byte: the raw
// body, the TagihanAI headers and when it arrived. The body is never
// re-serialized; what was signed is what is stored.
type Delivery struct {
	ReceivedAt time.Time
	Headers    map[string]string
	Body       []byte
}

// Header names TagihanAI sends (or may send). KeptHeaders lists the ones a
// Delivery keeps: the X-TagihanAI-* family and a few that explain the body.
const (
	HeaderSignature  = "X-TagihanAI-Signature"
	HeaderTimestamp  = "X-TagihanAI-Timestamp"
	HeaderEventID    = "X-TagihanAI-Event-Id"
	HeaderDeliveryID = "X-TagihanAI-Delivery-Id"
)

// KeepHeader reports whether a request header belongs to the stored Delivery:
// every X-TagihanAI-* header, Content-Type and User-Agent.
func KeepHeader(name string) bool {
	if len(name) >= 12 && strings.EqualFold(name[:12], "X-TagihanAI-") {
		return true
	}
	return strings.EqualFold(name, "Content-Type") || strings.EqualFold(name, "User-Agent")
}

// DeliveryHeaders picks the headers KeepHeader keeps, canonicalized, first
// value only (TagihanAI sends each once).
func DeliveryHeaders(h http.Header) map[string]string {
	out := make(map[string]string, 6)
	for k, v := range h {
		if len(v) > 0 && KeepHeader(k) {
			out[headerName(k)] = v[0]
		}
	}
	return out
}

// headerName spells a kept header the way TagihanAI documents it
// (X-TagihanAI-Signature), not Go's canonical X-Tagihanai-Signature.
func headerName(k string) string {
	k = http.CanonicalHeaderKey(k)
	if strings.HasPrefix(k, "X-Tagihanai-") {
		return "X-TagihanAI-" + k[len("X-Tagihanai-"):]
	}
	return k
}

// Header returns the stored header name case-insensitively.
func (d *Delivery) Header(name string) string {
	if v, ok := d.Headers[name]; ok {
		return v
	}
	for k, v := range d.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
