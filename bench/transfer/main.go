// Command transfer measures export and import: it writes N stored
// deliveries as an export file, imports them into a fresh database with
// `tagihan-relay import --db`, exports them back with `export --db`, checks
// the round trip and prints the rates. Run: go run ./bench/transfer -n 100000
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

func main() {
	n := flag.Int("n", 100000, "deliveries")
	flag.Parse()
	dir, err := os.MkdirTemp("", "relay-transfer-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "tagihan-relay")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/tagihan-relay").CombinedOutput(); err != nil {
		log.Fatalf("build: %v\n%s", err, out)
	}
	in := filepath.Join(dir, "in.ndjson")
	f, err := os.Create(in)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	types := fixtures.Types()
	start := time.Now().Add(-time.Duration(*n) * time.Millisecond)
	for i := 0; i < *n; i++ {
		at := start.Add(time.Duration(i) * time.Millisecond).UTC()
		body, err := fixtures.Body(types[i%len(types)], fixtures.Options{EventID: fmt.Sprintf("evt_xfer_%07d", i), Now: at,
			TransactionID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i/3), DocumentNumber: fmt.Sprintf("INV-2026-%06d", i/3)})
		if err != nil {
			log.Fatal(err)
		}
		rec := relay.ExportRecord{ID: fmt.Sprintf("evt_xfer_%07d", i), ReceivedAt: at, Headers: map[string]string{
			"Content-Type": "application/json", "X-TagihanAI-Signature": "t=1795450000,v1=00"}, BodyBase64: body, Status: "delivered"}
		if err := enc.Encode(&rec); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(in)
	db := filepath.Join(dir, "data", "relay.db")
	run := func(args ...string) (time.Duration, string) {
		t0 := time.Now()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			log.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return time.Since(t0), strings.TrimSpace(string(out))
	}
	imp, impOut := run("import", in, "--db", db, "--json")
	out := filepath.Join(dir, "out.ndjson")
	exp, _ := run("export", "--db", db, "--out", out)
	again, againOut := run("import", in, "--db", db, "--json")
	lines := 0
	of, _ := os.Open(out)
	sc := bufio.NewScanner(of)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		lines++
	}
	of.Close()
	dbi, _ := os.Stat(db)
	fmt.Printf("| step | events | time | events/s |\n|---|---|---|---|\n")
	fmt.Printf("| import into a fresh DB (%s) | %d | %v | %.0f |\n", strings.ReplaceAll(impOut, "\n", " "), *n, imp.Round(time.Millisecond), float64(*n)/imp.Seconds())
	fmt.Printf("| export | %d | %v | %.0f |\n", lines, exp.Round(time.Millisecond), float64(lines)/exp.Seconds())
	fmt.Printf("| import again (%s) | %d | %v | %.0f |\n", strings.ReplaceAll(againOut, "\n", " "), *n, again.Round(time.Millisecond), float64(*n)/again.Seconds())
	fmt.Printf("\ninput %.1f MiB, database %.1f MiB\n", float64(fi.Size())/(1<<20), float64(dbi.Size())/(1<<20))
	if lines != *n {
		log.Fatalf("exported %d of %d", lines, *n)
	}
}
