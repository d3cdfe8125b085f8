package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
				routes = append(routes, sc.Route())
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
	c := httpapi.NewClient(u.String(), token, &http.Client{})
	c.Operator = "cli:" + osUser()
	return apiBackend{c}, nil
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
	return l.ops.Export(ctx, f, fn)
}
func (l *localBackend) Import(ctx context.Context, recs []*relay.ExportRecord, route bool) (int, int, error) {
	return l.ops.ImportMany(ctx, recs, route)
}
func (l *localBackend) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return l.ops.Backup(ctx, w)
}
func (l *localBackend) Close() error { return l.st.Close() }

// apiBackend calls the admin API of a running service.
type apiBackend struct{ *httpapi.Client }

func (a apiBackend) Resolve(ctx context.Context, id string, r relay.Resolution) error {
	_, err := a.Client.Resolve(ctx, id, r)
	return err
}

func (a apiBackend) Close() error { return nil }
