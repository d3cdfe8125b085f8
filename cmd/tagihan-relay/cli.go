package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/joho/godotenv"
	"golang.org/x/term"
)

// cliEnv is what every command gets from run.
type cliEnv struct {
	ctx     context.Context
	environ []string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer

	envFile string
	// asJSON is the --json flag of the running command, if it has one.
	asJSON *bool
}

// flags returns a FlagSet with the flags every command shares.
func (e *cliEnv) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parse prints the help (on --help) or one line (on a bad flag).
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&e.envFile, "env-file", "", "load this dotenv file before reading the environment")
	return fs
}

// adminOpts are the flags of a command that talks to the admin API or,
// with --db, opens the database file.
type adminOpts struct {
	admin string
	token string
	db    string
	json  bool
}

// adminFlags registers --admin, --token, --db and --json on fs, bound into
// the returned options (the command opens its backend with them).
func (e *cliEnv) adminFlags(fs *flag.FlagSet) *adminOpts {
	o := &adminOpts{}
	fs.StringVar(&o.admin, "admin", "", "admin API base URL (default http://<RELAY_ADMIN_ADDR>)")
	fs.StringVar(&o.token, "token", "", "admin token (default RELAY_ADMIN_TOKEN)")
	fs.StringVar(&o.db, "db", "", "open this database file directly (service stopped)")
	fs.BoolVar(&o.json, "json", false, "print JSON (NDJSON for lists) even on a terminal")
	e.asJSON = &o.json
	return o
}

// timeRange is a command's --since and --until.
type timeRange struct{ since, until string }

// timeFlags registers --since and, when untilHelp is not "", --until on fs.
func timeFlags(fs *flag.FlagSet, sinceHelp, untilHelp string) *timeRange {
	r := &timeRange{}
	fs.StringVar(&r.since, "since", "", sinceHelp)
	if untilHelp != "" {
		fs.StringVar(&r.until, "until", "", untilHelp)
	}
	return r
}

// set reports whether either bound was given.
func (r *timeRange) set() bool { return r.since != "" || r.until != "" }

// parse returns the bounds (zero when not given) measured back from now.
func (r *timeRange) parse(now time.Time) (since, until time.Time, err error) {
	if since, err = parseWhen("since", r.since, now); err != nil {
		return
	}
	until, err = parseWhen("until", r.until, now)
	return
}

// parse parses flags that may come before or after positional arguments.
func (e *cliEnv) parse(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return &helpRequest{fs: fs}
			}
			return &usageError{fmt.Sprintf("%s: %v (run `tagihan-relay %s --help`)", fs.Name(), err, fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// envMap is the environment plus --env-file (the environment wins, as with
// most dotenv loaders), with NAME_FILE secrets resolved.
func (e *cliEnv) envMap() (map[string]string, error) {
	environ := e.environ
	if e.envFile != "" {
		f, err := godotenv.Read(e.envFile)
		if err != nil {
			return nil, fmt.Errorf("--env-file %s: %w", e.envFile, err)
		}
		have := map[string]bool{}
		for _, kv := range environ {
			k, _, _ := strings.Cut(kv, "=")
			have[k] = true
		}
		environ = append([]string(nil), environ...)
		for k, v := range f {
			if !have[k] {
				environ = append(environ, k+"="+v)
			}
		}
	}
	return envMap(environ)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// wantJSON reports whether output should be JSON.
func (e *cliEnv) wantJSON() bool { return (e.asJSON != nil && *e.asJSON) || !isTerminal(e.stdout) }

func (e *cliEnv) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseWhen reads --since/--until: a duration back from now ("24h") or an
// RFC 3339 time.
func parseWhen(flagName, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, &usageError{fmt.Sprintf("--%s %q: give a duration like 24h or an RFC 3339 time", flagName, v)}
}
