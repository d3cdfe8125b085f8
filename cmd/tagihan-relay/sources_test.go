package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// The secrets of TestSources_CLI: none may appear in anything the CLI or
// the relay prints.
const (
	acmeSecret    = "whsec_acme_secret_read_from_the_environment"
	betaSecret    = "whsec_beta_secret_written_in_the_file"
	rotatedSecret = "whsec_acme_rotated_secret_read_from_stdin"
	gammaSecret   = "whsec_gamma_secret_in_a_json_file"
)

// sourcesCLI runs the sources commands in-process against a running
// relay's admin API and keeps everything they printed.
type sourcesCLI struct {
	t     *testing.T
	admin string
	env   []string
	out   strings.Builder
}

// run runs `tagihan-relay ARGS --admin ...` with stdin.
func (c *sourcesCLI) run(stdin string, args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var o, e bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, append(args, "--admin", c.admin), c.env, strings.NewReader(stdin), &o, &e)
	c.out.WriteString(o.String() + e.String())
	if err != nil {
		c.out.WriteString(err.Error())
	}
	return o.String(), e.String(), err
}

// ok runs args and fails the test unless they succeed; it returns stdout.
func (c *sourcesCLI) ok(args ...string) string {
	c.t.Helper()
	stdout, stderr, err := c.run("", args...)
	if err != nil {
		c.t.Fatalf("%v: %v\nstdout: %s\nstderr: %s", args, err, stdout, stderr)
	}
	return stdout
}

// fails runs args and fails the test unless they exit non-zero; it
// returns what was said about why (stderr and the error).
func (c *sourcesCLI) fails(args ...string) string {
	c.t.Helper()
	stdout, stderr, err := c.run("", args...)
	if err == nil || exitCode(err) == 0 {
		c.t.Fatalf("%v succeeded, want a non-zero exit\nstdout: %s", args, stdout)
	}
	return stderr + err.Error()
}

// show returns the source as `sources show NAME --json` prints it.
func (c *sourcesCLI) show(name string) relay.SourceInfo {
	c.t.Helper()
	var s relay.SourceInfo
	if err := json.Unmarshal([]byte(c.ok("sources", "show", name, "--json")), &s); err != nil {
		c.t.Fatalf("sources show %s --json: %v", name, err)
	}
	return s
}

// postSource sends a delivery signed with secret to the source's path and
// returns the status.
func postSource(t *testing.T, public, name, secret, eventID string) int {
	t.Helper()
	body := fixture(t, "transaction.paid", eventID, "")
	req, err := http.NewRequest(http.MethodPost, public+relay.SourcePath(name), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TagihanAI-Signature", signature.SignatureHeader([]byte(secret), strconv.FormatInt(time.Now().Unix(), 10), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post to %s: %v", name, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sinkRecorder is the http sinks' target: it counts the deliveries per path.
type sinkRecorder struct {
	mu   sync.Mutex
	hits map[string]int
}

func (s *sinkRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *sinkRecorder) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// sourcesYAML is the apply file of TestSources_CLI; betaPath is where
// beta's sink posts and extra goes into acme's sink.
func sourcesYAML(sinkURL, betaPath, extra string) string {
	return fmt.Sprintf(`sources:
  - name: acme
    secrets: ["${ACME_SECRET}"]
    sinks:
      erp:
        KIND: http
        URL: %s/acme%s
  - name: beta
    tolerance: 10m
    secrets: [%s]
    sinks:
      erp: {KIND: http, URL: "%s%s"}
`, sinkURL, extra, betaSecret, sinkURL, betaPath)
}

// TestSources_CLI drives every sources command against a running relay
// (bbolt in a temp dir): apply is idempotent and says what it did, the
// changes apply to the next delivery, and no secret is ever printed.
func TestSources_CLI(t *testing.T) {
	rec := &sinkRecorder{hits: map[string]int{}}
	sink := httptest.NewServer(rec)
	defer sink.Close()
	p := startRelay(t, t.TempDir())
	cli := &sourcesCLI{t: t, admin: p.admin, env: []string{"ACME_SECRET=" + acmeSecret, "GAMMA_SECRET=" + gammaSecret}}
	dir := t.TempDir()
	file := filepath.Join(dir, "sources.yaml")
	acmeFP, rotatedFP := sealed.Fingerprint(acmeSecret), sealed.Fingerprint(rotatedSecret)

	t.Run("ApplyCreates", func(t *testing.T) {
		writeFile(t, file, sourcesYAML(sink.URL, "/beta", ""))
		if got, want := cli.ok("sources", "apply", "-f", file), "created acme\ncreated beta\n"; got != want {
			t.Fatalf("apply: %q, want %q", got, want)
		}
		if code := postSource(t, p.public, "acme", acmeSecret, "evt_src_acme_1"); code != http.StatusOK {
			t.Fatalf("delivery to acme: %d, want 200", code)
		}
		testkit.Eventually(t, 10*time.Second, "acme's sink got the event", func() bool { return rec.count("/acme") == 1 })
	})

	t.Run("ApplyAgainUnchanged", func(t *testing.T) {
		before := cli.show("acme")
		if got, want := cli.ok("sources", "apply", "-f", file), "unchanged acme\nunchanged beta\n"; got != want {
			t.Fatalf("apply again: %q, want %q", got, want)
		}
		if after := cli.show("acme"); !after.UpdatedAt.Equal(before.UpdatedAt) || after.UpdatedAt.IsZero() {
			t.Errorf("updated_at %v after an unchanged apply, was %v", after.UpdatedAt, before.UpdatedAt)
		}
	})

	t.Run("ApplyChangedSink", func(t *testing.T) {
		writeFile(t, file, sourcesYAML(sink.URL, "/beta2", ""))
		if got, want := cli.ok("sources", "apply", "--file", file), "unchanged acme\nupdated beta\n"; got != want {
			t.Fatalf("apply with beta's URL changed: %q, want %q", got, want)
		}
		if code := postSource(t, p.public, "beta", betaSecret, "evt_src_beta_1"); code != http.StatusOK {
			t.Fatalf("delivery to beta: %d, want 200", code)
		}
		testkit.Eventually(t, 10*time.Second, "beta's event at its new URL", func() bool { return rec.count("/beta2") == 1 })
	})

	t.Run("List", func(t *testing.T) {
		var names []string
		for _, l := range lines(cli.ok("sources", "list")) { // piped: NDJSON
			var s relay.SourceInfo
			if err := json.Unmarshal([]byte(l), &s); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			names = append(names, s.Name)
		}
		if diff := cmp.Diff([]string{"acme", "beta", "default"}, names); diff != "" {
			t.Errorf("sources list names (-want +got):\n%s", diff)
		}
		table, code := onTerminal(t, nil, "sources", "list", "--admin", p.admin)
		cli.out.WriteString(table)
		if code != 0 || !strings.HasPrefix(table, "NAME") {
			t.Fatalf("list on a terminal: exit %d:\n%s", code, table)
		}
		for _, want := range []string{"acme", "yes", acmeFP, "erp:http", "/webhooks/tagihanai/acme", "beta", sealed.Fingerprint(betaSecret), "default", "(environment)"} {
			if !strings.Contains(table, want) {
				t.Errorf("the table does not show %q:\n%s", want, table)
			}
		}
		shown, code := onTerminal(t, nil, "sources", "show", "beta", "--admin", p.admin)
		cli.out.WriteString(shown)
		for _, want := range []string{"Source", "beta", "Tolerance", "10m0s", "outbox beta/erp", "Received", "delivered 1"} {
			if code != 0 || !strings.Contains(shown, want) {
				t.Errorf("show on a terminal (exit %d) does not say %q:\n%s", code, want, shown)
			}
		}
	})

	t.Run("RotateSecret", func(t *testing.T) {
		stdout, stderr, err := cli.run(rotatedSecret+"\n", "sources", "add-secret", "acme", "--secret", "-")
		if want := "added secret " + rotatedFP + " to acme (secrets: " + acmeFP + "," + rotatedFP + ")\n"; err != nil || stdout != want {
			t.Fatalf("add-secret --secret -: %v, %q (stderr %q); want %q", err, stdout, stderr, want)
		}
		for i, secret := range []string{acmeSecret, rotatedSecret} {
			if code := postSource(t, p.public, "acme", secret, fmt.Sprintf("evt_src_rot_%d", i)); code != http.StatusOK {
				t.Errorf("delivery signed with secret %d during the rotation: %d, want 200", i+1, code)
			}
		}
		if got := cli.ok("sources", "remove-secret", "acme", acmeFP); !strings.Contains(got, "removed secret "+acmeFP) {
			t.Errorf("remove-secret: %q", got)
		}
		if code := postSource(t, p.public, "acme", acmeSecret, "evt_src_old"); code == http.StatusOK {
			t.Error("a delivery signed with the removed secret was accepted")
		}
		why := cli.fails("sources", "remove-secret", "acme", rotatedFP)
		if !strings.Contains(why, "last") {
			t.Errorf("removing the last secret: %q, want it to say it is the last", why)
		}
		if s := cli.show("acme"); len(s.Secrets) != 1 || s.Secrets[0].ID != rotatedFP {
			t.Errorf("acme's secrets %+v, want only %s", s.Secrets, rotatedFP)
		}
	})

	t.Run("DisableEnable", func(t *testing.T) {
		if got := cli.ok("sources", "disable", "acme"); !strings.HasPrefix(got, "disabled acme") {
			t.Errorf("disable: %q", got)
		}
		if code := postSource(t, p.public, "acme", rotatedSecret, "evt_src_disabled"); code != http.StatusNotFound {
			t.Errorf("delivery to a disabled source: %d, want 404", code)
		}
		if s := cli.show("acme"); s.Enabled {
			t.Error("show says a disabled source is enabled")
		}
		if got := cli.ok("sources", "enable", "acme"); !strings.HasPrefix(got, "enabled acme") {
			t.Errorf("enable: %q", got)
		}
		if code := postSource(t, p.public, "acme", rotatedSecret, "evt_src_enabled"); code != http.StatusOK {
			t.Errorf("delivery to the enabled source: %d, want 200", code)
		}
	})

	t.Run("BadSinkKey", func(t *testing.T) {
		before := cli.show("acme")
		writeFile(t, file, sourcesYAML(sink.URL, "/beta2", "\n        HEADRES: x=1"))
		stdout, stderr, err := cli.run("", "sources", "apply", "-f", file)
		if err == nil || exitCode(err) == 0 {
			t.Fatalf("apply with a bad key succeeded: %q", stdout)
		}
		for _, want := range []string{`source "acme"`, `sink "erp"`, "HEADRES"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("the refusal does not name %s: %q", want, stderr)
			}
		}
		if stdout != "unchanged beta\n" || !strings.Contains(err.Error(), "1 of 2 sources not applied (acme)") {
			t.Errorf("apply: stdout %q, error %v; want beta applied and acme named as not applied", stdout, err)
		}
		after := cli.show("acme")
		before.Stats, after.Stats = nil, nil
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("a refused apply changed acme (-before +after):\n%s", diff)
		}
		if code := postSource(t, p.public, "acme", rotatedSecret, "evt_src_after_bad"); code != http.StatusOK {
			t.Errorf("delivery after the refused apply: %d, want 200", code)
		}
	})

	t.Run("JSONFile", func(t *testing.T) {
		jsonFile := filepath.Join(dir, "gamma.json")
		writeFile(t, jsonFile, `{"sources": [{"name": "gamma", "enabled": true, "secrets": ["${GAMMA_SECRET}"],
			"sinks": {"erp": {"KIND": "http", "URL": "`+sink.URL+`/gamma", "EVENTS": "transaction.*"}}}]}`)
		if got := cli.ok("sources", "apply", "-f", jsonFile); got != "created gamma\n" {
			t.Fatalf("apply JSON file: %q", got)
		}
		var res relay.SourceApplied
		if err := json.Unmarshal([]byte(cli.ok("sources", "apply", "-f", jsonFile, "--json")), &res); err != nil ||
			res.Action != relay.ApplyUnchanged || res.Source.Sinks[0].Events[0] != "transaction.*" {
			t.Fatalf("apply --json again: %+v, %v; want unchanged", res, err)
		}
		if code := postSource(t, p.public, "gamma", gammaSecret, "evt_src_gamma"); code != http.StatusOK {
			t.Errorf("delivery to gamma: %d, want 200", code)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		if got := cli.ok("sources", "delete", "beta"); !strings.HasPrefix(got, "deleted beta") {
			t.Errorf("delete: %q", got)
		}
		if code := postSource(t, p.public, "beta", betaSecret, "evt_src_deleted"); code != http.StatusNotFound {
			t.Errorf("delivery to a deleted source: %d, want 404", code)
		}
		if list := cli.ok("sources", "list"); strings.Contains(list, `"name":"beta"`) {
			t.Errorf("a deleted source is still listed:\n%s", list)
		}
		if why := cli.fails("sources", "show", "beta"); !strings.Contains(why, "404") {
			t.Errorf("show of a deleted source: %q", why)
		}
	})

	for _, secret := range []string{acmeSecret, betaSecret, rotatedSecret, gammaSecret} {
		if strings.Contains(cli.out.String(), secret) {
			t.Errorf("the CLI printed the secret %s…", secret[:12])
		}
		if strings.Contains(p.logs(), secret) {
			t.Errorf("the relay logged the secret %s…", secret[:12])
		}
	}
}

// TestSources_CLIRefusals: wrong command lines and files are refused
// before any call, and an error names what is wrong.
func TestSources_CLIRefusals(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing-var.yaml")
	writeFile(t, missing, "name: acme\nsecrets: [\"${NOT_SET_ANYWHERE}\"]\nsinks: {erp: {KIND: stdout}}\n")
	// Nothing listens there: a refusal that reached it would say unreachable.
	admin := []string{"--admin", "http://127.0.0.1:1"}
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "NoSubcommand", args: []string{"sources"}, code: 2, want: "give list, show NAME"},
		{name: "UnknownSubcommand", args: []string{"sources", "nope"}, code: 2, want: `unknown subcommand "nope"`},
		{name: "ApplyWithoutFile", args: append([]string{"sources", "apply"}, admin...), code: 2, want: "-f FILE"},
		{name: "ShowWithoutName", args: append([]string{"sources", "show"}, admin...), code: 2, want: "one source NAME"},
		{name: "RemoveSecretWithoutID", args: append([]string{"sources", "remove-secret", "acme"}, admin...), code: 2, want: "NAME and the secret's ID"},
		{name: "AddSecretWithoutSecret", args: append([]string{"sources", "add-secret", "acme"}, admin...), code: 2, want: "--secret -"},
		{name: "NoDB", args: []string{"sources", "list", "--db", "relay.db"}, code: 2, want: "-db"},
		{name: "ApplyVarNotSet", args: append([]string{"sources", "apply", "-f", missing}, admin...), code: 1, want: "${NOT_SET_ANYWHERE} is not set"},
		{name: "ApplyNoSuchFile", args: append([]string{"sources", "apply", "-f", filepath.Join(dir, "nope.yaml")}, admin...), code: 1, want: "nope.yaml"},
		{name: "Unreachable", args: append([]string{"sources", "list"}, admin...), code: 1, want: "unreachable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := runCLI(t, nil, tt.args...)
			if err == nil || exitCode(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v (exit %d), want exit %d and %q (stderr %q)", err, exitCode(err), tt.code, tt.want, stderr)
			}
		})
	}
	t.Run("StdinWithoutSecret", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"sources", "add-secret", "acme", "--secret", "-", "--admin", "http://127.0.0.1:1"}, nil, strings.NewReader("\n"), &out, &errOut)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "stdin held no secret") {
			t.Errorf("empty stdin: %v, want a usage error", err)
		}
	})
}

// TestReadSecretLine: --secret - takes the first line of stdin, without
// its line ending or surrounding space.
func TestReadSecretLine(t *testing.T) {
	for in, want := range map[string]string{
		"whsec_a\n":             "whsec_a",
		"whsec_a\r\n":           "whsec_a",
		"whsec_a":               "whsec_a",
		"  whsec_a  \nsecond\n": "whsec_a",
	} {
		env := &cliEnv{stdin: strings.NewReader(in), stderr: &bytes.Buffer{}}
		if got, err := readSecretLine(env, "acme"); err != nil || got != want {
			t.Errorf("readSecretLine(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestSources_Help: every sources command answers --help with its usage,
// flags and examples, and the top-level usage lists them.
func TestSources_Help(t *testing.T) {
	subs := []string{"list", "show", "apply", "add-secret", "remove-secret", "enable", "disable", "delete"}
	for _, sub := range subs {
		t.Run(sub, func(t *testing.T) {
			for _, args := range [][]string{{"sources", sub, "--help"}, {"help", "sources", sub}} {
				stdout, stderr, err := runCLI(t, nil, args...)
				if err != nil || stderr != "" {
					t.Fatalf("%v: %v, stderr %q", args, err, stderr)
				}
				for _, want := range []string{"Usage: tagihan-relay sources " + sub, "Flags:", "-admin", "Examples:\n  "} {
					if !strings.Contains(stdout, want) {
						t.Errorf("%v does not say %q:\n%s", args, want, stdout)
					}
				}
				if strings.Contains(stdout, "-db") {
					t.Errorf("%v offers --db, which the sources commands do not take", args)
				}
			}
		})
	}
	stdout, _, err := runCLI(t, nil, "sources", "--help")
	if err != nil || !strings.Contains(stdout, "Usage: tagihan-relay sources") || !strings.Contains(stdout, "remove-secret") {
		t.Errorf("sources --help: %v\n%s", err, stdout)
	}
	top, _, _ := runCLI(t, nil, "help")
	for _, sub := range subs {
		if !strings.Contains(top, "  sources "+sub) {
			t.Errorf("the top-level usage does not list sources %s", sub)
		}
	}
}
