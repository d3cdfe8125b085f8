// Command profsum attributes a CPU profile of the service to the parts of
// its hot paths (fsync, bbolt commit, signature, envelope JSON, logging,
// metrics, dispatcher, HTTP, GC, ...): every sample goes to the first
// category any frame of its stack matches, so the shares add up to 100%.
// bench/ingest.sh and bench/relay use the same attribution.
//
//	go run ./bench/profsum bench/out/ingest-cpu.pprof
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/tagihan-relay/tagihan-relay/bench/internal/benchkit"
)

func main() {
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: profsum CPU_PROFILE") }
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	t, err := benchkit.AttributeCPU(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	t.Write(os.Stdout)
}
