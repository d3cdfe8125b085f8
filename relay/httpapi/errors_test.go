package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
)

// exportFailing is a store whose Export fails after the first record.
type exportFailing struct {
	relay.Store
	err error
}

func (s exportFailing) Export(ctx context.Context, f relay.ExportFilter, fn func(*relay.ExportRecord) error) error {
	n := 0
	err := s.Store.Export(ctx, f, func(r *relay.ExportRecord) error {
		if n++; n > 1 {
			return s.err
		}
		return fn(r)
	})
	if err == nil {
		return errors.New("test: the store exported fewer than 2 records")
	}
	return err
}

// An export that fails after its 200 was sent ends with an error line in
// the answer's shape, and the cause is logged, never answered.
func TestAdmin_ExportFailsMidStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, id := range []string{"evt_exp_fail_1", "evt_exp_fail_2"} {
		e.deliver(t, fixture(t, "transaction.paid", fixtures.Options{EventID: id, Now: t0}), "accepted")
	}
	logs := &syncBuffer{}
	cause := errors.New("read relay.db: secret internal detail")
	h := httpapi.AdminHandler(httpapi.Admin{Ops: &relay.Operations{Store: exportFailing{Store: e.Store, err: cause}},
		Gatherer: prometheus.NewRegistry(), Log: slog.New(slog.NewJSONHandler(logs, nil))})
	srv := startServer(t, h, slog.New(slog.DiscardHandler))
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/export", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(t, req)
	if r.Status != http.StatusOK {
		t.Fatalf("export: %s", r)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 {
		t.Fatalf("export: %d lines, want a record and the error line:\n%s", len(lines), r.Body)
	}
	var last map[string]string
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil {
		t.Fatal(err)
	}
	if len(last) != 2 || last["error"] != relay.EINTERNAL || last["message"] != "export failed: internal error" {
		t.Errorf("error line %s, want {\"error\":\"internal\",\"message\":\"export failed: internal error\"}", lines[1])
	}
	if !strings.Contains(logs.String(), "secret internal detail") {
		t.Errorf("the cause was not logged: %s", logs)
	}
}
