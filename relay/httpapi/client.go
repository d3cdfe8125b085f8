package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Client calls the admin API of a running service: the routes of
// adminRoutes, with the bodies of types.go.
type Client struct {
	base  string
	token string
	hc    *http.Client
	// Operator is sent as X-Relay-Operator, recorded in the history of
	// what the calls change.
	Operator string
}

// NewClient returns a client of the admin API at baseURL (http or https,
// no trailing path), authenticating with token when it is not "". A nil
// hc is http.DefaultClient.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, hc: hc}
}

// APIError is an error answer of the admin API.
type APIError struct {
	Status  int
	Code    string // the "error" field, else the status text
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, e.Code, e.Message)
}

// UnreachableError is a call that got no answer at all.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("admin API unreachable at %s: %v (is the service running? or use --db)", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// do sends one request and turns an answer of 300 or more into an
// *APIError; the caller closes the body of a returned response.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Operator != "" {
		req.Header.Set("X-Relay-Operator", c.Operator)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &UnreachableError{URL: c.base, Err: err}
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp, nil
}

// readAPIError reads the ErrorResponse of an error answer; a body that is
// not one (a proxy's page) becomes the message.
func readAPIError(resp *http.Response) *APIError {
	ae := &APIError{Status: resp.StatusCode}
	b, _ := relay.ReadAnswer(resp.Body, 64<<10)
	var er ErrorResponse
	if json.Unmarshal(b, &er) != nil || er.Error == "" {
		ae.Code = http.StatusText(resp.StatusCode)
		ae.Message = strings.TrimSpace(string(b))
		return ae
	}
	ae.Code, ae.Message = er.Error, er.Message
	return ae
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, path, nil, bytes.NewReader(b), "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// query builds a query string from name/value pairs, leaving out "".
func query(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

func timeParam(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func limitParam(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func eventPath(id string) string { return "/v1/events/" + url.PathEscape(id) }

// ListEvents is GET /v1/events.
func (c *Client) ListEvents(ctx context.Context, f relay.EventFilter) (relay.EventPage, error) {
	q := query("q", f.Q, "type", f.Type, "status", f.Status, "subject", f.Subject, "source", f.Source, "cursor", f.Cursor,
		"since", timeParam(f.Since), "until", timeParam(f.Until), "limit", limitParam(f.Limit))
	var p relay.EventPage
	return p, c.getJSON(ctx, "/v1/events", q, &p)
}

// GetEvent is GET /v1/events/{id}.
func (c *Client) GetEvent(ctx context.Context, id string) (*relay.EventDetail, error) {
	var d relay.EventDetail
	if err := c.getJSON(ctx, eventPath(id), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Replay is POST /v1/events/{id}/replay.
func (c *Client) Replay(ctx context.Context, id, sink string) (relay.ReplayResult, error) {
	var res relay.ReplayResult
	err := c.postJSON(ctx, eventPath(id)+"/replay", ReplayRequest{Sink: sink}, &res)
	return res, err
}

// Resolve is POST /v1/events/{id}/resolve.
func (c *Client) Resolve(ctx context.Context, id string, r relay.Resolution) (ResolveResponse, error) {
	var res ResolveResponse
	err := c.postJSON(ctx, eventPath(id)+"/resolve", r, &res)
	return res, err
}

// ListDeadLetters is GET /v1/dead-letters.
func (c *Client) ListDeadLetters(ctx context.Context, f relay.DeadLetterFilter) (relay.DeadLetterPage, error) {
	q := query("sink", f.Sink, "source", f.Source, "type", f.Type, "state", f.State, "cursor", f.Cursor,
		"since", timeParam(f.Since), "limit", limitParam(f.Limit))
	var p relay.DeadLetterPage
	return p, c.getJSON(ctx, "/v1/dead-letters", q, &p)
}

// Redrive is POST /v1/dead-letters/redrive; it returns how many
// deliveries went back to pending.
func (c *Client) Redrive(ctx context.Context, r relay.Redrive) (int, error) {
	var out RedriveResponse
	err := c.postJSON(ctx, "/v1/dead-letters/redrive", r, &out)
	return out.Redriven, err
}

// Export is GET /v1/export: it calls fn for each record, and fails when
// the server ended the export with an error line (it was cut short).
func (c *Client) Export(ctx context.Context, f relay.ExportFilter, fn func(*relay.ExportRecord) error) error {
	q := query("type", f.Type, "since", timeParam(f.Since), "until", timeParam(f.Until))
	resp, err := c.do(ctx, http.MethodGet, "/v1/export", q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r := relay.NewExportReader(resp.Body)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var cut *relay.ExportCutError
		if errors.As(err, &cut) {
			return fmt.Errorf("admin API: %w", err)
		}
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// Import is POST /v1/import of recs as NDJSON; route also sends them to
// the configured sinks.
func (c *Client) Import(ctx context.Context, recs []*relay.ExportRecord, route bool) (imported, skipped int, err error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return 0, 0, err
		}
	}
	q := url.Values{}
	if route {
		q.Set("route", "true")
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/import", q, &buf, "application/x-ndjson")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var out ImportResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, 0, err
	}
	return out.Imported, out.Skipped, nil
}

// Backup is GET /v1/backup, copied to w.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/backup", nil, nil, "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(w, resp.Body)
}
