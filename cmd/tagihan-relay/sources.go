package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
)

// The sources commands (SPEC 6) talk only to the admin API: a source's
// secrets are sealed under the service's master key, so there is no --db.
// They never print a secret, only its fingerprint.
//
// list and show print JSON when piped or with --json, like events list and
// show. The changes (apply, add-secret, ...) print one line of text saying
// what they did, piped too (a CI log is read by people, and `created acme`
// is already easy to grep); --json prints the API's answer instead.

// maxSourcesFile caps a sources file (10,000 sources fit well below it).
const maxSourcesFile = 64 << 20

// sourcesFlags registers --admin, --token and --json on fs and returns
// the options; sourcesAPI turns them into a client after parsing.
func (e *cliEnv) sourcesFlags(fs *flag.FlagSet) *adminOpts {
	o := &adminOpts{}
	jsonHelp := "print the API's JSON answer instead of a line of text"
	if n := fs.Name(); n == "sources list" || n == "sources show" {
		jsonHelp = "print JSON (NDJSON for list) even on a terminal"
	}
	fs.StringVar(&o.admin, "admin", "", "admin API base URL (default http://<RELAY_ADMIN_ADDR>)")
	fs.StringVar(&o.token, "token", "", "admin token (default RELAY_ADMIN_TOKEN)")
	fs.BoolVar(&o.json, "json", false, jsonHelp)
	e.asJSON = &o.json
	return o
}

// sourcesAPI is the admin API client of the options (never the file: o.db
// is always "" here).
func (e *cliEnv) sourcesAPI(o *adminOpts) (*httpapi.Client, error) {
	b, err := e.openBackend(o, false)
	if err != nil {
		return nil, err
	}
	return b.(apiBackend).Client, nil
}

// sourceCommand parses the flags and the one NAME of a sources subcommand
// and returns the name and the client.
func (e *cliEnv) sourceCommand(name string, args []string, extra func(fs *flag.FlagSet)) (string, *adminOpts, *httpapi.Client, error) {
	fs := e.flags(name)
	o := e.sourcesFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := e.parse(fs, args); err != nil {
		return "", nil, nil, err
	}
	if fs.NArg() != 1 {
		return "", nil, nil, &usageError{fmt.Sprintf("%s: give one source NAME (run `tagihan-relay %s --help`)", name, name)}
	}
	c, err := e.sourcesAPI(o)
	if err != nil {
		return "", nil, nil, err
	}
	return fs.Arg(0), o, c, nil
}

func cmdSourcesList(env *cliEnv, args []string) error {
	fs := env.flags("sources list")
	o := env.sourcesFlags(fs)
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{"sources list: takes no arguments (use `sources show NAME` for one)"}
	}
	c, err := env.sourcesAPI(o)
	if err != nil {
		return err
	}
	var broken []relay.SourceInfo
	err = printList(env, 0, true, "", "sources", "no sources",
		"NAME\tENABLED\tSECRETS\tSINKS\tPATH",
		func(int, string) ([]relay.SourceInfo, string, error) {
			list, err := c.ListSources(env.ctx)
			for _, s := range list {
				if s.Error != "" {
					broken = append(broken, s)
				}
			}
			return list, "", err
		},
		func(w io.Writer, s relay.SourceInfo) {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Name, enabledText(s), dash(fingerprints(s.Secrets)), dash(sinkKinds(s.Sinks)), s.Path)
		})
	if err != nil {
		return err
	}
	for _, s := range broken {
		fmt.Fprintf(env.stderr, "%s is not served: %s\n", s.Name, s.Error)
	}
	return nil
}

// enabledText is the ENABLED column: yes or no, and why it may not be what
// the operator can change.
func enabledText(s relay.SourceInfo) string {
	t := "no"
	if s.Enabled {
		t = "yes"
	}
	switch {
	case s.Error != "":
		t += " (not served)"
	case s.ReadOnly:
		t += " (environment)"
	}
	return t
}

func fingerprints(secrets []relay.SourceSecretInfo) string {
	fps := make([]string, len(secrets))
	for i, s := range secrets {
		fps[i] = s.Fingerprint
	}
	return strings.Join(fps, ",")
}

func sinkKinds(sinks []relay.SourceSinkInfo) string {
	out := make([]string, len(sinks))
	for i, s := range sinks {
		out[i] = s.Name + ":" + s.Kind
	}
	return strings.Join(out, ",")
}

func cmdSourcesShow(env *cliEnv, args []string) error {
	name, _, c, err := env.sourceCommand("sources show", args, nil)
	if err != nil {
		return err
	}
	s, err := c.ShowSource(env.ctx, name)
	if err != nil {
		return err
	}
	if env.wantJSON() {
		return env.printJSON(s)
	}
	printSource(env.stdout, s)
	return nil
}

// printSource writes what `sources show` shows on a terminal.
func printSource(out io.Writer, s relay.SourceInfo) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintf(w, "Source\t%s\n", s.Name)
	fmt.Fprintf(w, "Enabled\t%s\n", enabledText(s))
	if s.Error != "" {
		fmt.Fprintf(w, "Not served\t%s\n", s.Error)
	}
	fmt.Fprintf(w, "Path\t%s\n", s.Path)
	label := "Secrets"
	for _, sec := range s.Secrets {
		added := ""
		if !sec.CreatedAt.IsZero() {
			added = "added " + sec.CreatedAt.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(w, "%s\t%s  %s\n", label, sec.Fingerprint, added)
		label = ""
	}
	if s.SecretEncoding != "" {
		fmt.Fprintf(w, "Encoding\t%s\n", s.SecretEncoding)
	}
	if s.Tolerance != "" {
		fmt.Fprintf(w, "Tolerance\t%s\n", s.Tolerance)
	}
	label = "Sinks"
	for _, k := range s.Sinks {
		fmt.Fprintf(w, "%s\t%s  %s  events %s  (outbox %s)\n", label, k.Name, k.Kind, dash(strings.Join(k.Events, ",")), dash(k.Outbox))
		label = ""
	}
	if t := s.TagihanAI; t != nil {
		fmt.Fprintf(w, "TagihanAI\tAPI key %s, base URL %s, webhook %s, public URL %s\n", dash(t.APIKeyFingerprint), dash(t.APIBaseURL), dash(t.WebhookID), dash(t.PublicURL))
	}
	if !s.CreatedAt.IsZero() {
		fmt.Fprintf(w, "Created\t%s\n", s.CreatedAt.Local().Format(time.RFC3339))
		fmt.Fprintf(w, "Updated\t%s\n", s.UpdatedAt.Local().Format(time.RFC3339))
	}
	st := s.Stats
	if st == nil {
		return
	}
	fmt.Fprintf(w, "\nReceived\t%d in the last 24 h\n", st.Received24h)
	fmt.Fprintf(w, "Now\tpending %d, in flight %d, dead %d, needs review %d\n", st.Pending, st.InFlight, st.Dead, st.NeedsReview)
	for _, k := range s.Sinks {
		ks := st.Sinks[k.Name]
		fmt.Fprintf(w, "  %s\tpending %d, in flight %d, delivered %d, dead %d, needs review %d\n", k.Name, ks.Pending, ks.InFlight, ks.Delivered, ks.Dead, ks.NeedsReview)
	}
}

func cmdSourcesApply(env *cliEnv, args []string) error {
	fs := env.flags("sources apply")
	o := env.sourcesFlags(fs)
	var file string
	fs.StringVar(&file, "f", "", "the sources file: YAML or JSON, one or more sources (- for stdin)")
	fs.StringVar(&file, "file", "", "same as -f")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if file == "" || fs.NArg() != 0 {
		return &usageError{"sources apply: give the file with -f FILE (run `tagihan-relay sources apply --help`)"}
	}
	data, err := readSourcesFile(env.stdin, file)
	if err != nil {
		return err
	}
	m, err := env.envMap()
	if err != nil {
		return err
	}
	specs, err := relay.ParseSourceFile(data, func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	})
	if err != nil {
		return fmt.Errorf("sources apply: %s: %s", file, relay.ErrorMessage(err))
	}
	c, err := env.sourcesAPI(o)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.stdout)
	var failed []string
	for i, spec := range specs {
		res, err := c.ApplySource(env.ctx, spec)
		if err != nil && !refusedSource(err) {
			// The next ones would fail alike (unreachable, token, server).
			return fmt.Errorf("sources apply: %s: %w%s", spec.Name, err, notApplied(specs[i+1:], failed))
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "failed %s: %v\n", spec.Name, err)
			failed = append(failed, spec.Name)
			continue
		}
		if o.json {
			if err := enc.Encode(res); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(env.stdout, "%s %s\n", res.Action, res.Source.Name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("sources apply: %d of %d sources not applied (%s); the others were, and running it again after a fix changes only what changed",
			len(failed), len(specs), strings.Join(failed, ", "))
	}
	return nil
}

// refusedSource reports whether err is the API refusing this one source
// (a bad key, a read-only or unknown name, a conflict), so the rest of
// the file is still applied.
func refusedSource(err error) bool {
	var ae *httpapi.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// notApplied names the sources apply did not get to or that failed.
func notApplied(rest []relay.SourceSpec, failed []string) string {
	names := append([]string(nil), failed...)
	for _, s := range rest {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return ""
	}
	return " (not applied either: " + strings.Join(names, ", ") + ")"
}

// readSourcesFile reads the apply file, or stdin for "-".
func readSourcesFile(stdin io.Reader, file string) ([]byte, error) {
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("sources apply: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSourcesFile+1))
	if err != nil {
		return nil, fmt.Errorf("sources apply: read %s: %w", file, err)
	}
	if len(data) > maxSourcesFile {
		return nil, fmt.Errorf("sources apply: %s is larger than %d MiB", file, maxSourcesFile>>20)
	}
	return data, nil
}

func cmdSourcesAddSecret(env *cliEnv, args []string) error {
	var secret string
	name, o, c, err := env.sourceCommand("sources add-secret", args, func(fs *flag.FlagSet) {
		fs.StringVar(&secret, "secret", "", "the new signing secret; - reads one line from stdin (kept out of shell history)")
	})
	if err != nil {
		return err
	}
	if secret == "" {
		return &usageError{"sources add-secret: give --secret S, or --secret - to read it from stdin"}
	}
	if secret == "-" {
		if secret, err = readSecretLine(env, name); err != nil {
			return err
		}
	}
	info, err := c.AddSourceSecret(env.ctx, name, secret)
	if err != nil {
		return err
	}
	if o.json {
		return env.printJSON(info)
	}
	fmt.Fprintf(env.stdout, "added secret %s to %s (secrets: %s)\n", sealed.Fingerprint(strings.TrimSpace(secret)), info.Name, fingerprints(info.Secrets))
	return nil
}

// readSecretLine reads the secret of `--secret -`: one line of stdin,
// without echo on a terminal.
func readSecretLine(env *cliEnv, source string) (string, error) {
	var line string
	if f, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.stderr, "New signing secret for %s (not shown): ", source)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", fmt.Errorf("sources add-secret: read the secret: %w", err)
		}
		line = string(b)
	} else {
		s, err := bufio.NewReader(io.LimitReader(env.stdin, 64<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("sources add-secret: read the secret from stdin: %w", err)
		}
		line = s
	}
	if line = strings.TrimSpace(line); line == "" {
		return "", &usageError{"sources add-secret: --secret -: stdin held no secret"}
	}
	return line, nil
}

func cmdSourcesRemoveSecret(env *cliEnv, args []string) error {
	fs := env.flags("sources remove-secret")
	o := env.sourcesFlags(fs)
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return &usageError{"sources remove-secret: give the source NAME and the secret's ID (its fingerprint, from `sources show NAME`)"}
	}
	c, err := env.sourcesAPI(o)
	if err != nil {
		return err
	}
	name, id := fs.Arg(0), fs.Arg(1)
	info, err := c.RemoveSourceSecret(env.ctx, name, id)
	if err != nil {
		return err
	}
	if o.json {
		return env.printJSON(info)
	}
	fmt.Fprintf(env.stdout, "removed secret %s from %s (secrets: %s)\n", id, info.Name, fingerprints(info.Secrets))
	return nil
}

func cmdSourcesEnable(env *cliEnv, args []string) error {
	return setSourceEnabled(env, "sources enable", args, true)
}
func cmdSourcesDisable(env *cliEnv, args []string) error {
	return setSourceEnabled(env, "sources disable", args, false)
}

func setSourceEnabled(env *cliEnv, cmd string, args []string, enabled bool) error {
	name, o, c, err := env.sourceCommand(cmd, args, nil)
	if err != nil {
		return err
	}
	info, err := c.SetSourceEnabled(env.ctx, name, enabled)
	if err != nil {
		return err
	}
	switch {
	case o.json:
		return env.printJSON(info)
	case enabled:
		fmt.Fprintf(env.stdout, "enabled %s: it takes deliveries at %s\n", info.Name, info.Path)
	default:
		fmt.Fprintf(env.stdout, "disabled %s: deliveries to %s get 404 unknown_source; its sinks still send what it has\n", info.Name, info.Path)
	}
	return nil
}

func cmdSourcesDelete(env *cliEnv, args []string) error {
	name, o, c, err := env.sourceCommand("sources delete", args, nil)
	if err != nil {
		return err
	}
	if err := c.DeleteSource(env.ctx, name); err != nil {
		return err
	}
	if o.json {
		return env.printJSON(httpapi.SourceDeleted{Deleted: name})
	}
	fmt.Fprintf(env.stdout, "deleted %s: intake stopped; what it had pending still drains\n", name)
	return nil
}
