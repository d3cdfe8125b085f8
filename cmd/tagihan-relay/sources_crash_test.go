package main

import (
	"bytes"
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

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// versionTarget records which version's destination each delivery reached.
type versionTarget struct {
	mu  sync.Mutex
	got map[string]string // event id → version
}

func (vt *versionTarget) server(t *testing.T, version string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		vt.mu.Lock()
		vt.got[r.Header.Get("webhook-id")] = version
		vt.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (vt *versionTarget) version(id string) string {
	vt.mu.Lock()
	defer vt.mu.Unlock()
	return vt.got[id]
}

// putSource PUTs a source to the relay's admin API; it returns the status
// (0 when the relay died before answering).
func putSource(client *http.Client, admin, name, body string) int {
	req, err := http.NewRequest(http.MethodPut, admin+"/v1/sources/"+name, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// TestCrash_SIGKILLDuringSourcesApply: the relay is killed while a run of
// PUTs moves 30 sources from version a (secret a, destination a) to version
// b. After the restart every source is wholly a or wholly b — the secret
// that verifies and the destination it delivers to belong to one version,
// never a mix — and every PUT answered before the kill is b.
func TestCrash_SIGKILLDuringSourcesApply(t *testing.T) {
	dir := t.TempDir()
	vt := &versionTarget{got: map[string]string{}}
	urls := map[string]string{"a": vt.server(t, "a").URL, "b": vt.server(t, "b").URL}
	secret := func(name, version string) string {
		return "whsec_" + strings.Repeat(version, 8) + "-" + name
	}
	body := func(name, version string) string {
		return fmt.Sprintf(`{"secrets":[%q],"sinks":{"erp":{"KIND":"http","URL":%q,"SIGNING_SECRET":"whsec_dGVzdHNlY3JldA==","RETRY_SCHEDULE":"50ms,50ms,50ms"}}}`,
			secret(name, version), urls[version])
	}
	const n = 30
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("ws-%02d", i)
	}
	p := startRelay(t, dir)
	client := &http.Client{Timeout: 10 * time.Second}
	for _, name := range names {
		if code := putSource(client, p.admin, name, body(name, "a")); code != http.StatusCreated {
			t.Fatalf("create %s: %d", name, code)
		}
	}
	// Move them to b one after another and kill the relay part way.
	answered := make(chan string, n)
	go func() {
		defer close(answered)
		for _, name := range names {
			if code := putSource(client, p.admin, name, body(name, "b")); code != http.StatusOK {
				return
			}
			answered <- name
		}
	}()
	var acked []string
	for name := range answered {
		acked = append(acked, name)
		if len(acked) == n/3 {
			p.kill()
		}
	}
	client.CloseIdleConnections()
	if len(acked) == n {
		t.Fatal("every PUT finished before the kill: nothing was interrupted")
	}

	p2 := startRelay(t, dir)
	var list struct {
		Sources []relay.SourceInfo `json:"sources"`
	}
	getJSON(t, p2.admin+"/v1/sources", &list)
	if len(list.Sources) != n+1 { // and default
		t.Fatalf("after the restart: %d sources, want %d", len(list.Sources), n+1)
	}
	versions := map[string]string{}
	for _, s := range list.Sources {
		if s.ReadOnly {
			continue
		}
		if len(s.Secrets) != 1 {
			t.Fatalf("%s: %d secrets", s.Name, len(s.Secrets))
		}
		for _, v := range []string{"a", "b"} {
			if s.Secrets[0].Fingerprint == sealed.Fingerprint(secret(s.Name, v)) {
				versions[s.Name] = v
			}
		}
		if versions[s.Name] == "" {
			t.Fatalf("%s: a secret of neither version", s.Name)
		}
	}
	for _, name := range acked {
		if versions[name] != "b" {
			t.Errorf("%s: the PUT to b was answered before the kill, but it is %s after the restart", name, versions[name])
		}
	}
	// Each source delivers with its version's secret to its version's
	// destination.
	for _, name := range names {
		v := versions[name]
		id := "evt_crash_" + name
		b := fixture(t, "transaction.paid", id, "")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, _ := http.NewRequest(http.MethodPost, p2.public+"/webhooks/tagihanai/"+name, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(relay.HeaderSignature, signature.SignatureHeader([]byte(secret(name, v)), ts, b))
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s (version %s): delivery %d", name, v, res.StatusCode)
		}
		stored := relay.SourceEventID(name, id) // the webhook-id the sink sends
		testkit.Eventually(t, 10*time.Second, stored+" at a destination", func() bool { return vt.version(stored) != "" })
		if got := vt.version(stored); got != v {
			t.Fatalf("%s: secret of version %s but delivered to the destination of %s: a mix", name, v, got)
		}
	}
	// Nothing of a secret in the database file.
	raw, err := os.ReadFile(filepath.Join(dir, "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names[:3] {
		for _, v := range []string{"a", "b"} {
			if bytes.Contains(raw, []byte(secret(name, v))) {
				t.Fatalf("relay.db holds %s's secret in plain text", name)
			}
		}
	}
	var info relay.SourceInfo
	getJSON(t, p2.admin+"/v1/sources/"+names[0], &info)
	if b, _ := json.Marshal(info); bytes.Contains(b, []byte(secret(names[0], versions[names[0]]))) {
		t.Fatal("the API shows a secret")
	}
}
