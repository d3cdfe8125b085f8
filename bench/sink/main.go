// Command sink is the ingest benchmark's HTTP forward target: it answers
// 200 to every POST and counts deliveries per webhook-id (the dedup a real
// receiver does). GET /stats answers the counts as JSON. It logs
// {"msg":"listening","url":<target URL>,"stats":<stats URL>} on stderr and exits on SIGINT/SIGTERM.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tagihan-relay/tagihan-relay/bench/internal/benchkit"
)

func main() {
	check := flag.Bool("check-body", false, "decode every body and count those whose id differs from webhook-id")
	flag.Parse()
	t, err := benchkit.NewTarget(benchkit.Up, *check)
	if err != nil {
		log.Fatal(err)
	}
	_ = json.NewEncoder(os.Stderr).Encode(map[string]string{"msg": "listening", "url": t.URL, "stats": strings.TrimSuffix(t.URL, "/hook") + "/stats"})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	t.Close()
	_ = json.NewEncoder(os.Stdout).Encode(t.Counts())
}
