package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
)

// errorCode is the short name of a failure for a summary: the admin API's
// or the domain's error code, else "error".
func errorCode(err error) string {
	var ae *httpapi.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("%d %s", ae.Status, ae.Code)
	}
	if c := relay.ErrorCode(err); c != "" {
		return c
	}
	return "error"
}

// failureCodes formats failures by code as " (400 invalid_request ×2,
// 503 unavailable ×1)", or "" when there were none.
func failureCodes(codes map[string]int) string {
	if len(codes) == 0 {
		return ""
	}
	parts := make([]string, 0, len(codes))
	for c, n := range codes {
		parts = append(parts, fmt.Sprintf("%s ×%d", c, n))
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}

// replayHeaders are original headers a replay does not copy: they are made
// fresh for the new signature.
var replayHeaders = map[string]bool{
	http.CanonicalHeaderKey(relay.HeaderSignature): true,
	http.CanonicalHeaderKey(relay.HeaderTimestamp): true,
	"Content-Length": true,
}

// replayOpts are replay's flags.
type replayOpts struct {
	to, secret, sink, typ, rate string
	when                        *timeRange
	limit                       int
	dryRun                      bool
	interval                    time.Duration // between deliveries (0: no limit)
}

func replayFlags(fs *flag.FlagSet) *replayOpts {
	o := &replayOpts{}
	fs.StringVar(&o.to, "to", "", "URL to post each stored delivery to, signed like TagihanAI")
	fs.StringVar(&o.secret, "secret", "", "secret to sign with (default: as send)")
	fs.StringVar(&o.sink, "sink", "", "instead of --to: queue a new delivery to this configured sink")
	fs.StringVar(&o.typ, "type", "", "select events by TagihanAI type glob")
	o.when = timeFlags(fs, "select events received since (duration or RFC 3339)", "select events received until (duration or RFC 3339)")
	fs.StringVar(&o.rate, "rate", "", "at most N deliveries per second, e.g. 5/s")
	fs.IntVar(&o.limit, "limit", 0, "at most this many events (0: all selected)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be sent; send nothing")
	return o
}

// check validates the flags against the ids given and sets interval.
func (o *replayOpts) check(ids []string) error {
	if (o.to == "") == (o.sink == "") {
		return &usageError{"replay: give exactly one of --to URL or --sink NAME"}
	}
	if len(ids) == 0 && o.typ == "" && !o.when.set() {
		return &usageError{"replay: select events by ID or with --type/--since/--until"}
	}
	if o.rate != "" {
		n, err := strconv.ParseFloat(strings.TrimSuffix(o.rate, "/s"), 64)
		if err != nil || n <= 0 {
			return &usageError{fmt.Sprintf("replay: --rate %q: give N/s, e.g. 5/s", o.rate)}
		}
		o.interval = time.Duration(float64(time.Second) / n)
	}
	return nil
}

func cmdReplay(env *cliEnv, args []string) error {
	fs := env.flags("replay")
	admin := env.adminFlags(fs)
	o := replayFlags(fs)
	if err := env.parse(fs, args); err != nil {
		return err
	}
	ids := fs.Args()
	if err := o.check(ids); err != nil {
		return err
	}
	var key []byte
	if o.to != "" {
		m, err := env.envMap()
		if err != nil {
			return err
		}
		if key, err = signingKey(o.secret, m); err != nil {
			return err
		}
	}
	b, err := env.openBackend(admin, o.sink != "" && !o.dryRun)
	if err != nil {
		return err
	}
	defer b.Close()
	if len(ids) == 0 {
		if ids, err = selectEvents(env, b, o); err != nil {
			return err
		}
	}
	if o.limit > 0 && len(ids) > o.limit {
		ids = ids[:o.limit]
	}
	if o.sink != "" {
		return replayToSink(env, b, ids, o.sink, o.dryRun, rateTicker(o.interval))
	}
	return replayToURL(env, b, ids, o, key)
}

// selectEvents lists the ids of the events --type/--since/--until select,
// oldest first (the order TagihanAI sent them), up to --limit.
func selectEvents(env *cliEnv, b backend, o *replayOpts) ([]string, error) {
	f := relay.EventFilter{Type: o.typ, Limit: 1000}
	var err error
	if f.Since, f.Until, err = o.when.parse(time.Now()); err != nil {
		return nil, err
	}
	var ids []string
	for {
		page, err := b.ListEvents(env.ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		if page.NextCursor == "" || (o.limit > 0 && len(ids) >= o.limit) {
			break
		}
		f.Cursor = page.NextCursor
	}
	slices.Reverse(ids)
	return ids, nil
}

// urlReplay counts what a replay --to did.
type urlReplay struct {
	sent, ok, failed int
	codes            map[string]int
}

// replayToURL posts each stored body to --to, re-signed with a fresh
// timestamp, and prints one line per event and a summary.
func replayToURL(env *cliEnv, b backend, ids []string, o *replayOpts, key []byte) error {
	tick := rateTicker(o.interval)
	if tick != nil {
		defer tick.Stop()
	}
	r := urlReplay{codes: map[string]int{}}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, id := range ids {
		if !waitTurn(env, tick, i) {
			break
		}
		d, err := b.GetEvent(env.ctx, id)
		if err != nil {
			r.failed++
			r.codes["not found"]++
			fmt.Fprintf(env.stderr, "%s: %v\n", id, err)
			continue
		}
		if o.dryRun {
			fmt.Fprintf(env.stdout, "would send %s (%s, %d bytes) to %s\n", id, dash(d.Type), len(d.Raw.BodyBase64), o.to)
			continue
		}
		if err := r.send(env, client, d, o.to, key); err != nil {
			return err
		}
	}
	if env.wantJSON() {
		summary := map[string]any{"selected": len(ids), "sent": r.sent, "ok": r.ok, "failed": r.failed, "failures": r.codes, "dry_run": o.dryRun}
		if err := env.printJSON(summary); err != nil {
			return err
		}
	} else {
		line := fmt.Sprintf("selected %d, sent %d, 2xx %d, failed %d", len(ids), r.sent, r.ok, r.failed) + failureCodes(r.codes)
		fmt.Fprintln(env.stdout, line)
	}
	if r.failed > 0 {
		return errSilent
	}
	return nil
}

// send posts one stored event to url and counts the answer. It returns an
// error only when the request cannot be built.
func (r *urlReplay) send(env *cliEnv, client *http.Client, d *relay.EventDetail, url string, key []byte) error {
	req, err := signedRequest(url, key, d.Raw.BodyBase64, "", time.Now())
	if err != nil {
		return err
	}
	for k, v := range d.Raw.Headers {
		if !replayHeaders[http.CanonicalHeaderKey(k)] {
			req.Header.Set(k, v)
		}
	}
	// The original id travels in the header too, so a receiver that
	// reads it from there dedups it exactly as TagihanAI's retries.
	req.Header.Set(relay.HeaderEventID, d.ID)
	resp, err := client.Do(req.WithContext(env.ctx))
	r.sent++
	if err != nil {
		r.failed++
		r.codes["error"]++
		fmt.Fprintf(env.stderr, "%s: %v\n", d.ID, err)
		return nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r.ok++
	} else {
		r.failed++
		r.codes[strconv.Itoa(resp.StatusCode)]++
	}
	if !env.wantJSON() {
		fmt.Fprintf(env.stdout, "%s %s → %d\n", d.ID, dash(d.Type), resp.StatusCode)
	}
	return nil
}

// waitTurn waits for the i-th delivery's turn under the rate limit; it
// reports false when the command was interrupted.
func waitTurn(env *cliEnv, tick *time.Ticker, i int) bool {
	if env.ctx.Err() != nil {
		return false
	}
	if tick != nil && i > 0 {
		select {
		case <-tick.C:
		case <-env.ctx.Done():
		}
	}
	return true
}

// rateTicker returns a ticker firing every interval, nil for no rate limit.
func rateTicker(interval time.Duration) *time.Ticker {
	if interval <= 0 {
		return nil
	}
	return time.NewTicker(interval)
}

// sinkReplay is what a replay --sink did to one event.
type sinkReplay struct {
	ID      string `json:"id"`
	Queued  int    `json:"queued"`
	Skipped int    `json:"skipped"`
	Reason  string `json:"reason,omitempty"`
	Error   string `json:"error,omitempty"`
}

// replayToSink queues each event to a configured sink and reports what
// really happened: queued, or skipped with the reason (a create-once sink
// that already has the subject's document sends nothing), or failed. A skip
// is not a failure.
func replayToSink(env *cliEnv, b backend, ids []string, sink string, dryRun bool, tick *time.Ticker) error {
	if tick != nil {
		defer tick.Stop()
	}
	queued, skipped, failed := 0, 0, 0
	codes := map[string]int{}
	results := []sinkReplay{}
	for i, id := range ids {
		if !waitTurn(env, tick, i) {
			break
		}
		if dryRun {
			fmt.Fprintf(env.stdout, "would queue %s to sink %s\n", id, sink)
			continue
		}
		res, err := b.Replay(env.ctx, id, sink)
		r := sinkReplay{ID: id, Queued: res.Queued, Skipped: res.Skipped, Reason: res.Reason}
		switch {
		case err != nil:
			failed++
			codes[errorCode(err)]++
			r.Error = err.Error()
			fmt.Fprintf(env.stderr, "%s: %v\n", id, err)
		case res.Queued > 0:
			queued += res.Queued
			if !env.wantJSON() {
				fmt.Fprintf(env.stdout, "%s → %s: queued\n", id, sink)
			}
		default:
			skipped += res.Skipped
			if !env.wantJSON() {
				fmt.Fprintf(env.stdout, "%s → %s: skipped: %s\n", id, sink, res.Reason)
			}
		}
		results = append(results, r)
	}
	if env.wantJSON() {
		summary := map[string]any{"selected": len(ids), "sink": sink, "queued": queued, "skipped": skipped, "failed": failed,
			"failures": codes, "dry_run": dryRun, "results": results}
		if err := env.printJSON(summary); err != nil {
			return err
		}
	} else {
		line := fmt.Sprintf("selected %d, queued %d, skipped %d, failed %d", len(ids), queued, skipped, failed)
		fmt.Fprintln(env.stdout, line+failureCodes(codes))
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}
