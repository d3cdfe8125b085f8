package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// importNDJSON posts an export to /v1/import.
func (e *relayEnv) importNDJSON(t *testing.T, query string, ndjson []byte) response {
	t.Helper()
	req := e.adminReq(t, http.MethodPost, "/v1/import"+query, bytes.NewReader(ndjson))
	req.Header.Set("Content-Type", "application/x-ndjson")
	return e.do(t, req)
}

func TestAdmin_ExportImport(t *testing.T) {
	t.Parallel()
	a := newEnv(t, envOptions{Token: adminToken})
	seed := seedEvents(t, a)
	r := a.get(t, "/v1/export")
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") {
		t.Fatalf("export: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	export := r.Body
	var lines []map[string]json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(export))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != len(seed) {
		t.Fatalf("export has %d lines, want %d", len(lines), len(seed))
	}
	for i, m := range lines {
		s := seed[len(seed)-1-i] // oldest first
		var id string
		_ = json.Unmarshal(m["id"], &id)
		if id != s.ID {
			t.Errorf("line %d is %s, want %s (oldest first)", i, id, s.ID)
		}
		for _, key := range []string{"id", "received_at", "headers", "body_base64", "status"} {
			if _, ok := m[key]; !ok {
				t.Errorf("line %d lacks %q", i, key)
			}
		}
		if _, ok := m["event"]; ok == (s.Status == relay.StatusUnparsed) {
			t.Errorf("line %d (%s): event present=%v", i, s.Status, ok)
		}
	}

	t.Run("Filter", func(t *testing.T) {
		r := a.get(t, "/v1/export?type=transaction.*&since="+url.QueryEscape(t0.Add(2*time.Minute).Format(time.RFC3339)))
		if n := bytes.Count(r.Body, []byte("\n")); r.Status != http.StatusOK || n != 2 {
			t.Errorf("filtered export: %d, %d lines; want 200, 2", r.Status, n)
		}
		wantError(t, a.get(t, "/v1/export?since=monday"), http.StatusBadRequest, relay.EINVALID, "since")
	})

	t.Run("RoundTrip", func(t *testing.T) {
		b := newEnv(t, envOptions{Token: adminToken})
		imp := func(want map[string]any) {
			t.Helper()
			r := b.importNDJSON(t, "", export)
			if r.Status != http.StatusOK {
				t.Fatalf("import: %s", r)
			}
			if diff := cmp.Diff(want, decode[map[string]any](t, r)); diff != "" {
				t.Fatalf("import (-want +got):\n%s", diff)
			}
		}
		n := float64(len(seed))
		imp(map[string]any{"imported": n, "skipped": float64(0)})
		imp(map[string]any{"imported": float64(0), "skipped": n})
		for _, s := range seed {
			got, want := b.storedEvent(t, s.ID), a.storedEvent(t, s.ID)
			if !bytes.Equal(got.Raw.BodyBase64, want.Raw.BodyBase64) || !got.ReceivedAt.Equal(want.ReceivedAt) ||
				got.Type != want.Type || got.Subject != want.Subject || got.Test != want.Test {
				t.Errorf("%s differs after the round trip:\n got %+v\nwant %+v", s.ID, got.EventSummary, want.EventSummary)
			}
			// The CloudEvent is the same event. (Not the same bytes: NDJSON
			// needs one line a record, so the export compacts the stored
			// event and its data's whitespace is lost.)
			if diff := cmp.Diff(jsonValue(t, want.Event), jsonValue(t, got.Event)); diff != "" {
				t.Errorf("%s CloudEvent (-want +got):\n%s", s.ID, diff)
			}
			if diff := cmp.Diff(want.Raw.Headers, got.Raw.Headers); diff != "" {
				t.Errorf("%s headers (-want +got):\n%s", s.ID, diff)
			}
			// Not routed without ?route=true.
			if len(got.Deliveries) != 0 {
				t.Errorf("%s was routed on import: %v", s.ID, sinkStates(got))
			}
		}
		if diff := cmp.Diff(idsOf(seed, func(seeded) bool { return true }), b.storedIDs(t)); diff != "" {
			t.Errorf("imported events, newest first (-want +got):\n%s", diff)
		}
	})

	t.Run("Route", func(t *testing.T) {
		c := newEnv(t, envOptions{Token: adminToken})
		r := c.importNDJSON(t, "?route=true", export)
		if r.Status != http.StatusOK {
			t.Fatalf("import: %s", r)
		}
		if diff := cmp.Diff(map[string]string{"erp": relay.StatePending, "ap": relay.StatePending}, sinkStates(c.storedEvent(t, "evt_list_02"))); diff != "" {
			t.Errorf("routed import (-want +got):\n%s", diff)
		}
		if got := sinkStates(c.storedEvent(t, "evt_list_06")); len(got) != 0 {
			t.Errorf("test event routed on import: %v", got)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		c := newEnv(t, envOptions{Token: adminToken})
		wantError(t, c.importNDJSON(t, "", []byte("not json\n")), http.StatusBadRequest, relay.EINVALID, "line 1")
		wantError(t, c.importNDJSON(t, "", []byte("\n{\"received_at\":\"2026-03-01T09:00:00Z\"}\n")), http.StatusBadRequest, relay.EINVALID, "line 2", "id")
		first, _, _ := bytes.Cut(export, []byte("\n"))
		wantError(t, c.importNDJSON(t, "", append(append(first, '\n'), "{\n"...)), http.StatusBadRequest, relay.EINVALID, "line 2", "imported 1")
	})
}

func TestAdmin_Backup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seed := seedEvents(t, e)
	r := e.get(t, "/v1/backup")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("backup: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, r.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer st.Close()
	page, err := st.ListEvents(context.Background(), relay.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != len(seed) {
		t.Fatalf("backup holds %d events, want %d", len(page.Events), len(seed))
	}
	for _, s := range seed {
		d, err := st.GetEvent(context.Background(), s.ID)
		if err != nil || !bytes.Equal(d.Raw.BodyBase64, s.Body) || d.Status != s.Status {
			t.Errorf("backup %s: %v", s.ID, err)
		}
	}
}

// jsonValue decodes JSON for a semantic comparison (nil for no bytes).
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}
