// Command relay is the relay (outbound) benchmark: how fast a backlog
// drains to an HTTP forward sink, and how much memory the service holds
// while it does (docs/BENCHMARKS.md, "Relay").
//
//	go run ./bench/relay                  # 100k backlog, signed POSTs while the target hangs
//	go run ./bench/relay -mode rss        # 1M backlog, RSS sampled every second
//	go run ./bench/relay -n 20000         # smaller
//
// The service runs with one http sink, erp (SINK_ERP_CONCURRENCY workers,
// default 8; ordering by subject, the default; every event its own
// invoice), pointed at a local counting target that is down while the
// backlog builds: it accepts the connection and holds the request without
// answering (a hung upstream), so each worker has one request stuck and
// every other event waits in the outbox. The backlog is built either
//
//   - post (default): concurrent signed POSTs to the running service,
//     which also measures ingest while a sink hangs, or
//   - import: POST /v1/import?route=true (what `tagihan-relay import
//     --route` does) from 64 concurrent requests of 250 events (the import
//     handler stores a request's lines one after the other, so this is
//     slower than posting here).
//
// Then the target comes up and the program measures deliveries/s until
// every event has been acknowledged by the target, sampling the service's
// VmRSS/RssAnon/RssFile from /proc/<pid>/status every second. The
// baseline, measured in the same run before and after the drain, is a bare
// Go client with the same number of workers POSTing the same bodies to an
// identical target (no store, no outbox): the most this machine's loopback
// and target allow.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tagihan-relay/tagihan-relay/bench/internal/benchkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

type config struct {
	mode        string
	n           int
	concurrency int
	load        string
	postWorkers int
	baselineDur time.Duration
	timeout     time.Duration
	bin         string
	keep        bool
	dir         string
	profile     time.Duration
	profileAt   float64
}

func main() {
	var c config
	flag.StringVar(&c.mode, "mode", "drain", "drain (100k, deliveries/s) or rss (1M, memory while draining)")
	flag.IntVar(&c.n, "n", 0, "backlog size (default 100000 for drain, 1000000 for rss)")
	flag.IntVar(&c.concurrency, "concurrency", 8, "SINK_ERP_CONCURRENCY")
	flag.StringVar(&c.load, "load", "", "how to build the backlog: post (signed deliveries) or import (admin API) (default post)")
	flag.IntVar(&c.postWorkers, "post-workers", 64, "concurrent senders for -load post")
	flag.DurationVar(&c.baselineDur, "baseline", 5*time.Second, "duration of each baseline run")
	flag.DurationVar(&c.timeout, "timeout", 0, "give up draining after this long (default: 60s + 2ms per event)")
	flag.StringVar(&c.bin, "bin", "", "prebuilt tagihan-relay binary (default: build into bench/out)")
	flag.BoolVar(&c.keep, "keep", false, "keep the data directory")
	flag.StringVar(&c.dir, "dir", "", "data directory to use and keep (must not hold a relay.db yet), e.g. for bench/scale -db")
	flag.DurationVar(&c.profile, "profile", 10*time.Second, "CPU-profile the service for this long during the drain (0: off); bench/out/relay-cpu.pprof")
	flag.Float64Var(&c.profileAt, "profile-at", -1, "start the profile when this fraction of the backlog is delivered (default 0: 1 s into the drain; 0.5 for -mode rss)")
	flag.Parse()
	switch c.mode {
	case "drain":
		if c.n == 0 {
			c.n = 100000
		}
		if c.load == "" {
			c.load = "post"
		}
	case "rss":
		if c.n == 0 {
			c.n = 1000000
		}
		if c.profileAt < 0 {
			c.profileAt = 0.5
		}
		if c.load == "" {
			c.load = "post"
		}
	default:
		log.Fatalf("-mode %q: drain or rss", c.mode)
	}
	if c.load != "post" && c.load != "import" {
		log.Fatalf("-load %q: post or import", c.load)
	}
	if c.profileAt < 0 {
		c.profileAt = 0
	}
	if c.timeout == 0 {
		c.timeout = 60*time.Second + time.Duration(c.n)*2*time.Millisecond
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		log.Fatal(err)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "relay-bench: "+format+"\n", args...)
}

func run(ctx context.Context, c config) error {
	bin, err := benchkit.RelayBinary(c.bin)
	if err != nil {
		return err
	}
	dir := c.dir
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "relay.db")); err == nil {
			return fmt.Errorf("-dir %s already holds a relay.db", dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		logf("data dir %s (kept)", dir)
	} else {
		if dir, err = os.MkdirTemp("", "tagihan-relay-bench-"); err != nil {
			return err
		}
		if c.keep {
			logf("data dir %s kept", dir)
		} else {
			defer os.RemoveAll(dir)
		}
	}
	target, err := benchkit.NewTarget(benchkit.Hang, true)
	if err != nil {
		return err
	}
	defer target.Close()
	env := benchkit.BaseEnv(dir, "RELAY_SINKS=erp", "SINK_ERP_KIND=http", "SINK_ERP_URL="+target.URL,
		"SINK_ERP_CONCURRENCY="+strconv.Itoa(c.concurrency))

	base1, err := baseline(ctx, c)
	if err != nil {
		return err
	}
	logf("baseline (bare %d-worker client): %.0f deliveries/s", c.concurrency, base1)

	var ingestRate float64
	var ingestStatus map[int]int
	svc, err := benchkit.StartService(bin, env, 60*time.Second)
	if err != nil {
		return err
	}
	defer svc.Kill()
	start := time.Now()
	if c.load == "import" {
		logf("importing %d events through POST /v1/import?route=true (64 concurrent batches of 250) while the target hangs", c.n)
		res, err := benchkit.Import(ctx, svc.Admin, benchkit.ImportOptions{Prefix: "relay", N: c.n, Route: true,
			Progress: func(n int) { logf("imported %d", n) }})
		if err != nil {
			return err
		}
		if res.Imported != c.n {
			return fmt.Errorf("imported %d of %d (%d skipped)", res.Imported, c.n, res.Skipped)
		}
	} else {
		logf("posting %d signed deliveries with %d senders while the target hangs", c.n, c.postWorkers)
		ingestStatus, err = benchkit.Post(ctx, svc.Public, benchkit.PostOptions{Prefix: "relay", N: c.n, Workers: c.postWorkers,
			Progress: func(n int) { logf("posted %d", n) }})
		if err != nil {
			return err
		}
	}
	ingestRate = float64(c.n) / time.Since(start).Seconds()
	logf("backlog written in %s (%.0f/s)", time.Since(start).Round(time.Millisecond), ingestRate)

	// Idle with the backlog (the workers are stuck on the hung target).
	time.Sleep(2 * time.Second)
	idle, _ := benchkit.ReadMem(svc.PID())
	st, err := svc.Stats(ctx)
	if err != nil {
		return err
	}
	backlog := st.Sinks["erp"].Pending + st.Sinks["erp"].InFlight
	logf("backlog %d pending+in flight, RSS %s MiB; target up", backlog, benchkit.MiB(idle.RSS))

	// Drain.
	dbBefore := fileSize(filepath.Join(dir, "relay.db"))
	before, err := benchkit.ScrapeMetrics(ctx, svc.Admin+"/metrics")
	if err != nil {
		return err
	}
	target.SetMode(benchkit.Up)
	start = time.Now()
	profDone := make(chan string, 1)
	profStarted := false
	startProfile := func(delay time.Duration) {
		profStarted = true
		go func() { profDone <- captureProfile(ctx, svc.Admin, c.profile, delay) }()
	}
	switch {
	case c.profile <= 0:
		profStarted = true
		profDone <- ""
	case c.profileAt == 0:
		startProfile(time.Second)
	}
	var samples []sample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(c.timeout)
	var t10, t90 time.Time
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("drain not finished after %s: target has %d of %d", c.timeout, target.Distinct(), c.n)
		case <-tick.C:
		}
		m, err := benchkit.ReadMem(svc.PID())
		if err != nil {
			return fmt.Errorf("service gone: %w\n%s", err, svc.Logs())
		}
		d := target.Distinct()
		samples = append(samples, sample{at: time.Since(start), mem: m, delivered: d})
		if t10.IsZero() && d >= c.n/10 {
			t10 = time.Now()
		}
		if t90.IsZero() && d >= c.n*9/10 {
			t90 = time.Now()
		}
		if len(samples)%10 == 0 {
			logf("%3.0fs delivered %d/%d, RSS %s MiB (anon %s, file %s)", time.Since(start).Seconds(), d, c.n,
				benchkit.MiB(m.RSS), benchkit.MiB(m.Anon), benchkit.MiB(m.File))
		}
		if !profStarted && float64(d) >= c.profileAt*float64(c.n) {
			logf("profiling %s from %d delivered", c.profile, d)
			startProfile(0)
		}
		done = d >= c.n
	}
	if !profStarted { // drained before the fraction was reached
		profDone <- ""
	}
	counts := target.Counts()
	elapsed := counts.Last.Sub(start)
	rate := float64(counts.Distinct) / elapsed.Seconds()
	mid := 0.0
	if !t90.IsZero() && t90.After(t10) {
		mid = float64(c.n*8/10) / t90.Sub(t10).Seconds()
	}
	// Let the service record the last Finish before reading stats.
	var final benchkit.Stats
	for i := 0; i < 50; i++ {
		if final, err = svc.Stats(ctx); err == nil && final.Sinks["erp"].Pending+final.Sinks["erp"].InFlight == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	after, _ := benchkit.ReadMem(svc.PID())
	afterM, err := benchkit.ScrapeMetrics(ctx, svc.Admin+"/metrics")
	if err != nil {
		return err
	}
	commits := benchkit.CommitsBetween(before, afterM)
	attempts := afterM[`tagihan_relay_delivery_duration_seconds_count{sink="erp"}`] - before[`tagihan_relay_delivery_duration_seconds_count{sink="erp"}`]
	attemptSecs := afterM[`tagihan_relay_delivery_duration_seconds_sum{sink="erp"}`] - before[`tagihan_relay_delivery_duration_seconds_sum{sink="erp"}`]
	profile := <-profDone
	heapTop := heapProfile(ctx, svc.Admin)
	_ = svc.Stop(30 * time.Second)

	base2, err := baseline(ctx, c)
	if err != nil {
		return err
	}
	logf("baseline again: %.0f deliveries/s", base2)
	base := (base1 + base2) / 2

	// Report.
	fmt.Printf("## Relay: draining a %d-event backlog to an HTTP sink (SINK_ERP_CONCURRENCY=%d)\n\n", c.n, c.concurrency)
	t := benchkit.Table{Header: []string{"figure", "value", "baseline (same run)", "ratio", "target"}}
	t.Add("drain rate, whole backlog", fmt.Sprintf("%.0f deliveries/s (%s for %d)", rate, elapsed.Round(time.Millisecond), counts.Distinct),
		fmt.Sprintf("%.0f/s bare %d-worker client (%.0f before, %.0f after)", base, c.concurrency, base1, base2),
		fmt.Sprintf("%.2f", rate/base), verdict(rate >= 5000, ">= 5,000/s"))
	if mid > 0 {
		t.Add("drain rate, 10% → 90%", fmt.Sprintf("%.0f deliveries/s", mid), fmt.Sprintf("%.0f/s", base), fmt.Sprintf("%.2f", mid/base), "")
	}
	switch c.load {
	case "post":
		t.Add("ingest while the sink hangs", fmt.Sprintf("%.0f req/s (%d senders; answers %v)", ingestRate, c.postWorkers, ingestStatus), "", "", "all 200")
	case "import":
		t.Add("backlog import (POST /v1/import?route=true, 64 concurrent batches) while the sink hangs", fmt.Sprintf("%.0f events/s", ingestRate), "", "", "")
	}
	t.Add("store commits during the drain", commits.String()+fmt.Sprintf(" (%.0f%% of the drain)", 100*commits.Busy.Seconds()/elapsed.Seconds()), "", "", "")
	if attempts > 0 {
		t.Add("delivery attempt (HTTP round trip) mean", fmt.Sprintf("%.2f ms over %.0f attempts", 1000*attemptSecs/attempts, attempts), "", "", "")
	}
	t.Add("target: distinct ids / deliveries / duplicates", fmt.Sprintf("%d / %d / %d", counts.Distinct, counts.Delivered, counts.Duplicates), "", "", verdict(counts.Distinct == c.n, "all, once"))
	t.Add("target: body id ≠ webhook-id", counts.Mismatched, "", "", verdict(counts.Mismatched == 0, "0"))
	t.Add("outbox after drain (pending / in flight / delivered / dead)", fmt.Sprintf("%d / %d / %d / %d",
		final.Sinks["erp"].Pending, final.Sinks["erp"].InFlight, final.Sinks["erp"].Delivered, final.Sinks["erp"].Dead), "", "", "")
	lo, hi := memRange(samples)
	t.Add("RSS idle with the backlog (before the target came up)", fmt.Sprintf("%s MiB (anon %s, file %s)", benchkit.MiB(idle.RSS), benchkit.MiB(idle.Anon), benchkit.MiB(idle.File)), "", "", "")
	t.Add("RSS while draining, min / max", fmt.Sprintf("%s / %s MiB", benchkit.MiB(lo.RSS), benchkit.MiB(hi.RSS)), "", "", verdict(hi.RSS <= 150*1024, "<= 150 MiB"))
	t.Add("  of which anon (Go heap, stacks), min / max", fmt.Sprintf("%s / %s MiB", benchkit.MiB(lo.Anon), benchkit.MiB(hi.Anon)), "", "", "")
	t.Add("  of which file (bbolt mmap of relay.db), min / max", fmt.Sprintf("%s / %s MiB", benchkit.MiB(lo.File), benchkit.MiB(hi.File)), "", "", "")
	first, last := halves(samples)
	t.Add("RSS anon, mean of 1st half / 2nd half of the drain", fmt.Sprintf("%s / %s MiB", benchkit.MiB(first), benchkit.MiB(last)), "", "",
		verdict(last <= first*11/10+4*1024, "flat (2nd half within 10% + 4 MiB of the 1st)"))
	t.Add("peak RSS of the process (VmHWM)", fmt.Sprintf("%s MiB", benchkit.MiB(after.HWM)), "", "", "")
	t.Add("relay.db size with the backlog / after the drain", fmt.Sprintf("%.0f / %.0f MiB", float64(dbBefore)/(1<<20), float64(fileSize(filepath.Join(dir, "relay.db")))/(1<<20)), "", "", "")
	t.Write(os.Stdout)
	fmt.Printf("\nRSS series (MiB, every %ds): %s\n", max(1, len(samples)/20), series(samples))
	if heapTop != "" {
		fmt.Printf("\nGo heap in use after the drain (bench/out/relay-heap.pprof, go tool pprof -sample_index=inuse_space -top):\n\n```\n%s```\n", heapTop)
	}
	if profile != "" {
		if pt, err := benchkit.AttributeCPU(profile); err == nil {
			when := "from 1 s into the drain"
			if c.profileAt > 0 {
				when = fmt.Sprintf("from %.0f%% delivered", 100*c.profileAt)
			}
			fmt.Printf("\nWhere the service's CPU went during %s of the drain, %s (%s):\n\n", c.profile, when, profile)
			pt.Write(os.Stdout)
		} else {
			logf("profile: %v", err)
		}
	}
	return nil
}

// heapProfile saves the service's heap profile (after a GC) to
// bench/out/relay-heap.pprof and returns the top of its in-use space.
func heapProfile(ctx context.Context, admin string) string {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return ""
	}
	path := filepath.Join(root, "bench", "out", "relay-heap.pprof")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, admin+"/debug/pprof/heap?gc=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return ""
	}
	_, err = f.ReadFrom(resp.Body)
	f.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	out, err := exec.Command("go", "tool", "pprof", "-sample_index=inuse_space", "-top", "-nodecount=12", path).Output()
	if err != nil {
		return ""
	}
	// Drop the header lines before "flat".
	text := string(out)
	if i := strings.Index(text, "Showing nodes"); i >= 0 {
		text = text[i:]
	}
	return text
}

// captureProfile fetches a CPU profile of d from the admin listener,
// after delay, into bench/out/relay-cpu.pprof; it returns the path ("" on
// error).
func captureProfile(ctx context.Context, admin string, d, delay time.Duration) string {
	select {
	case <-ctx.Done():
		return ""
	case <-time.After(delay):
	}
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return ""
	}
	path := filepath.Join(root, "bench", "out", "relay-cpu.pprof")
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", admin, int(d.Seconds()))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		logf("profile: %v", err)
		return ""
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		logf("profile: %v %s", err, resp.Status)
		return ""
	}
	return path
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

type sample struct {
	at        time.Duration
	mem       benchkit.Mem
	delivered int
}

func verdict(ok bool, target string) string {
	if ok {
		return target + ": met"
	}
	return target + ": MISSED"
}

func memRange(s []sample) (lo, hi benchkit.Mem) {
	for i, x := range s {
		if i == 0 || x.mem.RSS < lo.RSS {
			lo.RSS = x.mem.RSS
		}
		if i == 0 || x.mem.Anon < lo.Anon {
			lo.Anon = x.mem.Anon
		}
		if i == 0 || x.mem.File < lo.File {
			lo.File = x.mem.File
		}
		hi.RSS = max(hi.RSS, x.mem.RSS)
		hi.Anon = max(hi.Anon, x.mem.Anon)
		hi.File = max(hi.File, x.mem.File)
	}
	return lo, hi
}

// halves returns the mean RssAnon of the first and second half of samples.
func halves(s []sample) (first, last int64) {
	if len(s) < 2 {
		return 0, 0
	}
	h := len(s) / 2
	for _, x := range s[:h] {
		first += x.mem.Anon
	}
	for _, x := range s[h:] {
		last += x.mem.Anon
	}
	return first / int64(h), last / int64(len(s)-h)
}

// series prints about 20 RSS values across the drain.
func series(s []sample) string {
	step := max(1, len(s)/20)
	var b bytes.Buffer
	for i := 0; i < len(s); i += step {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(benchkit.MiB(s[i].mem.RSS))
	}
	return b.String()
}

// baseline runs a bare client with c.concurrency workers against a fresh
// target for c.baselineDur and returns its deliveries/s: the same kind of
// body and headers the http sink sends, no store, no outbox.
func baseline(ctx context.Context, c config) (float64, error) {
	t, err := benchkit.NewTarget(benchkit.Up, true)
	if err != nil {
		return 0, err
	}
	defer t.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: c.concurrency}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	// The body the sink would send: a CloudEvent of the delivery.
	ev := relay.Normalize(mustEnvelope(benchkit.Body("base", 0, 1)), time.Now(), "tagihanai")
	tmpl, _ := ev.MarshalJSON()
	id0 := []byte(benchkit.EventID("base", 0))
	stopAt := time.Now().Add(c.baselineDur)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				i := int(next.Add(1) - 1)
				id := benchkit.EventID("base", i)
				body := bytes.Replace(tmpl, id0, []byte(id), 1)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/cloudevents+json")
				req.Header.Set("webhook-id", id)
				req.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
				resp, err := hc.Do(req)
				if err != nil {
					continue
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	counts := t.Counts()
	if counts.Mismatched != 0 {
		return 0, fmt.Errorf("baseline: %d bodies with the wrong id", counts.Mismatched)
	}
	return float64(counts.Distinct) / time.Since(start).Seconds(), ctx.Err()
}

func mustEnvelope(body []byte) relay.Envelope {
	env, err := relay.ReadEnvelope(body, nil)
	if err != nil {
		log.Fatalf("bench body: %v", err)
	}
	return env
}
