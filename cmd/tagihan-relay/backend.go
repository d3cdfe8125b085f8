package main

import (
	"bufio"
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
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// backend is what the operating commands need: the admin API of a running
// service, or the database file opened directly (--db).
type backend interface {
	ListEvents(ctx context.Context, f relay.EventFilter) (relay.EventPage, error)
	GetEvent(ctx context.Context, id string) (*relay.EventDetail, error)
	Replay(ctx context.Context, id, sink string) (relay.ReplayResult, error)
	Resolve(ctx context.Context, id string, r relay.Resolution) error
	ListDeadLetters(ctx context.Context, f relay.DeadLetterFilter) (relay.DeadLetterPage, error)
	Redrive(ctx context.Context, r relay.Redrive) (int, error)
	Export(ctx context.Context, f relay.ExportFilter, fn func(*relay.ExportRecord) error) error
	Import(ctx context.Context, recs []*relay.ExportRecord, route bool) (imported, skipped int, err error)
	Backup(ctx context.Context, w io.Writer) (int64, error)
	Close() error
}

// openBackend picks the admin API or, with --db, the file. write says
// whether the command changes anything (the file is then opened for
// writing; import --db creates it).
func (e *cliEnv) openBackend(o *adminOpts, write bool) (backend, error) {
	m, err := e.envMap()
	if err != nil {
		return nil, err
	}
	if o.db != "" {
		st, err := store.Open(o.db, store.Options{ReadOnly: !write, LockTimeout: 500 * time.Millisecond})
		if errors.Is(err, store.ErrLocked) {
			return nil, fmt.Errorf("%s is locked by a running tagihan-relay: stop it, or leave out --db to use its admin API", o.db)
		}
		if err != nil {
			return nil, err
		}
		var routes []relay.Route
		if cfg, err := loadConfig(m); err == nil {
			for _, sc := range cfg.SinkConfs {
				routes = append(routes, relay.Route{Sink: sc.Name, Events: sc.Common.Events, IncludeTests: sc.Common.IncludeTests, OrderBySubject: sc.Common.Ordering == "subject",
					CreateOnce: sc.Common.Kind == "accountingplus" || sc.Common.Kind == "onlinepajak"})
			}
		} else if write {
			st.Close()
			return nil, fmt.Errorf("configuration (needed to know the sinks):\n%w", err)
		}
		source := m["RELAY_SOURCE"]
		if source == "" {
			source = "tagihanai"
		}
		rc := &relay.Receiver{Store: st, Routes: routes, Source: source}
		return &localBackend{st: st, ops: &relay.Operations{Store: st, Receiver: rc}, operator: "cli:" + osUser()}, nil
	}
	base := o.admin
	if base == "" {
		addr := m["RELAY_ADMIN_ADDR"]
		if addr == "" {
			addr = "127.0.0.1:8081"
		}
		base = "http://" + addr
	}
	token := o.token
	if token == "" {
		token = m["RELAY_ADMIN_TOKEN"]
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &usageError{fmt.Sprintf("--admin %q: not an http(s) URL", base)}
	}
	return &apiBackend{base: u.String(), token: token, hc: &http.Client{}, operator: "cli:" + osUser()}, nil
}

// localBackend runs the same domain calls as the admin API on the file.
type localBackend struct {
	st       *store.Store
	ops      *relay.Operations
	operator string
}

func (l *localBackend) ListEvents(ctx context.Context, f relay.EventFilter) (relay.EventPage, error) {
	return l.ops.ListEvents(ctx, f)
}
func (l *localBackend) GetEvent(ctx context.Context, id string) (*relay.EventDetail, error) {
	return l.ops.GetEvent(ctx, id)
}
func (l *localBackend) Replay(ctx context.Context, id, sink string) (relay.ReplayResult, error) {
	return l.ops.Replay(ctx, id, sink, l.operator)
}
func (l *localBackend) Resolve(ctx context.Context, id string, r relay.Resolution) error {
	return l.ops.Resolve(ctx, id, r, l.operator)
}
func (l *localBackend) ListDeadLetters(ctx context.Context, f relay.DeadLetterFilter) (relay.DeadLetterPage, error) {
	return l.ops.ListDeadLetters(ctx, f)
}
func (l *localBackend) Redrive(ctx context.Context, r relay.Redrive) (int, error) {
	return l.ops.Redrive(ctx, r, l.operator)
}
func (l *localBackend) Export(ctx context.Context, f relay.ExportFilter, fn func(*relay.ExportRecord) error) error {
	return l.st.Export(ctx, f, fn)
}
func (l *localBackend) Import(ctx context.Context, recs []*relay.ExportRecord, route bool) (int, int, error) {
	return l.ops.ImportMany(ctx, recs, route)
}
func (l *localBackend) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return l.st.Backup(ctx, w)
}
func (l *localBackend) Close() error { return l.st.Close() }

// apiBackend calls the admin API of a running service.
type apiBackend struct {
	base     string
	token    string
	hc       *http.Client
	operator string
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, e.Code, e.Message)
}

func (a *apiBackend) do(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string) (*http.Response, error) {
	u := a.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-Relay-Operator", a.operator)
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w (is the service running? or use --db)", a.base, errors.Unwrap(err))
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		ae := &apiError{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, ae) != nil || ae.Code == "" {
			ae.Code = http.StatusText(resp.StatusCode)
			ae.Message = strings.TrimSpace(string(b))
		}
		return nil, ae
	}
	return resp, nil
}

func (a *apiBackend) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := a.do(ctx, http.MethodGet, path, q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func (a *apiBackend) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := a.do(ctx, http.MethodPost, path, nil, bytes.NewReader(b), "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func setTime(q url.Values, name string, t time.Time) {
	if !t.IsZero() {
		q.Set(name, t.UTC().Format(time.RFC3339Nano))
	}
}

func setStr(q url.Values, name, v string) {
	if v != "" {
		q.Set(name, v)
	}
}

func (a *apiBackend) ListEvents(ctx context.Context, f relay.EventFilter) (relay.EventPage, error) {
	q := url.Values{}
	setStr(q, "q", f.Q)
	setStr(q, "type", f.Type)
	setStr(q, "status", f.Status)
	setStr(q, "subject", f.Subject)
	setStr(q, "cursor", f.Cursor)
	setTime(q, "since", f.Since)
	setTime(q, "until", f.Until)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var p relay.EventPage
	return p, a.getJSON(ctx, "/v1/events", q, &p)
}

func eventPath(id string) string { return "/v1/events/" + url.PathEscape(id) }

func (a *apiBackend) GetEvent(ctx context.Context, id string) (*relay.EventDetail, error) {
	var d relay.EventDetail
	if err := a.getJSON(ctx, eventPath(id), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (a *apiBackend) Replay(ctx context.Context, id, sink string) (relay.ReplayResult, error) {
	var res relay.ReplayResult
	err := a.postJSON(ctx, eventPath(id)+"/replay", map[string]string{"sink": sink}, &res)
	return res, err
}

func (a *apiBackend) Resolve(ctx context.Context, id string, r relay.Resolution) error {
	return a.postJSON(ctx, eventPath(id)+"/resolve", r, nil)
}

func (a *apiBackend) ListDeadLetters(ctx context.Context, f relay.DeadLetterFilter) (relay.DeadLetterPage, error) {
	q := url.Values{}
	setStr(q, "sink", f.Sink)
	setStr(q, "type", f.Type)
	setStr(q, "state", f.State)
	setStr(q, "cursor", f.Cursor)
	setTime(q, "since", f.Since)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var p relay.DeadLetterPage
	return p, a.getJSON(ctx, "/v1/dead-letters", q, &p)
}

func (a *apiBackend) Redrive(ctx context.Context, r relay.Redrive) (int, error) {
	var out struct {
		Redriven int `json:"redriven"`
	}
	err := a.postJSON(ctx, "/v1/dead-letters/redrive", r, &out)
	return out.Redriven, err
}

func (a *apiBackend) Export(ctx context.Context, f relay.ExportFilter, fn func(*relay.ExportRecord) error) error {
	q := url.Values{}
	setStr(q, "type", f.Type)
	setTime(q, "since", f.Since)
	setTime(q, "until", f.Until)
	resp, err := a.do(ctx, http.MethodGet, "/v1/export", q, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), httpapi.MaxImportLine)
	for sc.Scan() {
		var probe struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.Unmarshal(sc.Bytes(), &probe) == nil && probe.Error != "" {
			return fmt.Errorf("admin API: export cut short: %s", probe.Message)
		}
		rec, err := relay.ParseExportRecord(sc.Bytes())
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return sc.Err()
}

func (a *apiBackend) Import(ctx context.Context, recs []*relay.ExportRecord, route bool) (int, int, error) {
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
	resp, err := a.do(ctx, http.MethodPost, "/v1/import", q, &buf, "application/x-ndjson")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Imported int `json:"imported"`
		Skipped  int `json:"skipped"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, 0, err
	}
	return out.Imported, out.Skipped, nil
}

func (a *apiBackend) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := a.do(ctx, http.MethodGet, "/v1/backup", nil, nil, "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(w, resp.Body)
}

func (a *apiBackend) Close() error { return nil }
