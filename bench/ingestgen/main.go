// Command ingestgen writes a wrk Lua script that posts N distinct, validly
// signed TagihanAI deliveries of about 1 KiB (benchkit.Body: unique event
// ids and invoices, signatures made now, so run the load within the
// signature tolerance, 5 minutes by default), plus its data file
// (<out>.data, one "<signature header>\t<body>" line per delivery). Each wrk
// thread takes its own stride of the lines, so no id is sent twice until a
// thread has sent all of its share; the script's done() prints one line
//
//	RESULT requests=.. duration_us=.. non2xx=.. errors=.. p50_us=.. p90_us=.. p99_us=.. max_us=.. mean_us=.. distinct=N
//
// and requests > distinct means the run wrapped around (duplicates sent).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/tagihan-relay/tagihan-relay/bench/internal/benchkit"
)

func main() {
	n := flag.Int("n", 200000, "number of distinct deliveries")
	prefix := flag.String("prefix", "bench", "event id prefix (evt_<prefix>_<i>)")
	perSubject := flag.Int("per-subject", 1, "events per invoice (subject)")
	out := flag.String("out", "requests.lua", "output Lua script")
	threads := flag.Int("threads", 2, "wrk threads the script will be split across")
	flag.Parse()
	if err := write(*out, *n, *threads, *prefix, *perSubject); err != nil {
		log.Fatal(err)
	}
}

func write(out string, n, threads int, prefix string, perSubject int) error {
	data, err := os.Create(out + ".data")
	if err != nil {
		return err
	}
	dw := bufio.NewWriterSize(data, 1<<20)
	now := time.Now()
	for i := 0; i < n; i++ {
		body := benchkit.Body(prefix, i, perSubject)
		fmt.Fprintf(dw, "%s\t%s\n", benchkit.SignHeader(body, now), body)
	}
	if err := dw.Flush(); err != nil {
		return err
	}
	if err := data.Close(); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "local threads = %d\nlocal datafile = %q\nlocal distinct = %d\n", threads, out+".data", n)
	if _, err := io.WriteString(f, luaScript); err != nil {
		return err
	}
	return f.Close()
}

// luaScript loads the data file in each wrk thread and walks its own
// stride of it (thread k of T sends lines k, k+T, k+2T, ...).
const luaScript = `
local reqs = {}
local counter = 0
local next_id = 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
function init(args)
  local i = 0
  for line in io.lines(datafile) do
    i = i + 1
    if (i - tid) % threads == 0 then
      local tab = line:find("\t", 1, true)
      local sig = line:sub(1, tab - 1)
      local body = line:sub(tab + 1)
      reqs[#reqs + 1] = wrk.format("POST", "/webhooks/tagihanai",
        {["Content-Type"] = "application/json", ["X-TagihanAI-Signature"] = sig}, body)
    end
  end
end
function request()
  counter = counter + 1
  return reqs[((counter - 1) % #reqs) + 1]
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%d distinct=%d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean, distinct))
end
`
