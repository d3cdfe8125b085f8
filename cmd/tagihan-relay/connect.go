package main

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// connect, disconnect and reconcile (SPEC 7) ask the running relay: the
// source's API key is sealed under its master key, and the test event of
// connect arrives there.

func cmdConnect(env *cliEnv, args []string) error {
	var req relay.ConnectRequest
	var events string
	name, o, c, err := env.sourceCommand("connect", args, func(fs *flag.FlagSet) {
		fs.StringVar(&req.APIKey, "api-key", "", "the workspace's TagihanAI API key (scopes webhooks:read, webhooks:write, transactions:read); - reads it from stdin")
		fs.StringVar(&req.PublicURL, "public-url", "", "where TagihanAI reaches this relay, e.g. https://relay.example.com")
		fs.StringVar(&events, "events", "", "event types to subscribe to, comma-separated (default *: all)")
		fs.StringVar(&req.APIBaseURL, "api-base-url", "", "TagihanAI API base (default TAGIHANAI_API_BASE_URL of the relay)")
	})
	if err != nil {
		return err
	}
	if req.APIKey == "" || req.PublicURL == "" {
		return &usageError{"connect: give --api-key K (or - for stdin) and --public-url URL"}
	}
	if req.APIKey == "-" {
		if req.APIKey, err = readSecretLine(env, name); err != nil {
			return err
		}
	}
	for _, e := range strings.Split(events, ",") {
		if e = strings.TrimSpace(e); e != "" {
			req.Events = append(req.Events, e)
		}
	}
	res, err := c.Connect(env.ctx, name, req)
	if err != nil {
		return err
	}
	if o.json {
		return env.printJSON(res)
	}
	fmt.Fprintf(env.stdout, "connected %s: subscription %s (%s) → %s\n", name, res.WebhookID, res.Subscribed, res.URL)
	fmt.Fprintf(env.stdout, "test event: received and verified (TagihanAI: HTTP %d in %d ms)\n", res.Test.StatusCode, res.Test.ResponseMS)
	if res.Replaced != "" {
		fmt.Fprintf(env.stdout, "deleted the subscription it replaced: %s\n", res.Replaced)
	}
	return nil
}

func cmdDisconnect(env *cliEnv, args []string) error {
	name, o, c, err := env.sourceCommand("disconnect", args, nil)
	if err != nil {
		return err
	}
	id, err := c.Disconnect(env.ctx, name)
	if err != nil {
		return err
	}
	if o.json {
		return env.printJSON(map[string]string{"source": name, "webhook_id": id})
	}
	fmt.Fprintf(env.stdout, "disconnected %s: deleted subscription %s\n", name, id)
	return nil
}

// gapsLeft is reconcile's exit status 1: the report was printed.
type gapsLeft struct{ n int }

func (g *gapsLeft) Error() string { return fmt.Sprintf("%d gap(s) left", g.n) }

func cmdReconcile(env *cliEnv, args []string) error {
	var since time.Duration
	var fix bool
	name, o, c, err := env.sourceCommand("reconcile", args, func(fs *flag.FlagSet) {
		fs.DurationVar(&since, "since", relay.DefaultReconcileWindow, "how far back to compare")
		fs.BoolVar(&fix, "fix", false, "backfill each missing document through the outbox (create-once holds)")
	})
	if err != nil {
		return err
	}
	rep, err := c.Reconcile(env.ctx, name, since, fix)
	if err != nil {
		return err
	}
	if o.json || !isTerminal(env.stdout) {
		if err := env.printJSON(rep); err != nil {
			return err
		}
	} else {
		printReport(env, rep)
	}
	if n := rep.Open(); n > 0 {
		return &gapsLeft{n}
	}
	return nil
}

// printReport prints a reconcile report as a table.
func printReport(env *cliEnv, rep relay.ReconcileReport) {
	fmt.Fprintf(env.stdout, "%s: %s … %s, %d transactions and %d failed deliveries checked\n", rep.Source,
		rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), rep.Checked.Transactions, rep.Checked.Deliveries)
	if len(rep.Gaps) == 0 {
		fmt.Fprintln(env.stdout, "no gap: everything TagihanAI shows, the relay holds")
		return
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTRANSACTION\tDOCUMENT\tSTATUS\tSINK\tFIXED\tDETAIL")
	for _, g := range rep.Gaps {
		fixed := "no"
		if g.Fixed {
			fixed = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Kind, dash(g.TransactionID), dash(g.DocumentNumber), dash(g.Status), dash(g.Sink), fixed, g.Detail)
	}
	tw.Flush()
	if rep.Fix {
		fmt.Fprintf(env.stdout, "backfilled %d; %d gap(s) left\n", rep.Backfilled, rep.Open())
	} else {
		fmt.Fprintf(env.stdout, "%d gap(s); run again with --fix to backfill the missing documents\n", rep.Open())
	}
}
