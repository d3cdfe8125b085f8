// Command ingestgen writes a wrk Lua script that posts N distinct, validly
// signed TagihanAI deliveries of about 1 KiB (benchkit.Body: unique event
// ids and invoices, signatures made now, so run the load within the
// signature tolerance, 5 minutes by default), plus one data file per wrk
// thread (<out>.data.<k>: the raw requests, NUL-separated). Each thread
// sends its own share, so no id is sent twice until a thread has sent all
// of it; the script's done() prints one line
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
	// One data file per wrk thread, raw HTTP requests separated by NUL.
	// wrk runs each thread's init() in its main thread after starting the
	// previous threads, and starts its clock only after the last init: a
	// thread that sent at once would get a head start counted in requests
	// but not in the duration. So init is a read and a split (no Lua
	// formatting), and every thread holds its first request until the
	// last thread's init has written a marker file.
	files := make([]*bufio.Writer, threads)
	closers := make([]*os.File, threads)
	for k := range files {
		f, err := os.Create(fmt.Sprintf("%s.data.%d", out, k+1))
		if err != nil {
			return err
		}
		closers[k] = f
		files[k] = bufio.NewWriterSize(f, 1<<20)
	}
	now := time.Now()
	for i := 0; i < n; i++ {
		body := benchkit.Body(prefix, i, perSubject)
		w := files[i%threads]
		fmt.Fprintf(w, "POST /webhooks/tagihanai HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"+
			"X-TagihanAI-Signature: %s\r\nContent-Length: %d\r\n\r\n", benchkit.SignHeader(body, now), len(body))
		w.Write(body)
		w.WriteByte(0)
	}
	for k, w := range files {
		if err := w.Flush(); err != nil {
			return err
		}
		if err := closers[k].Close(); err != nil {
			return err
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "local datafile = %q\nlocal distinct = %d\nlocal threads = %d\n", out+".data", n, threads)
	if _, err := io.WriteString(f, luaScript); err != nil {
		return err
	}
	return f.Close()
}

// luaScript loads its thread's data file (thread k of T has deliveries k,
// k+T, k+2T, ...), waits for the others, and cycles through it.
const luaScript = `
local reqs = {}
local counter = 0
local next_id = 1
local ready = false
local marker = datafile .. ".ready"
-- setup runs in wrk's main Lua state, once per thread, in thread order.
function setup(thread)
  if next_id == 1 then os.remove(marker) end
  thread:set("tid", next_id)
  next_id = next_id + 1
end
function init(args)
  local f = assert(io.open(datafile .. "." .. tid, "rb"))
  local data = f:read("*a")
  f:close()
  for r in data:gmatch("([^%z]+)%z") do
    reqs[#reqs + 1] = r
  end
  if tid == threads then -- the last thread is loaded: everyone may start
    assert(io.open(marker, "w")):close()
  end
end
local calls = 0
function request()
  calls = calls + 1
  -- Hold the first request until every thread is loaded. (wrk's main
  -- thread calls the first thread's request() once, right after its init,
  -- to check the request parses: that call must not wait.)
  if not ready and not (tid == 1 and calls == 1) then
    while true do
      local m = io.open(marker, "r")
      if m then m:close() break end
    end
    ready = true
  end
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
