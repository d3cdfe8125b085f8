// Command scale is the scale benchmark: what 1M stored events cost the
// service (docs/BENCHMARKS.md, "Scale").
//
//	go run ./bench/scale                      # builds a 1M-event database, then measures
//	go run ./bench/scale -n 100000            # smaller
//	go run ./bench/scale -db /path/relay.db   # measure an existing database
//
// It builds the database with the service itself: the generated
// deliveries (4 events per invoice) imported through POST /v1/import
// (stored, not routed: what `tagihan-relay import` does), or, with
// -deliver, POSTed signed to the zero-config service whose stdout sink
// delivers each (stdout discarded) until none is pending. Or it measures
// an existing database (-db; `bench/relay -mode rss -dir D` leaves one with
// 1M events delivered to an HTTP sink). Then it measures, against the same
// service started on an empty data directory in the same run (the
// baseline):
//
//   - the database file's size;
//   - time from exec of `tagihan-relay serve` to the first 200 from
//     /readyz (polled every 2 ms; median of -starts starts);
//   - RSS 5 s after ready, idle (VmRSS and its anon/file parts);
//   - `tagihan-relay events list --subject S` (the CLI against the admin
//     API, process start included) and GET /v1/events?subject=S;
//   - GET /v1/events?q=<document number>, ?q=<event id>, the first page
//     of GET /v1/events, GET /v1/stats and a /metrics scrape;
//
// each latency the median (and max) of -reps runs. The service opens the
// database read-write (as always); a measured run only adds to the
// counters of the events it lists, nothing else.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/tagihan-relay/tagihan-relay/bench/internal/benchkit"
)

func main() {
	n := flag.Int("n", 1000000, "events to store")
	perSubject := flag.Int("per-subject", 4, "events per invoice (subject)")
	db := flag.String("db", "", "measure this existing relay.db instead of building one (its directory is the data dir); with -n, -per-subject and -prefix as it was built, for the probes")
	prefix := flag.String("prefix", "scale", "event id prefix (bench/relay builds with \"relay\", -per-subject 1)")
	starts := flag.Int("starts", 5, "starts to time to /readyz")
	reps := flag.Int("reps", 20, "runs of each query")
	bin := flag.String("bin", "", "prebuilt tagihan-relay binary (default: build into bench/out)")
	keep := flag.Bool("keep", false, "keep the built database")
	deliver := flag.Bool("deliver", false, "build by posting signed deliveries that the zero-config stdout sink delivers (slower; default: import through the admin API, stored and not routed)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *n, *perSubject, *prefix, *db, *starts, *reps, *bin, *keep, *deliver); err != nil {
		log.Fatal(err)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "scale: "+format+"\n", args...) }

// measurement is what one data directory gave.
type measurement struct {
	events      int
	dbSize      int64
	ready       []time.Duration
	idle        benchkit.Mem
	latency     map[string][]time.Duration
	queryCounts map[string]int
}

var queries = []string{"cli events list --subject", "GET /v1/events?subject=", "GET /v1/events?q=<document number>",
	"GET /v1/events?q=<event id>", "GET /v1/events (first page)", "GET /v1/stats", "GET /metrics"}

func run(ctx context.Context, n, perSubject int, prefix, db string, starts, reps int, bin string, keep, deliver bool) error {
	bin, err := benchkit.RelayBinary(bin)
	if err != nil {
		return err
	}
	emptyDir, err := os.MkdirTemp("", "tagihan-scale-empty-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(emptyDir)
	dataDir := ""
	if db != "" {
		if filepath.Base(db) != "relay.db" {
			return fmt.Errorf("-db %s: the file must be named relay.db (the service opens RELAY_DATA_DIR/relay.db)", db)
		}
		dataDir = filepath.Dir(db)
	} else {
		if dataDir, err = os.MkdirTemp("", "tagihan-scale-"); err != nil {
			return err
		}
		if keep {
			logf("database kept in %s", dataDir)
		} else {
			defer os.RemoveAll(dataDir)
		}
		if err := build(ctx, bin, dataDir, prefix, n, perSubject, deliver); err != nil {
			return err
		}
	}
	// Probes: an invoice in the middle of the data set (the empty
	// database answers the same queries with nothing).
	mid := max(n, 4) / 2
	probe := probes{subject: benchkit.Subject(mid / perSubject), doc: benchkit.DocumentNumber(mid / perSubject), id: benchkit.EventID(prefix, mid)}

	base, err := measure(ctx, bin, emptyDir, probe, starts, reps)
	if err != nil {
		return fmt.Errorf("empty data dir: %w", err)
	}
	full, err := measure(ctx, bin, dataDir, probe, starts, reps)
	if err != nil {
		return fmt.Errorf("%s: %w", dataDir, err)
	}

	label := fmt.Sprintf("%d events", n)
	if db != "" {
		label = fmt.Sprintf("%d events (%s)", n, db)
	}
	fmt.Printf("## Scale: the service on %s vs an empty data dir (same run)\n\n", label)
	t := benchkit.Table{Header: []string{"figure", label, "empty (baseline)", "ratio", "target"}}
	perEvent := ""
	if n > 0 {
		perEvent = fmt.Sprintf(" (%.1f KiB/event)", float64(full.dbSize)/1024/float64(n))
	}
	t.Add("relay.db size", fmt.Sprintf("%.0f MiB%s", float64(full.dbSize)/(1<<20), perEvent), fmt.Sprintf("%.2f MiB", float64(base.dbSize)/(1<<20)), "", "")
	fr, br := median(full.ready), median(base.ready)
	t.Add(fmt.Sprintf("start → /readyz 200, median of %d (max)", starts), fmt.Sprintf("%s (%s)", benchkit.Ms(fr), benchkit.Ms(maxOf(full.ready))),
		fmt.Sprintf("%s (%s)", benchkit.Ms(br), benchkit.Ms(maxOf(base.ready))), ratio(fr, br), verdict(maxOf(full.ready) < 2*time.Second, "< 2 s"))
	t.Add("RSS idle, 5 s after ready", fmt.Sprintf("%s MiB (anon %s, file %s)", benchkit.MiB(full.idle.RSS), benchkit.MiB(full.idle.Anon), benchkit.MiB(full.idle.File)),
		fmt.Sprintf("%s MiB (anon %s, file %s)", benchkit.MiB(base.idle.RSS), benchkit.MiB(base.idle.Anon), benchkit.MiB(base.idle.File)),
		fmt.Sprintf("%.2f", float64(full.idle.RSS)/float64(base.idle.RSS)), "")
	for _, q := range queries {
		f, b := full.latency[q], base.latency[q]
		tgt := ""
		if q == "cli events list --subject" || q == "GET /v1/events?subject=" {
			tgt = verdict(median(f) < 50*time.Millisecond, "< 50 ms")
		}
		t.Add(fmt.Sprintf("%s, median of %d (max) [%d found]", q, reps, full.queryCounts[q]), fmt.Sprintf("%s (%s)", benchkit.Ms(median(f)), benchkit.Ms(maxOf(f))),
			fmt.Sprintf("%s (%s)", benchkit.Ms(median(b)), benchkit.Ms(maxOf(b))), ratio(median(f), median(b)), tgt)
	}
	t.Write(os.Stdout)
	fmt.Printf("\nProbes: subject %s, document number %s, event id %s.\n", probe.subject, probe.doc, probe.id)
	return nil
}

type probes struct{ subject, doc, id string }

// build fills dataDir with n events through the service itself: imported
// through the admin API (stored, unrouted; the default: fast), or, with
// deliver, POSTed as signed deliveries to the zero-config service, whose
// stdout sink delivers each one (stdout discarded), until none is pending.
func build(ctx context.Context, bin, dataDir, prefix string, n, perSubject int, deliver bool) error {
	svc, err := benchkit.StartService(bin, benchkit.BaseEnv(dataDir), 60*time.Second)
	if err != nil {
		return err
	}
	start := time.Now()
	if deliver {
		logf("building %d events (%d per invoice) in %s: signed POSTs to the zero-config service (one stdout sink)", n, perSubject, dataDir)
		_, err = benchkit.Post(ctx, svc.Public, benchkit.PostOptions{Prefix: prefix, N: n, PerSubject: perSubject, Workers: 64,
			Progress: func(d int) { logf("posted %d", d) }})
		if err == nil {
			logf("posted %d in %s (%.0f/s); waiting for the stdout sink to deliver them", n, time.Since(start).Round(time.Second), float64(n)/time.Since(start).Seconds())
			err = waitDrained(ctx, svc, 30*time.Minute)
		}
	} else {
		logf("building %d events (%d per invoice) in %s: POST /v1/import (stored, not routed)", n, perSubject, dataDir)
		var res benchkit.ImportResult
		res, err = benchkit.Import(ctx, svc.Admin, benchkit.ImportOptions{Prefix: prefix, N: n, PerSubject: perSubject,
			Progress: func(d int) { logf("imported %d", d) }})
		if err == nil && res.Imported != n {
			err = fmt.Errorf("imported %d of %d (%d skipped)", res.Imported, n, res.Skipped)
		}
	}
	if serr := svc.Stop(time.Minute); err == nil && serr != nil {
		err = serr
	}
	if err == nil {
		logf("built in %s (%.0f events/s)", time.Since(start).Round(time.Second), float64(n)/time.Since(start).Seconds())
	}
	return err
}

// waitDrained waits until no sink has anything pending or in flight.
func waitDrained(ctx context.Context, svc *benchkit.Service, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for {
		st, err := svc.Stats(ctx)
		if err != nil {
			return err
		}
		open := 0
		for _, s := range st.Sinks {
			open += s.Pending + s.InFlight
		}
		if open == 0 {
			return nil
		}
		if time.Since(last) > 10*time.Second {
			logf("%d deliveries still pending", open)
			last = time.Now()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still %d pending after %s", open, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// measure starts the service on dataDir `starts` times (timing /readyz),
// then, on the last start, samples idle RSS and runs each query reps times.
func measure(ctx context.Context, bin, dataDir string, p probes, starts, reps int) (*measurement, error) {
	m := &measurement{latency: map[string][]time.Duration{}, queryCounts: map[string]int{}}
	for i := 0; i < starts; i++ {
		last := i == starts-1
		admin, err := benchkit.FreeAddr()
		if err != nil {
			return nil, err
		}
		public, err := benchkit.FreeAddr()
		if err != nil {
			return nil, err
		}
		env := benchkit.BaseEnv(dataDir, "RELAY_LISTEN_ADDR="+public, "RELAY_ADMIN_ADDR="+admin)
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		logFile, err := os.Create(filepath.Join(os.TempDir(), fmt.Sprintf("tagihan-scale-%d.log", os.Getpid())))
		if err != nil {
			return nil, err
		}
		cmd.Stderr = logFile
		start := time.Now()
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return nil, err
		}
		d, err := waitReady(ctx, start, "http://"+admin+"/readyz", 60*time.Second)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			b, _ := os.ReadFile(logFile.Name())
			logFile.Close()
			return nil, fmt.Errorf("%w\n%s", err, b)
		}
		m.ready = append(m.ready, d)
		if last {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
			m.idle, _ = benchkit.ReadMem(cmd.Process.Pid)
			if err := queriesOn(ctx, m, bin, "http://"+admin, p, reps); err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				logFile.Close()
				return nil, err
			}
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logFile.Close()
		os.Remove(logFile.Name())
		logf("%s: start %d/%d ready in %s", dataDir, i+1, starts, benchkit.Ms(d))
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "relay.db")); err == nil {
		m.dbSize = fi.Size()
	}
	return m, ctx.Err()
}

// waitReady polls url every 2 ms and returns the time from start (just
// before exec) to the first 200.
func waitReady(ctx context.Context, start time.Time, url string, timeout time.Duration) (time.Duration, error) {
	hc := &http.Client{Timeout: time.Second}
	for time.Since(start) < timeout {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not 200 after %s", url, timeout)
}

func queriesOn(ctx context.Context, m *measurement, bin, admin string, p probes, reps int) error {
	hc := &http.Client{Timeout: 30 * time.Second}
	get := func(path string) func() (int, error) {
		return func() (int, error) {
			var page struct {
				Events []struct {
					ID string `json:"id"`
				} `json:"events"`
			}
			var v any = &page
			if path == "/v1/stats" || path == "/metrics" {
				resp, err := hc.Get(admin + path)
				if err != nil {
					return 0, err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				return 1, err
			}
			err := benchkit.GetJSON(ctx, hc, admin+path, v)
			return len(page.Events), err
		}
	}
	cli := func() (int, error) {
		cmd := exec.Command(bin, "events", "list", "--subject", p.subject, "--admin", admin, "--json")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("events list: %w", err)
		}
		lines := 0
		for _, c := range out {
			if c == '\n' {
				lines++
			}
		}
		return lines, nil
	}
	fns := map[string]func() (int, error){
		"cli events list --subject":          cli,
		"GET /v1/events?subject=":            get("/v1/events?subject=" + url.QueryEscape(p.subject)),
		"GET /v1/events?q=<document number>": get("/v1/events?q=" + url.QueryEscape(p.doc)),
		"GET /v1/events?q=<event id>":        get("/v1/events?q=" + url.QueryEscape(p.id)),
		"GET /v1/events (first page)":        get("/v1/events"),
		"GET /v1/stats":                      get("/v1/stats"),
		"GET /metrics":                       get("/metrics"),
	}
	for _, q := range queries {
		for i := 0; i < reps; i++ {
			start := time.Now()
			found, err := fns[q]()
			if err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			m.latency[q] = append(m.latency[q], time.Since(start))
			m.queryCounts[q] = found
		}
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func verdict(ok bool, target string) string {
	if ok {
		return target + ": met"
	}
	return target + ": MISSED"
}
