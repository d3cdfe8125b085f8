// Command tagihan-relay receives TagihanAI webhooks, stores them durably and
// relays them to sinks. Run `tagihan-relay help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "tagihan-relay:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errSilent marks a failure already reported on stdout/stderr.
var errSilent = errors.New("failed")

// usageError is a wrong command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// run is the whole program: everything it needs comes in as arguments, so
// tests start it with their own environment and buffers.
func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{"no command given"}
	}
	err := runCommand(ctx, args, environ, stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func runCommand(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := args[0], args[1:]
	env := &cliEnv{ctx: ctx, environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	switch cmd {
	case "serve":
		return cmdServe(env, rest)
	case "send":
		return cmdSend(env, rest)
	case "verify":
		return cmdVerify(env, rest)
	case "events":
		return cmdEvents(env, rest)
	case "dead-letters":
		return cmdDeadLetters(env, rest)
	case "replay":
		return cmdReplay(env, rest)
	case "export":
		return cmdExport(env, rest)
	case "import":
		return cmdImport(env, rest)
	case "backup":
		return cmdBackup(env, rest)
	case "compact":
		return cmdCompact(env, rest)
	case "healthcheck":
		return cmdHealthcheck(env, rest)
	case "help", "-h", "--help":
		if len(rest) > 0 && rest[0] != cmd {
			// help CMD [SUB]: the same as CMD [SUB] --help.
			return runCommand(ctx, append(rest[:len(rest):len(rest)], "--help"), environ, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, "tagihan-relay", version)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `tagihan-relay — receive, verify, store and relay TagihanAI webhooks

Usage: tagihan-relay <command> [flags] [args]

Service:
  serve [--env-file F]             run the service (webhook + admin listeners)

Development:
  send TYPE [--url U] [--secret S] [--id ID] [--subject ID] [--document-number N]
                                   post a realistic signed TagihanAI delivery of TYPE
                                   (send --list shows the 24 types)
  verify --body FILE (--header "X-TagihanAI-Signature: ..." | --signature SIG [--timestamp TS]) [--secret S]
                                   explain why a signature passes or fails
  replay [ID...] [--type GLOB] [--since D] (--to URL [--secret S] [--rate N/s] | --sink NAME) [--dry-run]
                                   re-deliver stored events to a URL, signed like TagihanAI, or to a sink

Operating (admin API at RELAY_ADMIN_ADDR, or --db FILE offline):
  events list [--q TEXT] [--type GLOB] [--status S] [--subject ID] [--since D] [--until D] [--limit N] [--cursor C] [--all]
  events show ID
  events resolve ID --sink S (--delivered [--document-number N] | --retry)
  dead-letters list [--sink S] [--type GLOB] [--state dead|needs_review] [--since D] [--limit N] [--cursor C] [--all]
  dead-letters redrive (ID... | --sink S | --type GLOB | --all)
  export [--out FILE] [--type GLOB] [--since D] [--until D]
  import FILE [--route]
  backup --out FILE
  compact --db FILE [--out FILE]   (offline) rewrite the database to reclaim space

Container:
  healthcheck [--live] [--url U]   exit 0 when /readyz (or /healthz) answers 200

Every command takes --help (usage, flags, examples); "tagihan-relay help CMD" is the same.
Common flags: --env-file F, --admin URL, --token T, --db FILE, --json
Durations for --since/--until: 24h, 90m, or RFC 3339 times.

Environment: see README.md and config.example.env.
`
