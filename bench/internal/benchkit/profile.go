package benchkit

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// category is one bucket of CPU time; a sample belongs to the first
// category any of its frames matches. The order matters: fsync before the
// bbolt commit that calls it, the store before the dispatcher that calls
// it, the ingest handler's parts before the handler.
type category struct {
	name string
	re   *regexp.Regexp
}

var categories = []category{
	{"fsync (fdatasync of store commits)", regexp.MustCompile(`syscall\.(Fdatasync|Fsync)|bbolt\.fdatasync|\(\*File\)\.Sync`)},
	{"store (bbolt transactions: B+tree, page writes)", regexp.MustCompile(`go\.etcd\.io/bbolt|tagihan-relay/store\.`)},
	{"signature verify (HMAC-SHA256)", regexp.MustCompile(`relay/signature\.`)},
	{"envelope read + normalize (JSON)", regexp.MustCompile(`relay\.\(\*Receiver\)\.Prepare|relay\.ReadEnvelope|relay\.Normalize`)},
	{"logging (slog JSON line per delivery)", regexp.MustCompile(`log/slog\.`)},
	{"metrics (prometheus)", regexp.MustCompile(`prometheus`)},
	{"dispatcher + sink delivery (outbound HTTP)", regexp.MustCompile(`relay\.\(\*Dispatcher\)|tagihan-relay/sinks/|net/http\.\(\*Transport\)|net/http\.\(\*persistConn\)`)},
	{"ingest handler rest (body read, headers, ack)", regexp.MustCompile(`relay/httpapi\.`)},
	{"Echo router", regexp.MustCompile(`labstack/echo`)},
	{"HTTP server + network syscalls", regexp.MustCompile(`net/http\.|internal/poll\.|net\.\(|syscall\.`)},
	{"GC (background mark, sweep)", regexp.MustCompile(`runtime\.gcBgMarkWorker|runtime\.bgsweep|runtime\.bgscavenge|runtime\.gcMarkDone|runtime\.markroot`)},
	{"scheduler + other runtime", regexp.MustCompile(`runtime\.`)},
}

// AttributeCPU reads a CPU profile of the service (`go tool pprof
// -traces`) and puts every sample in the first category (in the order of
// categories) that any frame of its stack matches, so each sample counts
// once and the shares add up to 100%. It returns a table: category, CPU
// seconds, share.
func AttributeCPU(profile string) (*Table, error) {
	out, err := exec.Command("go", "tool", "pprof", "-traces", profile).Output()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof -traces %s: %w", profile, err)
	}
	sums := make([]time.Duration, len(categories)+1)
	var total, value time.Duration
	var frames []string
	flush := func() {
		if value == 0 {
			return
		}
		i := len(categories) // other
		for ci, c := range categories {
			if matchAny(c.re, frames) {
				i = ci
				break
			}
		}
		sums[i] += value
		total += value
		value, frames = 0, frames[:0]
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<24)
	started := false // the header (File:, Type:, ...) ends at the first separator
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			started = true
			flush()
			continue
		}
		fields := strings.Fields(line)
		if !started || len(fields) == 0 {
			continue
		}
		if len(fields) >= 2 && value == 0 && len(frames) == 0 {
			if d, ok := parseValue(fields[0]); ok {
				value = d
				frames = append(frames, fields[1])
				continue
			}
		}
		if value != 0 {
			frames = append(frames, fields[0])
		}
	}
	flush()
	if total == 0 {
		return nil, fmt.Errorf("%s: no samples", profile)
	}
	t := &Table{Header: []string{"where the CPU went", "CPU s", "share"}}
	type row struct {
		name string
		d    time.Duration
	}
	var rows []row
	for i, d := range sums {
		name := "other"
		if i < len(categories) {
			name = categories[i].name
		}
		rows = append(rows, row{name, d})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].d > rows[j].d })
	for _, r := range rows {
		if r.d == 0 {
			continue
		}
		t.Add(r.name, fmt.Sprintf("%.2f", r.d.Seconds()), fmt.Sprintf("%.1f%%", 100*r.d.Seconds()/total.Seconds()))
	}
	t.Add("total sampled", fmt.Sprintf("%.2f", total.Seconds()), "100%")
	return t, nil
}

func matchAny(re *regexp.Regexp, frames []string) bool {
	for _, f := range frames {
		if re.MatchString(f) {
			return true
		}
	}
	return false
}

// parseValue reads a pprof sample value such as 10ms, 1.20s or 500us.
func parseValue(s string) (time.Duration, bool) {
	for _, unit := range []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"us", time.Microsecond}, {"µs", time.Microsecond}, {"ns", time.Nanosecond}, {"s", time.Second}} {
		if v, ok := strings.CutSuffix(s, unit.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, false
			}
			return time.Duration(f * float64(unit.d)), true
		}
	}
	return 0, false
}
