package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// TestClient runs every Client call against the real admin API over a
// bbolt store, with a token, and checks what each call changed.
func TestClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{Token: "tok_client"})
	seedDeadLetters(t, e) // erp: evt_dl_1/2/4 dead; ap: evt_dl_1 dead, evt_dl_3 needs review
	c := httpapi.NewClient(e.Admin.URL+"/", "tok_client", e.Client)
	c.Operator = "cli:tester"
	ctx := context.Background()

	page, err := c.ListEvents(ctx, relay.EventFilter{Type: "transaction.*", Limit: 1})
	if err != nil || len(page.Events) != 1 || page.NextCursor == "" {
		t.Fatalf("ListEvents limit 1: %+v, %v", page, err)
	}
	page, err = c.ListEvents(ctx, relay.EventFilter{Type: "transaction.*", Cursor: page.NextCursor, Since: t0.Add(-time.Hour)})
	if err != nil || len(page.Events) != 1 || page.NextCursor != "" {
		t.Fatalf("ListEvents second page: %+v, %v", page, err)
	}

	d, err := c.GetEvent(ctx, "evt_dl_2")
	if err != nil || d.ID != "evt_dl_2" || d.Type != "payment.failed" || len(d.Raw.BodyBase64) == 0 {
		t.Fatalf("GetEvent: %+v, %v", d, err)
	}

	dl, err := c.ListDeadLetters(ctx, relay.DeadLetterFilter{Sink: "ap"})
	if err != nil || len(dl.DeadLetters) != 2 {
		t.Fatalf("ListDeadLetters ap: %+v, %v", dl, err)
	}

	res, err := c.Resolve(ctx, "evt_dl_3", relay.Resolution{Sink: "ap", Outcome: "delivered", Result: map[string]string{"document_number": "AP-1"}})
	want := httpapi.ResolveResponse{Resolved: true, EventID: "evt_dl_3", Sink: "ap", Outcome: "delivered"}
	if err != nil || res != want {
		t.Fatalf("Resolve: %+v, %v; want %+v", res, err, want)
	}

	n, err := c.Redrive(ctx, relay.Redrive{Sink: "erp"})
	if err != nil || n != 3 {
		t.Fatalf("Redrive erp: %d, %v; want 3", n, err)
	}

	rr, err := c.Replay(ctx, "evt_dl_3", "erp")
	if err != nil || rr.Queued != 1 {
		t.Fatalf("Replay: %+v, %v", rr, err)
	}
	d = e.storedEvent(t, "evt_dl_3")
	if len(d.Operations) == 0 || d.Operations[len(d.Operations)-1].Operator != "api:cli:tester" {
		t.Errorf("the operator header did not reach the history: %+v", d.Operations)
	}

	var recs []*relay.ExportRecord
	if err := c.Export(ctx, relay.ExportFilter{Type: "transaction.sent"}, func(r *relay.ExportRecord) error {
		recs = append(recs, r)
		return nil
	}); err != nil || len(recs) != 2 {
		t.Fatalf("Export: %d records, %v; want 2", len(recs), err)
	}

	imp := recs[0]
	imp.ID = "evt_client_imported"
	imported, skipped, err := c.Import(ctx, []*relay.ExportRecord{imp, recs[1]}, false)
	if err != nil || imported != 1 || skipped != 1 {
		t.Fatalf("Import: imported %d skipped %d, %v; want 1, 1", imported, skipped, err)
	}
	e.storedEvent(t, "evt_client_imported")

	var buf bytes.Buffer
	size, err := c.Backup(ctx, &buf)
	if err != nil || size != int64(buf.Len()) || size == 0 {
		t.Fatalf("Backup: %d bytes (%d read), %v", size, buf.Len(), err)
	}
	copyPath := t.TempDir() + "/copy.db"
	if err := os.WriteFile(copyPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(copyPath, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the backup does not open: %v", err)
	}
	if _, err := st.GetEvent(ctx, "evt_client_imported"); err != nil {
		t.Errorf("the backup lacks the imported event: %v", err)
	}
	st.Close()
}

// TestClient_Errors: error answers become *APIError with the server's
// code and message; no answer at all is the unreachable error.
func TestClient_Errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{Token: "tok_client"})
	ctx := context.Background()
	c := httpapi.NewClient(e.Admin.URL, "tok_client", e.Client)

	_, err := c.GetEvent(ctx, "evt_missing")
	var ae *httpapi.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != relay.ENOTFOUND || !strings.Contains(ae.Message, "evt_missing") {
		t.Fatalf("GetEvent of a missing id: %#v", err)
	}
	_, err = c.Replay(ctx, "evt_missing", "nowhere")
	if !errors.As(err, &ae) || ae.Status/100 != 4 || ae.Code == "" {
		t.Errorf("Replay to an unknown sink: %#v", err)
	}

	_, err = httpapi.NewClient(e.Admin.URL, "wrong", e.Client).ListEvents(ctx, relay.EventFilter{})
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("a wrong token: %#v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	_, err = httpapi.NewClient(closed, "", nil).ListEvents(ctx, relay.EventFilter{})
	var ue *httpapi.UnreachableError
	var op *net.OpError
	if !errors.As(err, &ue) || !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("a closed port: %#v", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "admin API unreachable at "+closed+": ") || !strings.HasSuffix(msg, "(is the service running? or use --db)") {
		t.Errorf("unreachable message: %q", msg)
	}
}

// TestClient_ExportCutShort: an export the server ended with its error
// line is an error, not a shorter export.
func TestClient_ExportCutShort(t *testing.T) {
	t.Parallel()
	body := "{\"id\":\"evt_1\",\"received_at\":\"2026-03-01T10:00:00Z\",\"headers\":{},\"body_base64\":\"e30=\",\"status\":\"delivered\"}\n" +
		"{\"error\":\"internal\",\"message\":\"export failed: disk\"}\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/export" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"error":"unauthorized","message":"no"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	n := 0
	err := httpapi.NewClient(srv.URL, "tok", nil).Export(context.Background(), relay.ExportFilter{}, func(*relay.ExportRecord) error { n++; return nil })
	var cut *relay.ExportCutError
	if !errors.As(err, &cut) || n != 1 || !strings.Contains(err.Error(), "export cut short: export failed: disk") {
		t.Fatalf("got %d records, %v", n, err)
	}
}
