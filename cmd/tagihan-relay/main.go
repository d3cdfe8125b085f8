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
	"strings"
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
		fmt.Fprint(stderr, usage())
		return &usageError{"no command given"}
	}
	err := runCommand(ctx, args, environ, stdin, stdout, stderr)
	var h *helpRequest
	if errors.As(err, &h) {
		printHelp(stdout, h.fs.Name(), h.fs)
		return nil
	}
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func runCommand(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	name, rest := args[0], args[1:]
	env := &cliEnv{ctx: ctx, environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	switch name {
	case "help", "-h", "--help":
		if len(rest) > 0 && rest[0] != name {
			// help CMD [SUB]: the same as CMD [SUB] --help.
			return runCommand(ctx, append(rest[:len(rest):len(rest)], "--help"), environ, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage())
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, "tagihan-relay", version)
		return nil
	}
	c := findCommand(name)
	switch {
	case c == nil || strings.Contains(name, " "):
		fmt.Fprint(stderr, usage())
		return &usageError{fmt.Sprintf("unknown command %q", name)}
	case c.run == nil:
		return runGroup(env, c, rest)
	}
	return c.run(env, rest)
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
