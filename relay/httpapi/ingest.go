package httpapi

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// Ingest is what the webhook endpoint needs.
type Ingest struct {
	// Verifier and Receiver are the environment's source ("default").
	Verifier *signature.Verifier
	Receiver *relay.Receiver
	// Sources finds a run-time source by name (SPEC 6): nil when it is
	// unknown or disabled. nil serves only "default".
	Sources func(name string) *relay.Intake
	Metrics *metrics.Metrics
	Log     *slog.Logger
	MaxBody int64
	// MaxInflight bounds the bytes of all bodies being read or verified at
	// once (RELAY_MAX_INFLIGHT_BYTES); 0 means DefaultMaxInflight. A value
	// below MaxBody is raised to MaxBody, so every allowed body can pass
	// alone.
	MaxInflight int64
	Now         func() time.Time
}

// DefaultMaxInflight is RELAY_MAX_INFLIGHT_BYTES's default.
const DefaultMaxInflight = 64 << 20

// readStep is how much more of a body without Content-Length (chunked) is
// reserved at a time while it is read.
const readStep = 32 << 10

var bufPool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 4096)) }}

// handleIngest receives one TagihanAI delivery (STYLE: cap, verify, then
// decode), in this order:
//
//  1. the signature header is checked (present, well formed, timestamp in
//     the window) before a byte of the body is read: a failure is 401;
//  2. a declared Content-Length over MaxBody is 413, read no further;
//  3. the body's bytes are reserved against MaxInflight (the declared
//     length at once, a chunked body step by step as it is read): when they
//     do not fit, 503 overloaded with Retry-After: 1;
//  4. the body is read (413 past MaxBody) and its HMAC verified (401);
//  5. the delivery is stored durably and answered.
//
// Every answer given before the body was read closes the connection, so
// net/http does not drain (or wait for) a body nobody wants. A refusal is
// returned as a *relay.Error, which errorHandler answers with its code's
// status from relay's one table.
func handleIngest(in Ingest) *ingester {
	maxInflight := in.MaxInflight
	if maxInflight <= 0 {
		maxInflight = DefaultMaxInflight
	}
	// One byte over MaxBody: a chunked body reserves that much to see that
	// it is too large, and it must fit on its own.
	return &ingester{Ingest: in, budget: &inflight{max: max(maxInflight, in.MaxBody+1), gauge: in.Metrics.IngestInflightBytes},
		def: &relay.Intake{Source: relay.DefaultSource, Verifier: in.Verifier, Receiver: in.Receiver}}
}

// serveDefault serves POST /webhooks/tagihanai: the environment's source.
func (ig *ingester) serveDefault(c echo.Context) error { return ig.serve(c, ig.def) }

// serveSource serves POST /webhooks/tagihanai/{source} (SPEC 6): the
// source "default" is the environment configuration, the same as
// /webhooks/tagihanai; a source the relay does not serve (unknown or
// disabled) is 404 unknown_source, with nothing read or stored. The look-up
// is one map read, whatever the number of sources.
func (ig *ingester) serveSource(c echo.Context) error {
	name := c.Param("source")
	if name == relay.DefaultSource {
		return ig.serve(c, ig.def)
	}
	if ig.Sources != nil {
		if in := ig.Sources(name); in != nil {
			return ig.serve(c, in)
		}
	}
	ig.received("unknown_source", "")
	ig.Log.Warn("delivery refused", "result", "unknown_source", "source", truncateForLog(name))
	if c.Request().ContentLength != 0 { // the body is left unread
		c.Response().Header().Set(echo.HeaderConnection, "close")
	}
	return relay.Errorf(relay.EUNKNOWNSOURCE, "no source %q is served here", truncateForLog(name))
}

// truncateForLog keeps a caller-chosen path segment short in logs and
// answers.
func truncateForLog(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// ingester is the webhook handler's state: its settings and the in-flight
// byte budget shared by every request.
type ingester struct {
	Ingest
	budget *inflight
	def    *relay.Intake
}

// serve receives one delivery for the source in.
func (ig *ingester) serve(c echo.Context, in *relay.Intake) error {
	req := c.Request()
	start := ig.Now()
	defer func() { ig.Metrics.IngestLatency.Observe(ig.Now().Sub(start).Seconds()) }()

	checked, err := in.Verifier.CheckHeader(req.Header.Get(relay.HeaderSignature), req.Header.Get(relay.HeaderTimestamp))
	if err != nil {
		if req.ContentLength != 0 { // the body is left unread
			c.Response().Header().Set(echo.HeaderConnection, "close")
		}
		return ig.unauthorized(in, err, 0)
	}
	if req.ContentLength > ig.MaxBody {
		ig.received("too_large", in.Source)
		ig.Log.Warn("delivery refused", "result", "too_large", "content_length", req.ContentLength)
		return ig.tooLarge(c)
	}
	var reserved int64
	defer func() { ig.budget.release(reserved) }()
	if req.ContentLength > 0 {
		if !ig.budget.reserve(req.ContentLength) {
			return ig.overloaded(c, in)
		}
		reserved = req.ContentLength
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20+bytes.MinRead {
			bufPool.Put(buf)
		}
	}()
	if err := ig.readBody(c, in, buf, &reserved); err != nil {
		return err
	}
	body := buf.Bytes()
	if err := in.Verifier.VerifyBody(checked, body); err != nil {
		return ig.unauthorized(in, err, len(body))
	}
	return ig.store(c, in, body, start)
}

// readBody reads the request body into buf, within MaxBody and the
// in-flight budget (*reserved is what this request holds of it).
func (ig *ingester) readBody(c echo.Context, in *relay.Intake, buf *bytes.Buffer, reserved *int64) error {
	req := c.Request()
	var tooBig, over bool
	var err error
	if req.ContentLength >= 0 {
		// Room for the final read that sees EOF too, so the buffer is
		// never reallocated (doubled) at the end of a full body.
		buf.Grow(int(req.ContentLength) + bytes.MinRead)
		_, err = buf.ReadFrom(io.LimitReader(req.Body, ig.MaxBody+1))
		tooBig = int64(buf.Len()) > ig.MaxBody
	} else {
		tooBig, over, err = readAccounted(buf, req.Body, ig.MaxBody, ig.budget, reserved)
	}
	switch {
	case over:
		return ig.overloaded(c, in)
	case tooBig:
		ig.received("too_large", in.Source)
		ig.Log.Warn("delivery refused", "result", "too_large")
		return ig.tooLarge(c)
	case err != nil:
		ig.received("bad_request", in.Source)
		ig.Log.Warn("delivery refused", "result", "bad_request", "error", err.Error())
		c.Response().Header().Set(echo.HeaderConnection, "close")
		return relay.Errorf(relay.EINVALID, "could not read the request body")
	}
	return nil
}

// store makes the verified delivery durable and answers it.
func (ig *ingester) store(c echo.Context, in *relay.Intake, body []byte, start time.Time) error {
	req := c.Request()
	d := relay.Delivery{ReceivedAt: start.UTC(), Headers: relay.DeliveryHeaders(req.Header), Body: body}
	rc, err := in.Receiver.Receive(req.Context(), d)
	if err != nil {
		ig.received("unavailable", in.Source)
		ig.Log.Error("delivery not stored", "result", "unavailable", "source", in.Source, "event_id", relay.LogText(rc.ID), "error", err)
		c.Response().Header().Set("Retry-After", "1")
		return err
	}
	ig.received(string(rc.Status), in.Source)
	ig.Log.Info("delivery", "result", string(rc.Status), "source", in.Source, "event_id", relay.LogText(rc.ID), "type", relay.LogText(rc.Type), "test", rc.Test,
		"sinks", len(rc.Sinks), "duration_ms", float64(ig.Now().Sub(start).Microseconds())/1000)
	status := http.StatusOK
	if rc.Status == relay.IngestUnparsed {
		status = http.StatusAccepted
	}
	return c.JSONBlob(status, ackBody(rc.Status, rc.ID))
}

// received counts one delivery by result and source ("" when the source
// is unknown: a caller-chosen name never becomes a label).
func (ig *ingester) received(result, source string) {
	ig.Metrics.Received.WithLabelValues(result, source).Inc()
}

// tooLarge answers a body over MaxBody (413).
func (ig *ingester) tooLarge(c echo.Context) error {
	// Close the connection after the answer: otherwise net/http reads (and
	// discards) up to 256 KiB more of the body before it sends the 413,
	// and waits for a sender that stalls.
	c.Response().Header().Set(echo.HeaderConnection, "close")
	return relay.Errorf(relay.ETOOLARGE, "body exceeds RELAY_MAX_BODY_BYTES (%d bytes)", ig.MaxBody)
}

// unauthorized answers a signature failure (401), counted by its code.
func (ig *ingester) unauthorized(in *relay.Intake, err error, bodyBytes int) error {
	code := signature.Code(err)
	ig.received("unauthorized", in.Source)
	ig.Metrics.SignatureFailure.WithLabelValues(code).Inc()
	ig.Log.Warn("delivery refused", "result", "unauthorized", "source", in.Source, "code", code, "body_bytes", bodyBytes)
	return &relay.Error{Code: code, Message: signature.Message(err)}
}

// overloaded answers a body that does not fit the in-flight budget (503
// with Retry-After: 1).
func (ig *ingester) overloaded(c echo.Context, in *relay.Intake) error {
	ig.received("overloaded", in.Source)
	ig.Metrics.Overloaded.Inc()
	ig.Log.Warn("delivery refused", "result", "overloaded", "content_length", c.Request().ContentLength)
	c.Response().Header().Set(echo.HeaderConnection, "close")
	c.Response().Header().Set("Retry-After", "1")
	return relay.Errorf(relay.EOVERLOADED, "too many request bodies in flight (RELAY_MAX_INFLIGHT_BYTES); retry later")
}

// readAccounted reads a body of unknown length (chunked) into buf,
// reserving readStep more bytes of the budget before each step, so what it
// holds is always reserved. It stops with tooBig past maxBody, with over
// when the budget has no room for the next step, or with a read error.
// *reserved is what it holds reserved; the caller releases it.
func readAccounted(buf *bytes.Buffer, r io.Reader, maxBody int64, budget *inflight, reserved *int64) (tooBig, over bool, err error) {
	limit := maxBody + 1
	for {
		if int64(buf.Len()) >= *reserved {
			step := min(int64(readStep), limit-*reserved)
			if step <= 0 {
				return true, false, nil
			}
			if !budget.reserve(step) {
				return false, true, nil
			}
			*reserved += step
		}
		want := int(*reserved) - buf.Len()
		buf.Grow(want)
		n, rerr := r.Read(buf.AvailableBuffer()[:want])
		buf.Write(buf.AvailableBuffer()[:n]) // n bytes already in place: Write only extends the length
		switch {
		case int64(buf.Len()) > maxBody:
			return true, false, nil
		case rerr == io.EOF:
			return false, false, nil
		case rerr != nil:
			return false, false, rerr
		}
	}
}

// inflight is the byte budget of bodies being read or verified.
type inflight struct {
	max   int64
	used  atomic.Int64
	gauge prometheus.Gauge
}

// reserve takes n bytes of the budget, or reports false and takes nothing
// when they do not fit.
func (b *inflight) reserve(n int64) bool {
	for {
		cur := b.used.Load()
		if cur+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(cur, cur+n) {
			b.gauge.Add(float64(n))
			return true
		}
	}
}

// release gives n reserved bytes back.
func (b *inflight) release(n int64) {
	if n > 0 {
		b.used.Add(-n)
		b.gauge.Sub(float64(n))
	}
}

// ackBody writes {"status":...,"id":...} without reflection.
func ackBody(status relay.IngestStatus, id string) []byte {
	b := make([]byte, 0, 40+len(id))
	b = append(b, `{"status":"`...)
	b = append(b, status...)
	b = append(b, `","id":`...)
	b = relay.AppendJSONString(b, id)
	return append(b, '}')
}
