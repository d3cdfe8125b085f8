package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// errorCode is the short name of a failure for a summary: the admin API's
// or the domain's error code, else "error".
func errorCode(err error) string {
	var ae *apiError
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

func cmdReplay(env *cliEnv, args []string) error {
	fs := env.flags("replay")
	env.clientFlags(fs)
	var to, secret, sink, typ, since, until, rate string
	var dryRun bool
	var limit int
	fs.StringVar(&to, "to", "", "URL to post each stored delivery to, signed like TagihanAI")
	fs.StringVar(&secret, "secret", "", "secret to sign with (default: as send)")
	fs.StringVar(&sink, "sink", "", "instead of --to: queue a new delivery to this configured sink")
	fs.StringVar(&typ, "type", "", "select events by TagihanAI type glob")
	fs.StringVar(&since, "since", "", "select events received since (duration or RFC 3339)")
	fs.StringVar(&until, "until", "", "select events received until (duration or RFC 3339)")
	fs.StringVar(&rate, "rate", "", "at most N deliveries per second, e.g. 5/s")
	fs.IntVar(&limit, "limit", 0, "at most this many events (0: all selected)")
	fs.BoolVar(&dryRun, "dry-run", false, "print what would be sent; send nothing")
	if err := env.parse(fs, args); err != nil {
		return err
	}
	if (to == "") == (sink == "") {
		return &usageError{"replay: give exactly one of --to URL or --sink NAME"}
	}
	ids := fs.Args()
	if len(ids) == 0 && typ == "" && since == "" && until == "" {
		return &usageError{"replay: select events by ID or with --type/--since/--until"}
	}
	var interval time.Duration
	if rate != "" {
		n, err := strconv.ParseFloat(strings.TrimSuffix(rate, "/s"), 64)
		if err != nil || n <= 0 {
			return &usageError{fmt.Sprintf("replay: --rate %q: give N/s, e.g. 5/s", rate)}
		}
		interval = time.Duration(float64(time.Second) / n)
	}
	m, err := env.envMap()
	if err != nil {
		return err
	}
	var key []byte
	if to != "" {
		if key, err = signingKey(secret, m); err != nil {
			return err
		}
	}
	b, err := env.openBackend(sink != "" && !dryRun)
	if err != nil {
		return err
	}
	defer b.Close()
	if len(ids) == 0 {
		f := relay.EventFilter{Type: typ, Limit: 1000}
		now := time.Now()
		if f.Since, err = parseWhen("since", since, now); err != nil {
			return err
		}
		if f.Until, err = parseWhen("until", until, now); err != nil {
			return err
		}
		for {
			page, err := b.ListEvents(env.ctx, f)
			if err != nil {
				return err
			}
			for _, e := range page.Events {
				ids = append(ids, e.ID)
			}
			if page.NextCursor == "" || (limit > 0 && len(ids) >= limit) {
				break
			}
			f.Cursor = page.NextCursor
		}
		// Oldest first, the order TagihanAI sent them.
		for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
			ids[i], ids[j] = ids[j], ids[i]
		}
	}
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	if sink != "" {
		return replayToSink(env, b, ids, sink, dryRun, rateTicker(interval))
	}
	sent, ok2xx, failed := 0, 0, 0
	codes := map[string]int{}
	tick := rateTicker(interval)
	if tick != nil {
		defer tick.Stop()
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, id := range ids {
		if env.ctx.Err() != nil {
			break
		}
		if tick != nil && i > 0 {
			select {
			case <-tick.C:
			case <-env.ctx.Done():
			}
		}
		d, err := b.GetEvent(env.ctx, id)
		if err != nil {
			failed++
			codes["not found"]++
			fmt.Fprintf(env.stderr, "%s: %v\n", id, err)
			continue
		}
		if dryRun {
			fmt.Fprintf(env.stdout, "would send %s (%s, %d bytes) to %s\n", id, dash(d.Type), len(d.Raw.BodyBase64), to)
			continue
		}
		req, err := signedRequest(to, key, d.Raw.BodyBase64, "", time.Now())
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
		req.Header.Set(relay.HeaderEventID, id)
		resp, err := client.Do(req.WithContext(env.ctx))
		sent++
		if err != nil {
			failed++
			codes["error"]++
			fmt.Fprintf(env.stderr, "%s: %v\n", id, err)
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			ok2xx++
		} else {
			failed++
			codes[strconv.Itoa(resp.StatusCode)]++
		}
		if !env.wantJSON() {
			fmt.Fprintf(env.stdout, "%s %s → %d\n", id, dash(d.Type), resp.StatusCode)
		}
	}
	summary := map[string]any{"selected": len(ids), "sent": sent, "ok": ok2xx, "failed": failed, "failures": codes, "dry_run": dryRun}
	if env.wantJSON() {
		if err := env.printJSON(summary); err != nil {
			return err
		}
	} else {
		line := fmt.Sprintf("selected %d, sent %d, 2xx %d, failed %d", len(ids), sent, ok2xx, failed) + failureCodes(codes)
		fmt.Fprintln(env.stdout, line)
	}
	if failed > 0 {
		return errSilent
	}
	return nil
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
		if env.ctx.Err() != nil {
			break
		}
		if tick != nil && i > 0 {
			select {
			case <-tick.C:
			case <-env.ctx.Done():
			}
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
