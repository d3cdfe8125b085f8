// Command ingestgen writes a wrk Lua script that posts N distinct, validly
// signed TagihanAI deliveries of about 1 KiB (benchkit.Body: unique event
// ids and invoices, signatures made now, so run the load within the
// signature tolerance, 5 minutes by default), plus one data file per wrk
// thread (<out>.data.<k>: the raw requests, NUL-separated). Each thread
// loads and sends only its own share, so no id is sent twice until a thread
// has sent all of it; the script's done() prints one line
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
	// One data file per wrk thread, raw HTTP requests separated by NUL:
	// thread k of T gets deliveries k-1, k-1+T, k-1+2T, ... (see luaScript
	// for when each thread loads its file).
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

// luaScript: every wrk thread loads its own data file into its own Lua
// state and cycles through it; no thread waits for another (an earlier
// version held each thread's first request until a marker file written by
// the last thread's init appeared, and with wrk 4.1.0 the threads never
// started sending).
//
// When each thread loads: wrk 4.1.0 runs every thread's init() in its main
// thread, one thread after the other, starts thread k right after its
// init, and starts the clock after the last one. A thread that loaded in
// init and sent at once would get a head start (requests counted, time not)
// as long as the later threads' loading, about 0.5 s per 100,000
// deliveries. So the last thread loads in init(), and every other thread
// loads on its first request() call, in its own OS thread, at the same
// time as the main thread loads the last one's: all threads start sending
// within a few milliseconds of the clock. (wrk's main thread calls the
// first thread's request() once, after its init, only to check that the
// request parses; that call returns a placeholder, which is never sent.)
const luaScript = `
local reqs = {}
local counter = 0
local loaded = false
local probed = false
local next_id = 1
-- setup runs in wrk's main Lua state, once per thread, in thread order.
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
local function load()
  local name = datafile .. "." .. tid
  local f = assert(io.open(name, "rb"))
  local size = f:seek("end")
  f:seek("set", 0)
  local data = f:read(size) or ""
  f:close()
  local find, sub, i = string.find, string.sub, 1
  while true do
    local j = find(data, "\0", i, true)
    if not j then break end
    reqs[#reqs + 1] = sub(data, i, j - 1)
    i = j + 1
  end
  assert(#reqs > 0, "no requests in " .. name)
  data = nil
  collectgarbage()
  loaded = true
end
function init(args)
  if tid == threads then load() end
end
function request()
  if not loaded then
    if tid == 1 and not probed then
      probed = true -- wrk's parse check, in its main thread: not sent
      return "POST /webhooks/tagihanai HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    end
    load()
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
