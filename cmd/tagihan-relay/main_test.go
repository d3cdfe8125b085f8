package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// childEnv marks a test binary started as the relay itself.
const childEnv = "TAGIHAN_RELAY_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// Run as the real program: the process-level tests start the test
		// binary as a child and SIGKILL it.
		main()
		return
	}
	goleak.VerifyTestMain(m,
		// The HTTP client's idle connections to the child close on their own.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

const testSecret = "whsec_test_secret_for_process_tests"

// relayProc is a relay running as a child process.
type relayProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	public string
	admin  string
	stderr *bytes.Buffer
	mu     *sync.Mutex
	done   chan struct{}
}

// startRelay starts `tagihan-relay serve` as a child on dataDir with env
// (on top of a minimal base) and waits until it is ready.
func startRelay(t *testing.T, dataDir string, env ...string) *relayProc {
	t.Helper()
	return startRelayExe(t, os.Args[0], dataDir, env...)
}

// startRelayExe is startRelay with another executable: the test binary
// (which runs main as a child) or the real binary built by buildRelay.
func startRelayExe(t *testing.T, exe, dataDir string, env ...string) *relayProc {
	t.Helper()
	cmd := exec.Command(exe, "serve")
	cmd.Env = append([]string{
		childEnv + "=1",
		"PATH=" + os.Getenv("PATH"),
		"RELAY_DATA_DIR=" + dataDir,
		"RELAY_LISTEN_ADDR=127.0.0.1:0",
		"RELAY_ADMIN_ADDR=127.0.0.1:0",
		"TAGIHANAI_WEBHOOK_SECRETS=" + testSecret,
		"RELAY_LOG_LEVEL=info",
	}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &relayProc{t: t, cmd: cmd, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	ready := make(chan [2]string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.stderr.Write(line)
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			var l struct {
				Msg    string `json:"msg"`
				Public string `json:"public"`
				Admin  string `json:"admin"`
			}
			if json.Unmarshal(line, &l) == nil && l.Msg == "listening" {
				ready <- [2]string{l.Public, l.Admin}
			}
		}
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case addrs := <-ready:
		p.public, p.admin = "http://"+addrs[0], "http://"+addrs[1]
	case <-p.done:
		t.Fatalf("relay exited before listening:\n%s", p.logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("relay not listening after 20s:\n%s", p.logs())
	}
	return p
}

func (p *relayProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *relayProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *relayProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	err := p.cmd.Wait()
	<-p.done
	return err
}

// post sends a signed delivery; it returns the status code (0 on a
// transport error).
func post(client *http.Client, url string, body []byte) (int, []byte) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/tagihanai", bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TagihanAI-Signature", signature.SignatureHeader([]byte(testSecret), ts, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func fixture(t testing.TB, typ, id, txID string) []byte {
	t.Helper()
	b, err := fixtures.Body(typ, fixtures.Options{EventID: id, TransactionID: txID, Now: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// getJSON fetches an admin API path into v and returns the status.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	}
	return resp.StatusCode
}

// runCLI runs the program in-process and returns stdout, stderr and the error.
func runCLI(t testing.TB, env []string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, args, env, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func eventIDs(t testing.TB, admin string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	cursor := ""
	for {
		var page struct {
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
			NextCursor string `json:"next_cursor"`
		}
		if code := getJSON(t, admin+"/v1/events?limit=1000&cursor="+cursor, &page); code != http.StatusOK {
			t.Fatalf("list events: %d", code)
		}
		for _, e := range page.Events {
			ids[e.ID]++
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
}

func TestServe_ZeroConfigSendAndList(t *testing.T) {
	dir := t.TempDir()
	// No secret configured: serve creates one in the data dir, send uses it.
	p := startRelay(t, dir, "TAGIHANAI_WEBHOOK_SECRETS=")
	secret, err := os.ReadFile(dir + "/webhook-secret")
	if err != nil {
		t.Fatalf("zero-config secret file: %v", err)
	}
	if !strings.HasPrefix(string(secret), "whsec_") {
		t.Fatalf("secret file holds %q..., want whsec_", string(secret)[:6])
	}
	if fi, _ := os.Stat(dir + "/webhook-secret"); fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	env := []string{"RELAY_DATA_DIR=" + dir}
	out, _, err := runCLI(t, env, "send", "transaction.paid", "--url", p.public+"/webhooks/tagihanai")
	if err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"status":"accepted"`) {
		t.Fatalf("send output %q lacks accepted", out)
	}
	out, _, err = runCLI(t, env, "events", "list", "--admin", p.admin, "--json")
	if err != nil {
		t.Fatalf("events list: %v", err)
	}
	if !strings.Contains(out, `"type":"transaction.paid"`) {
		t.Fatalf("events list does not show the event:\n%s", out)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, p.logs())
	}
	if !strings.Contains(p.logs(), `"msg":"stopped"`) {
		t.Fatalf("no clean shutdown in logs:\n%s", p.logs())
	}
}

// TestCrash_AckedDeliveriesSurviveSIGKILL: every delivery that got a 2xx is
// present after a SIGKILL under load, exactly once.
func TestCrash_AckedDeliveriesSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	p := startRelay(t, dir)
	client := &http.Client{Timeout: 5 * time.Second}
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("evt_crash_%02d_%05d", w, i)
				code, _ := post(client, p.public, fixture(t, "transaction.paid", id, ""))
				if code == http.StatusOK {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
				if code == 0 {
					return // the server is gone
				}
			}
		}()
	}
	testkit.Eventually(t, 20*time.Second, "200 acked deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	})
	p.kill()
	close(stop)
	wg.Wait()
	client.CloseIdleConnections()

	p2 := startRelay(t, dir)
	got := eventIDs(t, p2.admin)
	mu.Lock()
	defer mu.Unlock()
	for id := range acked {
		if got[id] != 1 {
			t.Errorf("acked %s found %d times after SIGKILL", id, got[id])
		}
	}
	t.Logf("%d deliveries acked before SIGKILL, %d stored", len(acked), len(got))
}
