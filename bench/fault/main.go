// Command fault is the fault harness: it proves "lossless" with the real
// binary under load (docs/BENCHMARKS.md, "Faults"). The in-test version of
// the first part is cmd/tagihan-relay's TestCrash_RepeatedKillsUnderLoad;
// this one runs it at a larger scale and adds the other faults.
//
//	go run ./bench/fault                 # 20 kill cycles, 10 s outage, 35 s slowloris (~4 min)
//	go run ./bench/fault -cycles 5 -outage 4s -slow-for 8s   # quick
//
// Parts, each on its own data directory, with a counting HTTP sink that
// dedups by webhook-id:
//
//  1. kill: -cycles times, start the service, run -workers signed senders
//     for a random 1–3 s, SIGKILL it mid-load. After each restart every
//     delivery that got a 2xx is looked up in the admin API (it must be
//     there); at the end every such event must reach the sink. Duplicates
//     the sink saw are counted: they must be redeliveries of the same
//     webhook-id (the body's id equals the header), at most one per
//     delivery in flight at a kill.
//  2. outage: the sink answers 503 for half of -outage, then refuses
//     connections for the other half, while deliveries keep arriving; after
//     it recovers, 100% must be delivered (retry schedule -schedule, a
//     compressed version of the default so the run stays short).
//  3. slowloris: -slow connections trickle request headers (one header line
//     a second, never ending) or, half of them, a body (one byte a second),
//     reconnecting when the server cuts them, for -slow-for; meanwhile valid
//     deliveries must keep getting 200 within -slow-bound (p99), compared
//     with the same client's latency just before (baseline, same run).
//  4. disk errors are a unit test: relay/httpapi TestIngest_StoreUnavailable
//     (a failing store answers 503 + Retry-After, stores nothing, leaks no
//     internal error); it is run here too unless -unit=false.
//
// The exit status is non-zero when any check fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tagihan-relay/tagihan-relay/bench/internal/benchkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

type config struct {
	bin       string
	cycles    int
	workers   int
	outage    time.Duration
	schedule  string
	slow      int
	slowFor   time.Duration
	slowBound time.Duration
	unit      bool
	seed      uint64
	parts     string
}

var failed atomic.Bool

func check(ok bool, format string, args ...any) string {
	if ok {
		return "ok"
	}
	failed.Store(true)
	msg := fmt.Sprintf(format, args...)
	logf("CHECK FAILED: %s", msg)
	return "FAILED: " + msg
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "fault: "+format+"\n", args...) }

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "prebuilt tagihan-relay binary (default: build into bench/out)")
	flag.IntVar(&c.cycles, "cycles", 20, "SIGKILL cycles")
	flag.IntVar(&c.workers, "workers", 8, "concurrent senders")
	flag.DurationVar(&c.outage, "outage", 10*time.Second, "sink outage (half 503, half connection refused)")
	flag.StringVar(&c.schedule, "schedule", "1s,2s,4s,8s,16s,32s,60s", "SINK_ERP_RETRY_SCHEDULE for the outage part")
	flag.IntVar(&c.slow, "slow", 256, "slowloris connections")
	flag.DurationVar(&c.slowFor, "slow-for", 35*time.Second, "how long the slow clients keep at it")
	flag.DurationVar(&c.slowBound, "slow-bound", 500*time.Millisecond, "p99 bound for valid deliveries during slowloris")
	flag.BoolVar(&c.unit, "unit", true, "also run relay/httpapi TestIngest_StoreUnavailable")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed (cycle lengths)")
	flag.StringVar(&c.parts, "parts", "kill,outage,slowloris,disk", "which parts to run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bin, err := benchkit.RelayBinary(c.bin)
	if err != nil {
		log.Fatal(err)
	}
	c.bin = bin
	fmt.Printf("## Fault harness\n\n")
	for _, part := range strings.Split(c.parts, ",") {
		var err error
		switch strings.TrimSpace(part) {
		case "kill":
			err = killCycles(ctx, c)
		case "outage":
			err = outage(ctx, c)
		case "slowloris":
			err = slowloris(ctx, c)
		case "disk":
			if c.unit {
				err = diskErrors(ctx)
			}
		default:
			err = fmt.Errorf("unknown part %q", part)
		}
		if err != nil {
			failed.Store(true)
			logf("%s: %v", part, err)
			fmt.Printf("%s: ERROR %v\n\n", part, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if failed.Load() {
		fmt.Println("RESULT: some checks FAILED")
		os.Exit(1)
	}
	fmt.Println("RESULT: every check passed")
}

// --- senders ----------------------------------------------------------------

// ledger records what the counting client sent and what came back.
type ledger struct {
	mu      sync.Mutex
	acked   map[string]int // id -> cycle it was acked in (2xx)
	maybe   map[string]int // transport error or non-2xx: stored or not, unknown
	status  map[int]int
	seq     atomic.Int64
	prefix  string
	latency []time.Duration
}

func newLedger(prefix string) *ledger {
	return &ledger{acked: map[string]int{}, maybe: map[string]int{}, status: map[int]int{}, prefix: prefix}
}

// send posts delivery seq (signed now) and records the outcome under cycle.
func (l *ledger) send(ctx context.Context, hc *http.Client, public string, cycle int) (int, time.Duration) {
	i := int(l.seq.Add(1) - 1)
	id := benchkit.EventID(l.prefix, i)
	body := benchkit.Body(l.prefix, i, 1)
	start := time.Now()
	code := postSigned(ctx, hc, public, body)
	d := time.Since(start)
	l.mu.Lock()
	l.status[code]++
	if code >= 200 && code < 300 {
		l.acked[id] = cycle
		l.latency = append(l.latency, d)
	} else {
		l.maybe[id] = cycle
	}
	l.mu.Unlock()
	return code, d
}

func (l *ledger) ackedIn(cycle int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, c := range l.acked {
		if c == cycle {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// load runs workers senders until stop is closed; each returns after its
// current request.
func (l *ledger) load(ctx context.Context, public string, workers, cycle int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if code, _ := l.send(ctx, hc, public, cycle); code == 0 {
					// The service is gone (killed): back off a little, the
					// harness stops us right after.
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	go func() { wg.Wait(); tr.CloseIdleConnections() }()
	return &wg
}

func postSigned(ctx context.Context, hc *http.Client, public string, body []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, public+"/webhooks/tagihanai", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(relay.HeaderSignature, benchkit.SignHeader(body, time.Now()))
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// present looks every id up in the admin API (8 at a time) and returns
// the ones not found.
func present(ctx context.Context, admin string, ids []string) ([]string, error) {
	var mu sync.Mutex
	var missing []string
	var firstErr error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, admin+"/v1/events/"+url.PathEscape(id), nil)
			resp, err := hc.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
			case http.StatusNotFound:
				missing = append(missing, id)
			default:
				if firstErr == nil {
					firstErr = fmt.Errorf("GET /v1/events/%s: %d", id, resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	return missing, firstErr
}

// waitDelivered waits (up to timeout) until the target acknowledged every
// id; it returns those it did not.
func waitDelivered(ctx context.Context, t *benchkit.Target, ids []string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		var missing []string
		for _, id := range ids {
			if t.Seen(id) == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return missing
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitOutboxEmpty waits until sink erp has nothing pending or in flight.
func waitOutboxEmpty(ctx context.Context, svc *benchkit.Service, timeout time.Duration) (benchkit.SinkStats, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := svc.Stats(ctx)
		if err == nil && st.Sinks["erp"].Pending+st.Sinks["erp"].InFlight == 0 {
			return st.Sinks["erp"], nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return st.Sinks["erp"], fmt.Errorf("outbox not empty after %s: %+v (%v)", timeout, st.Sinks["erp"], err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --- 1. kill cycles --------------------------------------------------------

func killCycles(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "tagihan-fault-kill-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	target, err := benchkit.NewTarget(benchkit.Up, true)
	if err != nil {
		return err
	}
	defer target.Close()
	env := benchkit.BaseEnv(dir, "RELAY_SINKS=erp", "SINK_ERP_KIND=http", "SINK_ERP_URL="+target.URL)
	rng := rand.New(rand.NewPCG(c.seed, 42))
	l := newLedger("kill")
	t := benchkit.Table{Header: []string{"cycle", "load", "acked (2xx)", "unacked (cut by the kill)", "restart → listening", "acked before the kill, found after restart", "missing"}}
	totalMissing := 0
	var svc *benchkit.Service
	for cycle := 1; cycle <= c.cycles+1 && ctx.Err() == nil; cycle++ {
		start := time.Now()
		svc, err = benchkit.StartService(c.bin, env, 60*time.Second)
		if err != nil {
			return fmt.Errorf("cycle %d: %w", cycle, err)
		}
		restart := time.Since(start)
		// Everything acked in the previous cycle must be there.
		prevFound, prevMissing := "-", "-"
		if cycle > 1 {
			ids := l.ackedIn(cycle - 1)
			missing, err := present(ctx, svc.Admin, ids)
			if err != nil {
				svc.Kill()
				return fmt.Errorf("cycle %d: look-up: %w", cycle, err)
			}
			totalMissing += len(missing)
			prevFound = fmt.Sprintf("%d / %d", len(ids)-len(missing), len(ids))
			prevMissing = check(len(missing) == 0, "%d acked events lost: %v", len(missing), first(missing, 5))
			// Fill in the previous row now that we know.
			row := t.Rows[len(t.Rows)-1]
			row[4], row[5], row[6] = benchkit.Ms(restart), prevFound, prevMissing
		}
		if cycle == c.cycles+1 {
			break // the final start: only verify
		}
		dur := time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
		stop := make(chan struct{})
		wg := l.load(ctx, svc.Public, c.workers, cycle, stop)
		time.Sleep(dur)
		svc.Kill()
		close(stop)
		wg.Wait()
		acked := len(l.ackedIn(cycle))
		l.mu.Lock()
		unacked := 0
		for _, cy := range l.maybe {
			if cy == cycle {
				unacked++
			}
		}
		l.mu.Unlock()
		t.Add(cycle, dur.Round(10*time.Millisecond), acked, unacked, "", "", "")
		logf("kill cycle %d/%d: %d acked in %s, SIGKILL", cycle, c.cycles, acked, dur.Round(10*time.Millisecond))
	}
	defer svc.Kill()
	// Every acked event reaches the sink.
	var all []string
	l.mu.Lock()
	for id := range l.acked {
		all = append(all, id)
	}
	maybe := make(map[string]bool, len(l.maybe))
	for id := range l.maybe {
		maybe[id] = true
	}
	status := fmt.Sprint(l.status)
	l.mu.Unlock()
	undelivered := waitDelivered(ctx, target, all, 2*time.Minute)
	sinkStats, drainErr := waitOutboxEmpty(ctx, svc, time.Minute)
	counts := target.Counts()
	// Every id the sink saw was sent by us (acked, or stored although its
	// ack was cut by a kill).
	foreign, unackedDelivered := 0, 0
	ackedSet := make(map[string]bool, len(all))
	for _, id := range all {
		ackedSet[id] = true
	}
	for id := range target.IDs() {
		switch {
		case ackedSet[id]:
		case maybe[id]:
			unackedDelivered++
		default:
			foreign++
		}
	}
	t.Write(os.Stdout)
	fmt.Println()
	s := benchkit.Table{Header: []string{"check", "value", "verdict"}}
	s.Add("kill cycles", c.cycles, "")
	s.Add("answers to the counting client", status, "")
	s.Add("acked (2xx) events, all cycles", len(all), "")
	s.Add("acked events missing after a restart", totalMissing, check(totalMissing == 0, "%d acked events lost", totalMissing))
	s.Add("acked events never delivered to the sink", len(undelivered), check(len(undelivered) == 0, "%d acked events not delivered: %v", len(undelivered), first(undelivered, 5)))
	s.Add("unacked (cut) events that were stored and delivered anyway", unackedDelivered, "ok (at-least-once: stored before the kill cut the answer)")
	s.Add("sink: distinct webhook-ids / 2xx deliveries", fmt.Sprintf("%d / %d", counts.Distinct, counts.Delivered), "")
	s.Add("sink: duplicates (redeliveries of an acknowledged id)", fmt.Sprintf("%d (max %d per id)", counts.Duplicates, counts.MaxPerID),
		check(counts.Duplicates <= int64(c.cycles*8), "%d duplicates > one per in-flight delivery per kill (%d)", counts.Duplicates, c.cycles*8))
	s.Add("sink: webhook-ids not sent by the client", foreign, check(foreign == 0, "%d foreign ids", foreign))
	s.Add("sink: body id ≠ webhook-id", counts.Mismatched, check(counts.Mismatched == 0, "%d bodies with another id", counts.Mismatched))
	drain := "ok"
	if drainErr != nil {
		drain = check(false, "%v", drainErr)
	}
	s.Add("outbox at the end (pending / in flight / delivered / dead / needs review)", fmt.Sprintf("%d / %d / %d / %d / %d",
		sinkStats.Pending, sinkStats.InFlight, sinkStats.Delivered, sinkStats.Dead, sinkStats.NeedsReview), drain)
	s.Write(os.Stdout)
	fmt.Println()
	return nil
}

func first(ids []string, n int) []string {
	if len(ids) > n {
		return ids[:n]
	}
	return ids
}

// --- 2. sink outage -----------------------------------------------------------

func outage(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "tagihan-fault-outage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	target, err := benchkit.NewTarget(benchkit.Up, true)
	if err != nil {
		return err
	}
	defer target.Close()
	env := benchkit.BaseEnv(dir, "RELAY_SINKS=erp", "SINK_ERP_KIND=http", "SINK_ERP_URL="+target.URL,
		"SINK_ERP_RETRY_SCHEDULE="+c.schedule, "SINK_ERP_TIMEOUT=5s")
	svc, err := benchkit.StartService(c.bin, env, 60*time.Second)
	if err != nil {
		return err
	}
	defer svc.Kill()
	l := newLedger("outage")
	tr := &http.Transport{}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	// A steady 100 deliveries/s from 2 s before the outage to 2 s after.
	stopLoad := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopLoad:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				l.send(ctx, hc, svc.Public, 0)
			}
		}
	}()
	time.Sleep(2 * time.Second)
	before, _ := benchkit.ScrapeMetrics(ctx, svc.Admin+"/metrics")
	logf("outage: sink answers 503 for %s", c.outage/2)
	target.SetMode(benchkit.Down)
	time.Sleep(c.outage / 2)
	logf("outage: sink refuses connections for %s", c.outage/2)
	target.Close()
	time.Sleep(c.outage / 2)
	if err := target.Reopen(); err != nil {
		return err
	}
	target.SetMode(benchkit.Up)
	recovered := time.Now()
	logf("outage: sink back up")
	time.Sleep(2 * time.Second)
	close(stopLoad)
	<-loadDone
	var all []string
	l.mu.Lock()
	for id := range l.acked {
		all = append(all, id)
	}
	status := fmt.Sprint(l.status)
	l.mu.Unlock()
	undelivered := waitDelivered(ctx, target, all, 3*time.Minute)
	allAt := time.Now()
	sinkStats, drainErr := waitOutboxEmpty(ctx, svc, 30*time.Second)
	after, _ := benchkit.ScrapeMetrics(ctx, svc.Admin+"/metrics")
	counts := target.Counts()
	outcome := func(o string) float64 {
		k := `tagihan_relay_deliveries_total{outcome="` + o + `",sink="erp"}`
		return after[k] - before[k]
	}
	s := benchkit.Table{Header: []string{"outage", "value", "verdict"}}
	s.Add("sink down", fmt.Sprintf("%s (%s answering 503, then %s refusing connections)", c.outage, c.outage/2, c.outage/2), "")
	s.Add("retry schedule", c.schedule, "")
	s.Add("deliveries posted during and around it (100/s)", fmt.Sprintf("%d, answers %s", l.seq.Load(), status),
		check(l.status[http.StatusOK] == int(l.seq.Load()), "ingest did not answer 200 to everything while the sink was down"))
	s.Add("attempts: delivered / transient failures", fmt.Sprintf("%.0f / %.0f", outcome("delivered"), outcome("transient")), "")
	s.Add("acked events delivered", fmt.Sprintf("%d / %d", len(all)-len(undelivered), len(all)),
		check(len(undelivered) == 0, "%d acked events not delivered after the outage", len(undelivered)))
	s.Add("time from recovery to 100% delivered", fmt.Sprintf("%.1f s", allAt.Sub(recovered).Seconds()), "")
	s.Add("sink: duplicates / body id ≠ webhook-id", fmt.Sprintf("%d / %d", counts.Duplicates, counts.Mismatched),
		check(counts.Mismatched == 0, "%d mismatched ids", counts.Mismatched))
	drain := "ok"
	if drainErr != nil {
		drain = check(false, "%v", drainErr)
	}
	s.Add("outbox at the end (pending / in flight / delivered / dead)", fmt.Sprintf("%d / %d / %d / %d",
		sinkStats.Pending, sinkStats.InFlight, sinkStats.Delivered, sinkStats.Dead), drain)
	s.Write(os.Stdout)
	fmt.Println()
	return svc.Stop(30 * time.Second)
}

// --- 3. slowloris ---------------------------------------------------------------

func slowloris(ctx context.Context, c config) error {
	dir, err := os.MkdirTemp("", "tagihan-fault-slow-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	target, err := benchkit.NewTarget(benchkit.Up, true)
	if err != nil {
		return err
	}
	defer target.Close()
	env := benchkit.BaseEnv(dir, "RELAY_SINKS=erp", "SINK_ERP_KIND=http", "SINK_ERP_URL="+target.URL)
	svc, err := benchkit.StartService(c.bin, env, 60*time.Second)
	if err != nil {
		return err
	}
	defer svc.Kill()
	host := strings.TrimPrefix(svc.Public, "http://")

	// Valid deliveries: 4 senders, 20 ms apart each (≈ 200/s), measured
	// 5 s before (baseline) and during the attack.
	valid := func(d time.Duration, prefix string) (*ledger, time.Duration) {
		l := newLedger(prefix)
		tr := &http.Transport{}
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		defer tr.CloseIdleConnections()
		stopAt := time.Now().Add(d)
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stopAt) && ctx.Err() == nil {
					l.send(ctx, hc, svc.Public, 0)
					time.Sleep(20 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		return l, d
	}
	base, _ := valid(5*time.Second, "slowbase")

	// The attack.
	var opened, open, maxOpen atomic.Int64
	var cutMu sync.Mutex
	cuts := map[string][]time.Duration{}
	attackCtx, cancel := context.WithTimeout(ctx, c.slowFor)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < c.slow; i++ {
		kind := "headers"
		if i%2 == 1 {
			kind = "body"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attackCtx.Err() == nil {
				opened.Add(1)
				n := open.Add(1)
				for m := maxOpen.Load(); n > m && !maxOpen.CompareAndSwap(m, n); m = maxOpen.Load() {
				}
				held, cut := trickle(attackCtx, host, kind)
				open.Add(-1)
				if cut {
					cutMu.Lock()
					cuts[kind] = append(cuts[kind], held)
					cutMu.Unlock()
				} else if attackCtx.Err() == nil {
					time.Sleep(100 * time.Millisecond) // dial failed: do not spin
				}
			}
		}()
	}
	time.Sleep(time.Second) // let the connections pile up
	during, dur := valid(c.slowFor-2*time.Second, "slow")
	wg.Wait()
	var ids []string
	during.mu.Lock()
	for id := range during.acked {
		ids = append(ids, id)
	}
	during.mu.Unlock()
	undelivered := waitDelivered(ctx, target, ids, time.Minute)

	p99b, p99d := benchkit.Percentile(base.latency, 99), benchkit.Percentile(during.latency, 99)
	s := benchkit.Table{Header: []string{"slowloris", "value", "baseline (same client, 5 s before)", "ratio", "verdict"}}
	s.Add("slow connections", fmt.Sprintf("%d (half trickling headers, half a body), %s; %d opened in all, at most %d open at once",
		c.slow, c.slowFor, opened.Load(), maxOpen.Load()), "", "", "")
	cutMu.Lock()
	hc, bc := append([]time.Duration(nil), cuts["headers"]...), append([]time.Duration(nil), cuts["body"]...)
	cutMu.Unlock()
	s.Add("header tricklers cut by the server after (median, max)", fmt.Sprintf("%s, %s (%d cut)", benchkit.Ms(benchkit.Percentile(hc, 50)), benchkit.Ms(benchkit.Percentile(hc, 100)), len(hc)), "", "", "ReadHeaderTimeout 5 s")
	s.Add("body tricklers cut by the server after (median, max)", fmt.Sprintf("%s, %s (%d cut)", benchkit.Ms(benchkit.Percentile(bc, 50)), benchkit.Ms(benchkit.Percentile(bc, 100)), len(bc)), "", "", "ReadTimeout 30 s")
	s.Add("valid deliveries during the attack", fmt.Sprintf("%d in %s, answers %v", during.seq.Load(), dur, during.status), fmt.Sprintf("%d, answers %v", base.seq.Load(), base.status), "",
		check(during.status[http.StatusOK] == int(during.seq.Load()), "valid deliveries refused during slowloris: %v", during.status))
	s.Add("valid delivery latency p50", benchkit.Ms(benchkit.Percentile(during.latency, 50)), benchkit.Ms(benchkit.Percentile(base.latency, 50)),
		fmt.Sprintf("%.2f", float64(benchkit.Percentile(during.latency, 50))/float64(max(1, benchkit.Percentile(base.latency, 50)))), "")
	s.Add("valid delivery latency p99 (max)", fmt.Sprintf("%s (%s)", benchkit.Ms(p99d), benchkit.Ms(benchkit.Percentile(during.latency, 100))),
		fmt.Sprintf("%s (%s)", benchkit.Ms(p99b), benchkit.Ms(benchkit.Percentile(base.latency, 100))),
		fmt.Sprintf("%.2f", float64(p99d)/float64(max(1, p99b))), check(p99d <= c.slowBound, "p99 %s > %s", p99d, c.slowBound))
	s.Add("valid deliveries relayed to the sink", fmt.Sprintf("%d / %d", len(ids)-len(undelivered), len(ids)), "", "", check(len(undelivered) == 0, "%d not delivered", len(undelivered)))
	s.Write(os.Stdout)
	fmt.Println()
	return svc.Stop(30 * time.Second)
}

// trickle opens one slow connection and feeds it until the server closes
// it or ctx ends. It returns how long the connection lived and whether the
// server cut it.
func trickle(ctx context.Context, host, kind string) (time.Duration, bool) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan struct{})
	go func() { // a read returns when the server closes (or answers)
		_, _ = bufio.NewReader(conn).ReadByte()
		close(closed)
	}()
	head := "POST /webhooks/tagihanai HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n"
	if kind == "body" {
		head += "X-TagihanAI-Signature: t=1767225600,v1=00\r\nContent-Length: 1024\r\n\r\n"
	}
	if _, err := conn.Write([]byte(head)); err != nil {
		return time.Since(start), true
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-closed:
			return time.Since(start), true
		case <-tick.C:
		}
		chunk := fmt.Sprintf("X-Slow-%d: x\r\n", i)
		if kind == "body" {
			chunk = "{"
		}
		if _, err := conn.Write([]byte(chunk)); err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return time.Since(start), ctx.Err() == nil
			}
			return time.Since(start), true
		}
	}
}

// --- 4. disk errors -----------------------------------------------------------

func diskErrors(ctx context.Context) error {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestIngest_StoreUnavailable$", "-v", "./relay/httpapi")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	subtests := strings.Count(string(out), "--- PASS: TestIngest_StoreUnavailable/")
	s := benchkit.Table{Header: []string{"disk errors", "value", "verdict"}}
	s.Add("relay/httpapi TestIngest_StoreUnavailable (commit fails: ENOSPC, deadline exceeded, store closed)",
		fmt.Sprintf("%d subtests passed: 503 + Retry-After, nothing stored, received_total{unavailable}, no internal error leaked", subtests),
		check(err == nil, "go test failed: %v\n%s", err, out))
	s.Write(os.Stdout)
	fmt.Println()
	return nil
}
