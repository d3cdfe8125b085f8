package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// onTerminal runs the program as a child whose stdout is a terminal (a
// pty made by script(1)), so the table output is what a person sees.
func onTerminal(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("script(1) is needed for the terminal tests: %v", err)
	}
	quoted := make([]string, 0, len(args)+1)
	quoted = append(quoted, shellQuote(os.Args[0]))
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	cmd := exec.Command("script", "-qec", strings.Join(quoted, " ")+" 2>/dev/null", "/dev/null")
	cmd.Env = append([]string{childEnv + "=1", "PATH=" + os.Getenv("PATH"), "TERM=dumb", "COLUMNS=300"}, env...)
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("script: %v", err)
	}
	return strings.ReplaceAll(string(out), "\r\n", "\n"), code
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestCLI_HelpEverywhere: every command and subcommand answers --help
// with usage, flags and examples on stdout, exit 0.
func TestCLI_HelpEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--help"}, {"send", "--help"}, {"send", "-h"}, {"verify", "--help"},
		{"events", "--help"}, {"events", "help"}, {"events", "list", "--help"}, {"events", "show", "--help"}, {"events", "resolve", "--help"},
		{"dead-letters", "--help"}, {"dead-letters", "list", "--help"}, {"dead-letters", "redrive", "--help"},
		{"replay", "--help"}, {"export", "--help"}, {"import", "--help"}, {"backup", "--help"}, {"compact", "--help"},
		{"healthcheck", "--help"}, {"help", "events", "list"}, {"help", "send"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			stdout, stderr, code := runBinary(t, nil, args...)
			name := strings.Join(args[:len(args)-1], " ")
			if args[0] == "help" {
				name = strings.Join(args[1:], " ")
			}
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, want := range []string{"Usage: tagihan-relay " + name, "Examples:\n  tagihan-relay " + strings.Fields(name)[0]} {
				if !strings.Contains(stdout, want) {
					t.Errorf("help does not say %q:\n%s", want, stdout)
				}
			}
			if len(strings.Fields(name)) > 1 || name == "send" {
				if !strings.Contains(stdout, "Flags:") {
					t.Errorf("help lists no flags:\n%s", stdout)
				}
			}
		})
	}
	t.Run("BadFlag", func(t *testing.T) {
		_, stderr, code := runBinary(t, nil, "events", "list", "--bogus")
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "events list --help") {
			t.Errorf("exit %d, stderr %q; want 2 and one line pointing at --help", code, stderr)
		}
	})
}

// seedDB imports n events into a new database file with `import --db`.
func seedDB(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	start := time.Now().Add(-time.Hour).UTC()
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		body, err := fixtures.Body("transaction.paid", fixtures.Options{EventID: fmt.Sprintf("evt_page_%05d", i), Now: at})
		if err != nil {
			t.Fatal(err)
		}
		line, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("evt_page_%05d", i), "received_at": at, "headers": map[string]string{},
			"body_base64": base64.StdEncoding.EncodeToString(body)})
		b.Write(line)
		b.WriteByte('\n')
	}
	in := filepath.Join(dir, "seed.ndjson")
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "relay.db")
	if _, stderr, code := runBinary(t, nil, "import", "--db", db, in); code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	return db
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestCLI_ListsFollowTheCursor: piped output is every match (past the
// 1000-per-page API limit), --limit caps it and says how to go on, and a
// terminal shows one page and says there is more.
func TestCLI_ListsFollowTheCursor(t *testing.T) {
	db := seedDB(t, 1150)
	stdout, stderr, code := runBinary(t, nil, "events", "list", "--db", db)
	if got := len(lines(stdout)); code != 0 || got != 1150 || stderr != "" {
		t.Fatalf("events list piped: exit %d, %d lines, stderr %q; want 1150 lines", code, got, stderr)
	}
	seen := map[string]bool{}
	for _, l := range lines(stdout) {
		var e struct{ ID string }
		if err := json.Unmarshal([]byte(l), &e); err != nil || seen[e.ID] {
			t.Fatalf("line %q: %v (or repeated)", l, err)
		}
		seen[e.ID] = true
	}

	stdout, stderr, code = runBinary(t, nil, "events", "list", "--db", db, "--limit", "1010")
	m := regexp.MustCompile(`more: stopped after 1010 events \(--limit\); --cursor (\S+) continues`).FindStringSubmatch(stderr)
	if code != 0 || len(lines(stdout)) != 1010 || m == nil {
		t.Fatalf("--limit 1010: exit %d, %d lines, stderr %q", code, len(lines(stdout)), stderr)
	}
	stdout, _, _ = runBinary(t, nil, "events", "list", "--db", db, "--cursor", m[1])
	if got := len(lines(stdout)); got != 140 {
		t.Errorf("--cursor: %d lines, want the other 140", got)
	}

	out, code := onTerminal(t, nil, "events", "list", "--db", db)
	if rows := len(lines(out)); code != 0 || rows != 101 || !strings.HasPrefix(out, "RECEIVED") {
		t.Errorf("terminal: exit %d, %d lines (want header + 100):\n%.300s", code, rows, out)
	}
	// The "more" note goes to stderr; on the terminal run it is discarded
	// above, so check it separately.
	_, stderr, _ = runBinary(t, nil, "events", "list", "--db", db, "--limit", "5", "--json")
	if !strings.Contains(stderr, "more:") {
		t.Errorf("--limit 5 --json: stderr %q, want a more: note", stderr)
	}
	out, _ = onTerminal(t, nil, "events", "list", "--db", db, "--q", "no-such-invoice")
	if strings.TrimSpace(out) != "no events match" {
		t.Errorf("empty list on a terminal: %q, want \"no events match\"", out)
	}
	out, _ = onTerminal(t, nil, "dead-letters", "list", "--db", db)
	if strings.TrimSpace(out) != "no dead letters match" {
		t.Errorf("empty dead letters on a terminal: %q", out)
	}
}

// TestCLI_WrongNames: an unknown sink or event id is an error from the API
// and the CLI alike, and replay's summary stays readable.
func TestCLI_WrongNames(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"error":"no"}`)
	}))
	defer refuse.Close()
	dir := t.TempDir()
	sinkEnv := []string{"RELAY_SINKS=h", "SINK_H_KIND=http", "SINK_H_URL=" + refuse.URL}
	p := startRelay(t, dir, sinkEnv...)
	client := &http.Client{Timeout: 5 * time.Second}
	const n = 130
	for i := range n {
		if code, _ := post(client, p.public, fixture(t, "transaction.paid", fmt.Sprintf("evt_wrong_%03d", i), "")); code != http.StatusOK {
			t.Fatalf("post: %d", code)
		}
	}
	testkit.Eventually(t, 30*time.Second, "130 dead letters", func() bool {
		var page struct {
			DeadLetters []any `json:"dead_letters"`
		}
		getJSON(t, p.admin+"/v1/dead-letters?limit=1000", &page)
		return len(page.DeadLetters) == n
	})
	admin := []string{"--admin", p.admin}

	stdout, _, code := runBinary(t, nil, append([]string{"dead-letters", "list"}, admin...)...)
	if got := len(lines(stdout)); code != 0 || got != n {
		t.Errorf("dead-letters list piped: exit %d, %d lines, want %d", code, got, n)
	}
	stdout, stderr, _ := runBinary(t, nil, append([]string{"dead-letters", "list", "--limit", "100"}, admin...)...)
	m := regexp.MustCompile(`--cursor (\S+) continues`).FindStringSubmatch(stderr)
	if len(lines(stdout)) != 100 || m == nil {
		t.Fatalf("--limit 100: %d lines, stderr %q", len(lines(stdout)), stderr)
	}
	stdout, _, _ = runBinary(t, nil, append([]string{"dead-letters", "list", "--cursor", m[1]}, admin...)...)
	if got := len(lines(stdout)); got != n-100 {
		t.Errorf("--cursor: %d lines, want %d", got, n-100)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dead-letters", "list", "--sink", "nosuch"}, `400 invalid_request: sink: "nosuch" is not a configured sink (configured: h)`},
		{[]string{"dead-letters", "redrive", "evt_unknown"}, "404 not_found: ids: no event evt_unknown"},
		{[]string{"dead-letters", "redrive", "--sink", "nosuch"}, `sink: "nosuch" is not a configured sink`},
	} {
		_, stderr, code := runBinary(t, nil, append(tt.args, admin...)...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tt.args, code, stderr, tt.want)
		}
	}
	stdout, code = onTerminal(t, nil, append([]string{"replay", "evt_wrong_000", "--sink", "nosuch"}, admin...)...)
	if want := "selected 1, queued 0, skipped 0, failed 1 (400 invalid_request ×1)\n"; code != 1 || stdout != want {
		t.Errorf("replay --sink nosuch: exit %d, stdout %q; want %q", code, stdout, want)
	}

	// The same through the file, with the configuration that names the sinks.
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "relay.db")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dead-letters", "list", "--sink", "nosuch"}, `sink: "nosuch" is not a configured sink`},
		{[]string{"dead-letters", "redrive", "evt_unknown"}, "no event evt_unknown"},
	} {
		_, stderr, code := runBinary(t, sinkEnv, append(tt.args, "--db", db)...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v --db: exit %d, stderr %q; want 1 and %q", tt.args, code, stderr, tt.want)
		}
	}
	stdout, _, code = runBinary(t, sinkEnv, "dead-letters", "list", "--sink", "h", "--db", db)
	if got := len(lines(stdout)); code != 0 || got != n {
		t.Errorf("dead-letters list --sink h --db: exit %d, %d lines", code, got)
	}
}

// TestDocs_Install: the README says how to put tagihan-relay on PATH before
// the first command that uses it, and that command works as written.
func TestDocs_Install(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const install = "GOTOOLCHAIN=go1.27.3 go install ./cmd/tagihan-relay"
	at := strings.Index(string(readme), install)
	if at < 0 {
		t.Fatalf("README does not say %q", install)
	}
	firstUse := regexp.MustCompile("(?m)^tagihan-relay ").FindIndex(readme)
	if firstUse == nil || firstUse[0] < at {
		t.Errorf("README uses tagihan-relay (offset %v) before saying how to install it (offset %d)", firstUse, at)
	}
	if !strings.Contains(string(readme), "go env GOPATH)/bin") {
		t.Error("README does not say where go install puts the binary")
	}
	gobin := t.TempDir()
	cmd := exec.Command("go", "install", "./cmd/tagihan-relay")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=go1.27.3", "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	// It lands in $GOBIN (else $(go env GOPATH)/bin), as the README says.
	out, err := exec.Command(filepath.Join(gobin, "tagihan-relay"), "--help").Output()
	if err != nil || !strings.Contains(string(out), "Usage: tagihan-relay <command>") {
		t.Errorf("installed tagihan-relay --help: %v\n%s", err, out)
	}
}
