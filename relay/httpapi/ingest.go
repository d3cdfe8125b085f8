package httpapi

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/metrics"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// Ingest is what the webhook endpoint needs.
type Ingest struct {
	Verifier *signature.Verifier
	Receiver *relay.Receiver
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	MaxBody  int64
	Now      func() time.Time
}

var bufPool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 4096)) }}

// handleIngest receives one TagihanAI delivery: cap the body, verify the
// signature over the raw bytes, then store (durably) and answer.
func handleIngest(in Ingest) echo.HandlerFunc {
	received := func(result string) { in.Metrics.Received.WithLabelValues(result).Inc() }
	tooLarge := func(c echo.Context) error {
		// Close the connection after the answer: otherwise net/http reads
		// (and discards) up to 256 KiB more of the body before it sends
		// the 413, and waits for a sender that stalls.
		c.Response().Header().Set(echo.HeaderConnection, "close")
		return c.JSON(http.StatusRequestEntityTooLarge, apiError{Error: "too_large",
			Message: "body exceeds RELAY_MAX_BODY_BYTES (" + strconv.FormatInt(in.MaxBody, 10) + " bytes)"})
	}
	return func(c echo.Context) error {
		req := c.Request()
		start := in.Now()
		defer func() { in.Metrics.IngestLatency.Observe(in.Now().Sub(start).Seconds()) }()

		if req.ContentLength > in.MaxBody {
			received("too_large")
			in.Log.Warn("delivery refused", "result", "too_large", "content_length", req.ContentLength)
			return tooLarge(c)
		}
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer func() {
			if buf.Cap() <= 1<<20 {
				bufPool.Put(buf)
			}
		}()
		if _, err := buf.ReadFrom(io.LimitReader(req.Body, in.MaxBody+1)); err != nil {
			received("bad_request")
			in.Log.Warn("delivery refused", "result", "bad_request", "error", err.Error())
			return c.JSON(http.StatusBadRequest, apiError{Error: relay.EINVALID, Message: "could not read the request body"})
		}
		if int64(buf.Len()) > in.MaxBody {
			received("too_large")
			in.Log.Warn("delivery refused", "result", "too_large")
			return tooLarge(c)
		}
		body := buf.Bytes()

		if err := in.Verifier.Verify(req.Header.Get(relay.HeaderSignature), req.Header.Get(relay.HeaderTimestamp), body); err != nil {
			code := signature.Code(err)
			received("unauthorized")
			in.Metrics.SignatureFailure.WithLabelValues(code).Inc()
			in.Log.Warn("delivery refused", "result", "unauthorized", "code", code, "body_bytes", len(body))
			return c.JSON(http.StatusUnauthorized, apiError{Error: code, Message: signatureMessage(err)})
		}

		d := relay.Delivery{ReceivedAt: start.UTC(), Headers: relay.DeliveryHeaders(req.Header), Body: body}
		rc, err := in.Receiver.Receive(req.Context(), d)
		if err != nil {
			received("unavailable")
			in.Log.Error("delivery not stored", "result", "unavailable", "event_id", relay.LogText(rc.ID), "error", err)
			c.Response().Header().Set("Retry-After", "1")
			return c.JSON(http.StatusServiceUnavailable, apiError{Error: relay.EUNAVAILABLE, Message: "could not store the delivery; retry later"})
		}
		received(string(rc.Status))
		in.Log.Info("delivery", "result", string(rc.Status), "event_id", relay.LogText(rc.ID), "type", relay.LogText(rc.Type), "test", rc.Test,
			"sinks", len(rc.Sinks), "duration_ms", float64(in.Now().Sub(start).Microseconds())/1000)
		status := http.StatusOK
		if rc.Status == relay.IngestUnparsed {
			status = http.StatusAccepted
		}
		return c.JSONBlob(status, ackBody(rc.Status, rc.ID))
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

func signatureMessage(err error) string {
	switch {
	case errors.Is(err, signature.ErrMissingSignature):
		return "the X-TagihanAI-Signature header is missing"
	case errors.Is(err, signature.ErrMalformedHeader):
		return "the X-TagihanAI-Signature header could not be parsed (or has no timestamp)"
	case errors.Is(err, signature.ErrTooOld):
		return "the signature timestamp is older than TAGIHANAI_SIGNATURE_TOLERANCE"
	case errors.Is(err, signature.ErrTooNew):
		return "the signature timestamp is further in the future than TAGIHANAI_SIGNATURE_TOLERANCE"
	default:
		return "no signature matches any configured secret"
	}
}
