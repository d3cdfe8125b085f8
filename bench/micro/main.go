// Command micro runs the Go micro-benchmarks of the ingest path and their
// baselines in one go and prints a markdown table: each measured function
// next to the baseline it is compared with, as a ratio of ns/op from the
// same run, plus the absolute ns/op, B/op and allocs/op (medians of
// -count passes; each pass runs every package once, so a benchmark and its
// baseline alternate in time).
//
//	go run ./bench/micro                  # -count 5 -benchtime 1s
//	go run ./bench/micro -count 3 -benchtime 300ms
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tagihan-relay/tagihan-relay/bench/internal/benchkit"
)

// pair is one measured benchmark and its baseline (full names as printed
// by go test, without the -GOMAXPROCS suffix).
type pair struct {
	what     string
	measured string
	baseline string
}

var pairs = []pair{
	{"verifier (relay/signature)", "BenchmarkVerify", "BenchmarkBaselineHMAC"},
	{"envelope reader: transaction.paid (relay)", "BenchmarkReadEnvelope/transaction.paid", "BenchmarkBaselineJSONMap/transaction.paid"},
	{"envelope reader: payment.completed (relay)", "BenchmarkReadEnvelope/payment.completed", "BenchmarkBaselineJSONMap/payment.completed"},
	{"envelope reader: party.updated (relay)", "BenchmarkReadEnvelope/party.updated", "BenchmarkBaselineJSONMap/party.updated"},
	{"read + normalize + route: transaction.paid (relay)", "BenchmarkPrepare/transaction.paid", "BenchmarkBaselineJSONMap/transaction.paid"},
	{"read + normalize + route: payment.completed (relay)", "BenchmarkPrepare/payment.completed", "BenchmarkBaselineJSONMap/payment.completed"},
	{"store commit, 8 parallel, fsync (store)", "BenchmarkIngest", "BenchmarkBaselineBoltUpdate"},
}

var packages = []string{"./relay/signature", "./relay", "./store", "./bench/micro"}

type result struct{ ns, bytes, allocs []float64 }

var lineRe = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)

func main() {
	count := flag.Int("count", 5, "go test -count")
	benchtime := flag.String("benchtime", "1s", "go test -benchtime")
	flag.Parse()
	root, err := benchkit.ModuleRoot()
	if err != nil {
		log.Fatal(err)
	}
	// -count 1, count times over all packages (one package at a time:
	// -p 1), so that each benchmark and its baseline alternate in time
	// instead of one package's runs all landing in one noisy minute.
	args := []string{"test", "-p", "1", "-run", "^$", "-bench", "^(BenchmarkVerify|BenchmarkReadEnvelope|BenchmarkPrepare|BenchmarkIngest|BenchmarkBaseline.*)$",
		"-benchmem", "-count", "1", "-benchtime", *benchtime}
	args = append(args, packages...)
	var out bytes.Buffer
	for i := 1; i <= *count; i++ {
		fmt.Fprintf(os.Stderr, "micro: pass %d/%d: go %s\n", i, *count, strings.Join(args, " "))
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			os.Stderr.Write(out.Bytes())
			log.Fatalf("go test: %v", err)
		}
	}
	results := map[string]*result{}
	cpu := ""
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "cpu: "); ok {
			cpu = c
		}
		m := lineRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		r := results[m[1]]
		if r == nil {
			r = &result{}
			results[m[1]] = r
		}
		ns, _ := strconv.ParseFloat(m[3], 64)
		r.ns = append(r.ns, ns)
		for _, f := range []struct {
			unit string
			dst  *[]float64
		}{{"B/op", &r.bytes}, {"allocs/op", &r.allocs}} {
			if mm := regexp.MustCompile(`([\d.]+) ` + regexp.QuoteMeta(f.unit)).FindStringSubmatch(m[4]); mm != nil {
				v, _ := strconv.ParseFloat(mm[1], 64)
				*f.dst = append(*f.dst, v)
			}
		}
	}
	fmt.Printf("## Micro-benchmarks (go test -bench, %d passes, -benchtime %s, medians; %s)\n\n", *count, *benchtime, cpu)
	t := benchkit.Table{Header: []string{"what", "benchmark", "ns/op", "B/op", "allocs/op", "baseline", "baseline ns/op", "ratio"}}
	for _, p := range pairs {
		m, b := results[p.measured], results[p.baseline]
		if m == nil || b == nil {
			t.Add(p.what, p.measured, "missing", "", "", p.baseline, "", "")
			continue
		}
		t.Add(p.what, p.measured, fmt.Sprintf("%.0f", median(m.ns)), fmt.Sprintf("%.0f", median(m.bytes)), fmt.Sprintf("%.0f", median(m.allocs)),
			p.baseline, fmt.Sprintf("%.0f", median(b.ns)), fmt.Sprintf("%.2f", median(m.ns)/median(b.ns)))
	}
	t.Write(os.Stdout)
	fmt.Println()
	fmt.Println("ratio = ns/op of the benchmark / ns/op of its baseline, same run (lower is better; below 1 means faster than the baseline).")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
