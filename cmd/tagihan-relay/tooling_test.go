package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
)

// verifyTagihanAI checks a request the way a developer's app would:
// t=...,v1=... over timestamp.body with secret, within 5 minutes.
func verifyTagihanAI(r *http.Request, body []byte, secret string) error {
	var ts, v1 string
	for _, part := range strings.Split(r.Header.Get("X-TagihanAI-Signature"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q", ts)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s outside tolerance", ts)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(v1)) {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

func TestReplay_ToURLSignedLikeTagihanAI(t *testing.T) {
	p := startRelay(t, t.TempDir())
	client := &http.Client{Timeout: 5 * time.Second}
	stored := map[string][]byte{}
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("evt_replay_%d", i)
		body := fixture(t, "transaction.paid", id, "")
		if code, _ := post(client, p.public, body); code != http.StatusOK {
			t.Fatalf("post: %d", code)
		}
		stored[id] = body
	}
	post(client, p.public, fixture(t, "party.created", "evt_replay_party", ""))

	const devSecret = "whsec_developer_local_secret"
	var mu sync.Mutex
	got := map[string][]byte{}
	var failures []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := verifyTagihanAI(r, body, devSecret); err != nil {
			failures = append(failures, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got[r.Header.Get("X-TagihanAI-Event-Id")] = body
		w.WriteHeader(http.StatusOK)
	}))
	defer app.Close()

	env := []string{"RELAY_ADMIN_ADDR=" + strings.TrimPrefix(p.admin, "http://")}
	t.Run("DryRunSendsNothing", func(t *testing.T) {
		out, _, err := runCLI(t, env, "replay", "--type", "transaction.*", "--since", "1h", "--to", app.URL, "--secret", devSecret, "--dry-run")
		if err != nil {
			t.Fatalf("replay --dry-run: %v\n%s", err, out)
		}
		if strings.Count(out, "would send") != 3 {
			t.Fatalf("dry run output:\n%s", out)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got)+len(failures) != 0 {
			t.Fatalf("dry run sent %d requests", len(got)+len(failures))
		}
	})
	t.Run("OK", func(t *testing.T) {
		out, _, err := runCLI(t, env, "replay", "--type", "transaction.*", "--since", "1h", "--to", app.URL, "--secret", devSecret, "--json")
		if err != nil {
			t.Fatalf("replay: %v\n%s", err, out)
		}
		var summary struct{ Selected, Sent, OK, Failed int }
		if err := json.Unmarshal([]byte(out), &summary); err != nil {
			t.Fatalf("summary %q: %v", out, err)
		}
		if summary.Sent != 3 || summary.OK != 3 || summary.Failed != 0 {
			t.Fatalf("summary %+v", summary)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(failures) > 0 {
			t.Fatalf("the app rejected replays: %v", failures)
		}
		for id, body := range stored {
			if !bytes.Equal(got[id], body) {
				t.Errorf("%s: replayed body differs from the stored one", id)
			}
		}
	})
	t.Run("Non2xxCounted", func(t *testing.T) {
		out, _, err := runCLI(t, env, "replay", "evt_replay_0", "--to", app.URL, "--secret", "whsec_wrong", "--json")
		if err == nil {
			t.Fatalf("replay with the wrong secret should fail:\n%s", out)
		}
		if !strings.Contains(out, `"401": 1`) {
			t.Fatalf("summary does not count the 401:\n%s", out)
		}
	})
}

func TestExportImport_RoundTrip(t *testing.T) {
	p := startRelay(t, t.TempDir())
	client := &http.Client{Timeout: 5 * time.Second}
	const n = 60
	for i := 0; i < n; i++ {
		typ := []string{"transaction.sent", "payment.completed", "party.updated"}[i%3]
		if code, _ := post(client, p.public, fixture(t, typ, fmt.Sprintf("evt_exp_%03d", i), "")); code != http.StatusOK {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	// One unparsed delivery, which must round-trip too.
	if code, _ := post(client, p.public, []byte("not json at all")); code != http.StatusAccepted {
		t.Fatalf("unparsed post: %d", code)
	}
	env := []string{"RELAY_ADMIN_ADDR=" + strings.TrimPrefix(p.admin, "http://")}
	dir := t.TempDir()
	exported := filepath.Join(dir, "export.ndjson")
	if out, errOut, err := runCLI(t, env, "export", "--out", exported); err != nil {
		t.Fatalf("export: %v\n%s%s", err, out, errOut)
	}
	fresh := filepath.Join(dir, "fresh", "relay.db")
	out, _, err := runCLI(t, nil, "import", exported, "--db", fresh, "--json")
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf(`"imported": %d`, n+1)) {
		t.Fatalf("first import: %s", out)
	}
	out, _, err = runCLI(t, nil, "import", exported, "--db", fresh, "--json")
	if err != nil || !strings.Contains(out, `"imported": 0`) || !strings.Contains(out, fmt.Sprintf(`"skipped": %d`, n+1)) {
		t.Fatalf("second import: %v %s", err, out)
	}
	reexport, _, err := runCLI(t, nil, "export", "--db", fresh)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(exported)
	a, b := exportByID(t, orig), exportByID(t, []byte(reexport))
	if len(a) != n+1 || len(b) != n+1 {
		t.Fatalf("exported %d, re-exported %d, want %d", len(a), len(b), n+1)
	}
	for id, ra := range a {
		rb := b[id]
		if rb == nil {
			t.Errorf("%s missing after import", id)
			continue
		}
		if !bytes.Equal(ra.BodyBase64, rb.BodyBase64) || !ra.ReceivedAt.Equal(rb.ReceivedAt) || fmt.Sprint(ra.Headers) != fmt.Sprint(rb.Headers) || !bytes.Equal(ra.Event, rb.Event) {
			t.Errorf("%s differs after the round trip", id)
		}
	}
}

func exportByID(t *testing.T, data []byte) map[string]*relay.ExportRecord {
	t.Helper()
	out := map[string]*relay.ExportRecord{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		r, err := relay.ParseExportRecord(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		out[r.ID] = r
	}
	return out
}

func TestBackup_HotCopyDuringIngest(t *testing.T) {
	p := startRelay(t, t.TempDir())
	client := &http.Client{Timeout: 5 * time.Second}
	var before []string
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("evt_bk_%03d", i)
		if code, _ := post(client, p.public, fixture(t, "payment.completed", id, "")); code != http.StatusOK {
			t.Fatalf("post: %d", code)
		}
		before = append(before, id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				post(client, p.public, fixture(t, "payment.completed", fmt.Sprintf("evt_bk_during_%d_%d", w, i), ""))
			}
		}()
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	stdout, _, err := runCLI(t, []string{"RELAY_ADMIN_ADDR=" + strings.TrimPrefix(p.admin, "http://")}, "backup", "--out", out)
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, stdout)
	}
	st, err := store.Open(out, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("backup does not open: %v", err)
	}
	defer st.Close()
	for _, id := range before {
		if _, err := st.GetEvent(context.Background(), id); err != nil {
			t.Errorf("%s acked before the backup is missing from it: %v", id, err)
		}
	}
}

func TestOffline_DBLockedByRunningService(t *testing.T) {
	dir := t.TempDir()
	startRelay(t, dir)
	_, _, err := runCLI(t, nil, "events", "list", "--db", filepath.Join(dir, "relay.db"))
	if err == nil || !strings.Contains(err.Error(), "locked by a running tagihan-relay") {
		t.Fatalf("want a clear locked error, got %v", err)
	}
}

func TestSend_EveryType(t *testing.T) {
	p := startRelay(t, t.TempDir())
	out, _, err := runCLI(t, nil, "send", "--list")
	if err != nil {
		t.Fatal(err)
	}
	types := strings.Fields(out)
	if len(types) != 24 {
		t.Fatalf("send --list: %d types, want 24", len(types))
	}
	env := []string{"TAGIHANAI_WEBHOOK_SECRETS=" + testSecret}
	for _, typ := range types {
		out, _, err := runCLI(t, env, "send", typ, "--url", p.public+"/webhooks/tagihanai")
		if err != nil || !strings.Contains(out, `"status":"accepted"`) {
			t.Errorf("send %s: %v %s", typ, err, out)
		}
	}
	if _, _, err := runCLI(t, env, "send", "invoice.paid", "--url", p.public+"/webhooks/tagihanai"); err == nil {
		t.Error("send of an unknown type should fail")
	}
	if _, _, err := runCLI(t, []string{"TAGIHANAI_WEBHOOK_SECRETS=whsec_wrong"}, "send", "transaction.paid", "--url", p.public+"/webhooks/tagihanai"); err == nil {
		t.Error("send answered 401 should exit non-zero")
	}
}

func TestVerify_Explains(t *testing.T) {
	dir := t.TempDir()
	body := []byte(`{"id":"evt_1","type":"transaction.paid","data":{"id":"tx"}}`)
	path := filepath.Join(dir, "body.json")
	os.WriteFile(path, body, 0o600)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	header := "X-TagihanAI-Signature: t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
	if out, _, err := runCLI(t, nil, "verify", "--body", path, "--header", header, "--secret", testSecret); err != nil {
		t.Fatalf("verify of a good signature failed: %v\n%s", err, out)
	}
	out, _, err := runCLI(t, nil, "verify", "--body", path, "--header", header, "--secret", "whsec_other")
	if err == nil {
		t.Fatalf("verify with the wrong secret passed:\n%s", out)
	}
	if strings.Contains(out, "whsec_other") || strings.Contains(out, testSecret) {
		t.Fatalf("verify printed a secret:\n%s", out)
	}
}

func TestHealthcheck(t *testing.T) {
	p := startRelay(t, t.TempDir())
	if out, _, err := runCLI(t, nil, "healthcheck", "--url", p.public); err != nil || strings.TrimSpace(out) != "ok" {
		t.Fatalf("healthcheck of a running relay: %v %q", err, out)
	}
	if _, _, err := runCLI(t, nil, "healthcheck", "--live", "--url", p.public); err != nil {
		t.Fatalf("healthcheck --live: %v", err)
	}
	p.kill()
	if _, _, err := runCLI(t, nil, "healthcheck", "--url", p.public); err == nil {
		t.Fatal("healthcheck of a dead relay passed")
	}
}
