package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

func cmdEventsList(env *cliEnv, args []string) error {
	fs := env.flags("events list")
	admin := env.adminFlags(fs)
	var f relay.EventFilter
	var all bool
	var limit int
	fs.StringVar(&f.Q, "q", "", "find by event id, document number, subject or counterparty name")
	fs.StringVar(&f.Q, "search", "", "same as --q")
	fs.StringVar(&f.Type, "type", "", "TagihanAI type glob, e.g. transaction.*")
	fs.StringVar(&f.Status, "status", "", "unparsed, unrouted, pending, delivered, dead or needs_review")
	fs.StringVar(&f.Subject, "subject", "", "transaction/payment/subscription/party id")
	fs.StringVar(&f.Source, "source", "", "only this source's events (\"default\" is the environment's; default: every source)")
	when := timeFlags(fs, "from (duration back from now, or RFC 3339)", "until (duration back from now, or RFC 3339)")
	fs.IntVar(&limit, "limit", 0, "stop after N events (default: every match as JSON, 100 on a terminal)")
	fs.StringVar(&f.Cursor, "cursor", "", "continue after this cursor")
	fs.BoolVar(&all, "all", false, "on a terminal too, list every match")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	var err error
	if f.Since, f.Until, err = when.parse(time.Now()); err != nil {
		return err
	}
	if limit < 0 {
		return &usageError{"events list: --limit must be 1 or more"}
	}
	b, err := env.openBackend(admin, false)
	if err != nil {
		return err
	}
	defer b.Close()
	return printList(env, limit, all, f.Cursor, "events", "no events match",
		"RECEIVED\tID\tTYPE\tSTATUS\tSUBJECT\tDOCUMENT\tCOUNTERPARTY",
		func(max int, cursor string) ([]relay.EventSummary, string, error) {
			f.Limit, f.Cursor = max, cursor
			page, err := b.ListEvents(env.ctx, f)
			return page.Events, page.NextCursor, err
		},
		func(w io.Writer, e relay.EventSummary) {
			typ := e.Type
			if e.Test {
				typ += " (test)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ReceivedAt.Local().Format("2006-01-02 15:04:05"), e.ID, dash(typ), e.ListStatus(), dash(e.Subject), dash(e.DocumentNumber), dash(e.Counterparty))
		})
}

// printList prints a cursor-paged list (env.paged: to the end or --limit):
// one JSON object per line when piped or with --json, else a table with
// header and a row per item; then listEnd's closing line (what was left,
// or empty, which is named).
func printList[T any](env *cliEnv, limit int, all bool, cursor, what, empty, header string,
	fetch func(max int, cursor string) ([]T, string, error), row func(io.Writer, T)) error {
	asJSON := env.wantJSON()
	var tw *tabwriter.Writer
	enc := json.NewEncoder(env.stdout)
	n, more, err := env.paged(limit, all, cursor, func(max int, cursor string) (int, string, error) {
		items, next, err := fetch(max, cursor)
		if err != nil {
			return 0, "", err
		}
		for _, it := range items {
			if asJSON {
				if err := enc.Encode(it); err != nil {
					return 0, "", err
				}
				continue
			}
			if tw == nil {
				tw = tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, header)
			}
			row(tw, it)
		}
		return len(items), next, nil
	})
	if tw != nil {
		tw.Flush()
	}
	if err != nil {
		return err
	}
	env.listEnd(asJSON, n, more, what, empty)
	return nil
}

// paged runs a cursor-paged list: fetch prints up to max rows after
// cursor and returns how many it printed and the next cursor. As JSON, or
// with all, it follows the cursor to the end; limit (0: none; on a terminal
// without all, 100) caps the rows. It returns the rows printed and, when it
// stopped before the end, the cursor that continues.
func (e *cliEnv) paged(limit int, all bool, cursor string, fetch func(max int, cursor string) (int, string, error)) (int, string, error) {
	if limit == 0 && !all && !e.wantJSON() {
		limit = 100
	}
	printed := 0
	for {
		max := 1000
		if limit > 0 && limit-printed < max {
			max = limit - printed
		}
		n, next, err := fetch(max, cursor)
		if err != nil {
			return printed, "", err
		}
		printed += n
		if next == "" {
			return printed, "", nil
		}
		if limit > 0 && printed >= limit {
			return printed, next, nil
		}
		cursor = next
	}
}

// listEnd tells, on stderr, that a list stopped before its end, and on a
// terminal says so when nothing matched instead of printing a bare header.
func (e *cliEnv) listEnd(asJSON bool, n int, more, what, none string) {
	if n == 0 && !asJSON {
		fmt.Fprintln(e.stdout, none)
	}
	if more == "" {
		return
	}
	if asJSON {
		fmt.Fprintf(e.stderr, "more: stopped after %d %s (--limit); --cursor %s continues\n", n, what, more)
		return
	}
	fmt.Fprintf(e.stderr, "more: use --limit N for more rows, --cursor %s for the next page, or --all\n", more)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdEventsShow(env *cliEnv, args []string) error {
	fs := env.flags("events show")
	admin := env.adminFlags(fs)
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"events show: give one event ID"}
	}
	b, err := env.openBackend(admin, false)
	if err != nil {
		return err
	}
	defer b.Close()
	d, err := b.GetEvent(env.ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if env.wantJSON() {
		return env.printJSON(d)
	}
	w := env.stdout
	fmt.Fprintf(w, "Event     %s\n", d.ID)
	fmt.Fprintf(w, "Type      %s%s\n", dash(d.Type), map[bool]string{true: " (test)"}[d.Test])
	fmt.Fprintf(w, "Status    %s\n", d.Status)
	fmt.Fprintf(w, "Subject   %s\n", dash(d.Subject))
	if d.DocumentNumber != "" || d.Counterparty != "" {
		fmt.Fprintf(w, "Document  %s  %s\n", dash(d.DocumentNumber), d.Counterparty)
	}
	fmt.Fprintf(w, "Received  %s", d.ReceivedAt.Format(time.RFC3339Nano))
	if d.Duplicates > 0 {
		fmt.Fprintf(w, "  (+%d duplicates, last %s)", d.Duplicates, d.LastReceivedAt.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	if d.ParseError != "" {
		fmt.Fprintf(w, "Unparsed  %s\n", d.ParseError)
	}
	fmt.Fprintln(w, "\nDeliveries:")
	if len(d.Deliveries) == 0 {
		fmt.Fprintln(w, "  (none: no sink wanted this event)")
	}
	for _, dl := range d.Deliveries {
		fmt.Fprintf(w, "  %-14s %-12s attempts=%d", dl.Sink, dl.State, dl.Attempts)
		if dl.NextAttemptAt != nil {
			fmt.Fprintf(w, " next=%s", dl.NextAttemptAt.Local().Format(time.RFC3339))
		}
		if dl.WaitingFor != "" {
			fmt.Fprintf(w, " · waiting for %s (%s)", dl.WaitingFor, dash(dl.WaitingForState))
		}
		if doc := dl.Result["document_number"]; doc != "" {
			fmt.Fprintf(w, " document=%s", doc)
		}
		switch {
		case dl.State == relay.StateSkipped:
			fmt.Fprintf(w, "\n%17s skipped: %s", "", dash(dl.LastError))
		case dl.LastError != "":
			fmt.Fprintf(w, "\n%17s last error: %s", "", dl.LastError)
		}
		fmt.Fprintln(w)
		for _, a := range dl.History {
			fmt.Fprintf(w, "%17s %s  %-9s %4s %6dms  %s\n", "", a.At.Local().Format("2006-01-02 15:04:05"), a.Outcome, statusText(a.StatusCode), a.Duration.Milliseconds(), a.Error)
		}
		printRequest(w, &dl)
		if c := relay.NewReviewCard(d, &dl, ""); c != nil {
			printReviewCard(w, c)
		}
	}
	for _, c := range d.Created {
		fmt.Fprintf(w, "Created   %s document %s for %s (event %s, %s)\n", c.Sink, dash(c.DocumentNumber), c.Subject, c.EventID, c.CreatedAt.Format(time.RFC3339))
	}
	for _, op := range d.Operations {
		fmt.Fprintf(w, "Operator  %s %s %s %s %s\n", op.At.Local().Format(time.RFC3339), op.Operator, op.Action, op.Sink, op.Detail)
	}
	fmt.Fprintln(w, "\nHeaders:")
	for k, v := range d.Raw.Headers {
		if strings.EqualFold(k, relay.HeaderSignature) && len(v) > 24 {
			v = v[:24] + "…"
		}
		fmt.Fprintf(w, "  %s: %s\n", k, v)
	}
	fmt.Fprintf(w, "\nBody (%d bytes):\n%s\n", len(d.Raw.BodyBase64), d.Raw.BodyBase64)
	if len(d.Event) > 0 {
		// Output here is for a terminal (JSON otherwise): indent it.
		event := []byte(d.Event)
		var pretty bytes.Buffer
		if json.Indent(&pretty, event, "", "  ") == nil {
			event = pretty.Bytes()
		}
		fmt.Fprintf(w, "\nCloudEvent:\n%s\n", event)
	}
	return nil
}

func statusText(code int) string {
	if code == 0 {
		return "-"
	}
	return fmt.Sprint(code)
}

func cmdEventsResolve(env *cliEnv, args []string) error {
	fs := env.flags("events resolve")
	admin := env.adminFlags(fs)
	var res relay.Resolution
	var delivered, retry bool
	var doc string
	fs.StringVar(&res.Sink, "sink", "", "the sink whose delivery needs review")
	fs.BoolVar(&delivered, "delivered", false, "the document exists at the sink: mark delivered")
	fs.StringVar(&doc, "document-number", "", "with --delivered: the document number found at the sink")
	fs.BoolVar(&retry, "retry", false, "the document does not exist at the sink: send again")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || res.Sink == "" || delivered == retry {
		return &usageError{"events resolve: give ID, --sink S and one of --delivered or --retry"}
	}
	res.Outcome = "retry"
	if delivered {
		res.Outcome = "delivered"
		if doc != "" {
			res.Result = map[string]string{"document_number": doc}
		}
	}
	b, err := env.openBackend(admin, true)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Resolve(env.ctx, fs.Arg(0), res); err != nil {
		return err
	}
	if env.wantJSON() {
		return env.printJSON(map[string]any{"resolved": true, "event_id": fs.Arg(0), "sink": res.Sink, "outcome": res.Outcome})
	}
	fmt.Fprintf(env.stdout, "resolved %s at %s: %s\n", fs.Arg(0), res.Sink, res.Outcome)
	return nil
}

func cmdDeadLettersList(env *cliEnv, args []string) error {
	fs := env.flags("dead-letters list")
	admin := env.adminFlags(fs)
	var f relay.DeadLetterFilter
	var limit int
	var all bool
	fs.StringVar(&f.Sink, "sink", "", "only this sink (a configured sink name)")
	fs.StringVar(&f.Source, "source", "", "only the dead letters of this source's sinks (\"default\" is the environment's; default: every source)")
	fs.StringVar(&f.Type, "type", "", "TagihanAI type glob")
	fs.StringVar(&f.State, "state", "", "dead or needs_review (default both)")
	when := timeFlags(fs, "dead since (duration or RFC 3339)", "")
	fs.IntVar(&limit, "limit", 0, "stop after N (default: all as JSON, 100 on a terminal)")
	fs.StringVar(&f.Cursor, "cursor", "", "continue after this cursor")
	fs.BoolVar(&all, "all", false, "on a terminal too, list every one")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	var err error
	if f.Since, _, err = when.parse(time.Now()); err != nil {
		return err
	}
	if limit < 0 {
		return &usageError{"dead-letters list: --limit must be 1 or more"}
	}
	b, err := env.openBackend(admin, false)
	if err != nil {
		return err
	}
	defer b.Close()
	return printList(env, limit, all, f.Cursor, "dead letters", "no dead letters match",
		"SINCE\tEVENT\tSINK\tSTATE\tTYPE\tSUBJECT\tATTEMPTS\tLAST\tREASON",
		func(max int, cursor string) ([]relay.DeadLetter, string, error) {
			f.Limit, f.Cursor = max, cursor
			page, err := b.ListDeadLetters(env.ctx, f)
			return page.DeadLetters, page.NextCursor, err
		},
		func(w io.Writer, d relay.DeadLetter) {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.DeadAt.Local().Format("2006-01-02 15:04:05"), d.EventID, d.Sink, d.State, dash(d.Type), dash(d.Subject), d.Attempts, statusText(d.LastStatus), truncate(d.Reason, 100))
		})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func cmdDeadLettersRedrive(env *cliEnv, args []string) error {
	fs := env.flags("dead-letters redrive")
	admin := env.adminFlags(fs)
	var r relay.Redrive
	fs.StringVar(&r.Sink, "sink", "", "only this sink's dead letters (with IDs: only that sink's deliveries)")
	fs.StringVar(&r.Type, "type", "", "only events of this TagihanAI type glob")
	fs.BoolVar(&r.All, "all", false, "every dead letter")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	r.IDs = fs.Args()
	if r.Empty() {
		return &usageError{"dead-letters redrive: give IDs, --sink, --type or --all"}
	}
	b, err := env.openBackend(admin, true)
	if err != nil {
		return err
	}
	defer b.Close()
	n, err := b.Redrive(env.ctx, r)
	if err != nil {
		return err
	}
	if env.wantJSON() {
		return env.printJSON(map[string]int{"redriven": n})
	}
	fmt.Fprintf(env.stdout, "redriven: %d (needs_review deliveries are never redriven in bulk: resolve them one by one)\n", n)
	return nil
}
