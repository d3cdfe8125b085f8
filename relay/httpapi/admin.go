package httpapi

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
)

// requireToken guards /v1: with a token configured every call needs
// "Authorization: Bearer <token>" (compared in constant time); without one
// the listener is loopback-only (checked at start) and /v1 is open. A
// missing or wrong token is counted and logged by failures.
func requireToken(token string, failures *adminhttp.AuthFailures) echo.MiddlewareFunc {
	// Compared as SHA-256 digests: equal lengths, so the time taken does
	// not tell the token's length either.
	want := sha256.Sum256([]byte(token))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if token == "" {
				return next(c)
			}
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			scheme, got, _ := strings.Cut(auth, " ")
			digest := sha256.Sum256([]byte(strings.TrimSpace(got)))
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(digest[:], want[:]) != 1 {
				failures.Record(adminhttp.AuthBearer, c.RealIP(), c.Path())
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="tagihan-relay"`)
				return relay.Errorf(relay.EUNAUTHORIZED, "missing or wrong bearer token")
			}
			return next(c)
		}
	}
}

// requireBodyType refuses, with 415, a state-changing /v1/ request whose
// Content-Type is not application/json (application/x-ndjson for
// /v1/import). It holds for empty bodies too: no /v1/ call does anything
// useful without a body, and a browser can send neither type to another
// origin without a CORS preflight, which this listener never grants.
func requireBodyType(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !adminhttp.Unsafe(r.Method) {
			return next(c)
		}
		want := echo.MIMEApplicationJSON
		if c.Path() == "/v1/import" {
			want = "application/x-ndjson"
		}
		got, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
		if err != nil || got != want {
			return relay.Errorf(relay.EUNSUPPORTEDMEDIA, "Content-Type: the body must be %s", want)
		}
		return next(c)
	}
}

// operator names who asked, for the event's history.
func operator(c echo.Context) string {
	if o := strings.TrimSpace(c.Request().Header.Get("X-Relay-Operator")); o != "" && len(o) <= 100 {
		return "api:" + o
	}
	return "api"
}

// idParam returns the event id of the route by the rule the console
// shares (adminhttp.PathID).
func idParam(c echo.Context) (string, error) { return adminhttp.PathID(c, "id") }

// parseTime reads an RFC 3339 query parameter.
func parseTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, relay.Errorf(relay.EINVALID, "%s: %q is not an RFC 3339 time", name, v)
	}
	return t, nil
}

func parseLimit(c echo.Context) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, relay.Errorf(relay.EINVALID, "limit: must be an integer from 1 to 1000")
	}
	return n, nil
}

func parseGlob(c echo.Context, name string) (string, error) {
	v := c.QueryParam(name)
	if v != "" && !relay.ValidGlob(v) {
		return "", relay.Errorf(relay.EINVALID, "%s: %q is not a valid glob", name, v)
	}
	return v, nil
}

var eventStatuses = map[string]bool{relay.StatusUnparsed: true, relay.StatusUnrouted: true, relay.StatusNeedsReview: true,
	relay.StatusDead: true, relay.StatusPending: true, relay.StatusDelivered: true}

// EventFilterFromQuery reads the event filters of GET /v1/events.
func eventFilter(c echo.Context) (relay.EventFilter, error) {
	var f relay.EventFilter
	var err error
	f.Q = c.QueryParam("q")
	f.Subject = c.QueryParam("subject")
	f.Source = c.QueryParam("source")
	f.Cursor = c.QueryParam("cursor")
	f.Status = c.QueryParam("status")
	if f.Status != "" && !eventStatuses[f.Status] {
		return f, relay.Errorf(relay.EINVALID, "status: %q is not one of unparsed, unrouted, needs_review, dead, pending, delivered", f.Status)
	}
	if f.Type, err = parseGlob(c, "type"); err != nil {
		return f, err
	}
	if f.Since, err = parseTime(c, "since"); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(c, "until"); err != nil {
		return f, err
	}
	if f.Limit, err = parseLimit(c); err != nil {
		return f, err
	}
	return f, nil
}

func handleListEvents(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, err := eventFilter(c)
		if err != nil {
			return err
		}
		page, err := ops.ListEvents(c.Request().Context(), f)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, page)
	}
}

func handleGetEvent(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		d, err := ops.GetEvent(c.Request().Context(), id)
		if err != nil {
			return err
		}
		// raw.body is absent when the body is not JSON. JSON is UTF-8 (RFC
		// 8259), ingest stored such a body as unparsed, and a RawMessage is
		// written out as is: invalid UTF-8 would make this answer invalid.
		if !utf8.Valid(d.Raw.Body) {
			d.Raw.Body = nil
		}
		return c.JSON(http.StatusOK, d)
	}
}

// bindJSON decodes a JSON request body strictly.
func bindJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			return relay.Errorf(relay.EINVALID, "body: a JSON object is required")
		}
		return relay.Errorf(relay.EINVALID, "body: %v", err)
	}
	return nil
}

func handleReplay(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		var body ReplayRequest
		if err := bindJSON(c, &body); err != nil {
			return err
		}
		res, err := ops.Replay(c.Request().Context(), id, body.Sink, operator(c))
		if err != nil {
			return err
		}
		// {"queued":1}, or {"queued":0,"skipped":1,"reason":"..."} when a
		// create-once sink already has the subject's document (SPEC 3).
		return c.JSON(http.StatusAccepted, res)
	}
}

func handleResolve(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		var res relay.Resolution
		if err := bindJSON(c, &res); err != nil {
			return err
		}
		if err := ops.Resolve(c.Request().Context(), id, res, operator(c)); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, ResolveResponse{Resolved: true, EventID: id, Sink: res.Sink, Outcome: res.Outcome})
	}
}

func handleDeadLetters(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		var f relay.DeadLetterFilter
		var err error
		f.Sink = c.QueryParam("sink")
		f.Source = c.QueryParam("source")
		f.State = c.QueryParam("state")
		f.Cursor = c.QueryParam("cursor")
		if f.Type, err = parseGlob(c, "type"); err != nil {
			return err
		}
		if f.Since, err = parseTime(c, "since"); err != nil {
			return err
		}
		if f.Limit, err = parseLimit(c); err != nil {
			return err
		}
		page, err := ops.ListDeadLetters(c.Request().Context(), f)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, page)
	}
}

func handleRedrive(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		var r relay.Redrive
		if err := bindJSON(c, &r); err != nil {
			return err
		}
		n, err := ops.Redrive(c.Request().Context(), r, operator(c))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, RedriveResponse{Redriven: n})
	}
}

func handleStats(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		st, err := ops.Stats(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, st)
	}
}

func handleExport(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		var f relay.ExportFilter
		var err error
		if f.Type, err = parseGlob(c, "type"); err != nil {
			return err
		}
		if f.Since, err = parseTime(c, "since"); err != nil {
			return err
		}
		if f.Until, err = parseTime(c, "until"); err != nil {
			return err
		}
		w := c.Response()
		w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriterSize(w, 64<<10)
		ew := relay.NewExportWriter(bw)
		if err := ops.Export(c.Request().Context(), f, ew.Write); err != nil {
			// The status is sent; end the stream with an error line so a
			// reader never mistakes a cut export for a whole one, and
			// return the error for errorHandler to log.
			_ = ew.Fail(err)
			_ = bw.Flush()
			return err
		}
		return bw.Flush()
	}
}

// MaxImportLine bounds one NDJSON line of an import.
const MaxImportLine = relay.MaxExportLine

func handleImport(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		route := c.QueryParam("route") == "true"
		r := relay.NewExportReader(c.Request().Body)
		imported, skipped := 0, 0
		var batch []*relay.ExportRecord
		flush := func() error {
			i, s, err := ops.ImportMany(c.Request().Context(), batch, route)
			imported += i
			skipped += s
			batch = batch[:0]
			if err != nil {
				if relay.ErrorCode(err) == relay.EINVALID {
					return relay.Errorf(relay.EINVALID, "before line %d: %s (imported %d)", r.Line()+1, relay.ErrorMessage(err), imported)
				}
				return fmt.Errorf("import before line %d: %w", r.Line()+1, err)
			}
			return nil
		}
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err == nil {
				if err = rec.Validate(); err != nil {
					err = &relay.LineError{Line: r.Line(), Err: err}
				}
			}
			if err != nil {
				// What came before the bad line is imported, as a
				// line-by-line import would have.
				if ferr := flush(); ferr != nil {
					return ferr
				}
				return badImportLine(err, r.Line(), imported)
			}
			batch = append(batch, rec)
			if len(batch) == 512 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, ImportResponse{Imported: imported, Skipped: skipped})
	}
}

// badImportLine is the answer to an import stopped by a bad line.
func badImportLine(err error, line, imported int) error {
	var le *relay.LineError
	if errors.As(err, &le) {
		line, err = le.Line, le.Err
	}
	msg := err.Error()
	if relay.ErrorCode(err) != "" {
		msg = relay.ErrorMessage(err)
	}
	return relay.Errorf(relay.EINVALID, "line %d: %s (imported %d before it)", line, msg, imported)
}

func handleBackup(ops *relay.Operations) echo.HandlerFunc {
	return func(c echo.Context) error {
		w := c.Response()
		ctype, ext := "application/octet-stream", ".db"
		if f, ok := ops.Store.(interface{ BackupContentType() string }); ok {
			// A backend whose backup is not a database file (NATS: an
			// export-format snapshot) says what it writes.
			ctype, ext = f.BackupContentType(), ".ndjson"
		}
		w.Header().Set(echo.HeaderContentType, ctype)
		w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="relay-`+time.Now().UTC().Format("20060102T150405Z")+ext+`"`)
		w.WriteHeader(http.StatusOK)
		_, err := ops.Backup(c.Request().Context(), w)
		return err
	}
}
