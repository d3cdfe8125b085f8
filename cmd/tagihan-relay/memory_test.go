package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// procStatusKB reads a "Vm...:  N kB" line of /proc/<pid>/status.
func procStatusKB(t *testing.T, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read /proc status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// hostile is one attacking connection: a request head, then body bytes
// written while the server reads them (or until it answers and closes).
type hostile struct {
	head []byte
	body [][]byte // written in order; the last part is never finished
}

// forgedHeader is a well-formed, timely signature header with a random
// digest: anyone can send one, and only the body's HMAC shows it is false.
func forgedHeader() string {
	var d [32]byte
	_, _ = rand.Read(d[:])
	return "t=" + strconv.FormatInt(time.Now().Unix(), 10) + ",v1=" + hex.EncodeToString(d[:])
}

func hostileHead(sig string, length int) []byte {
	var b bytes.Buffer
	b.WriteString("POST /webhooks/tagihanai HTTP/1.1\r\nHost: relay.test\r\nContent-Type: application/json\r\n")
	if sig != "" {
		b.WriteString("X-TagihanAI-Signature: " + sig + "\r\n")
	}
	if length < 0 {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
	}
	return b.Bytes()
}

// TestServe_MemoryBoundedUnderHostileIngest starts the real binary and
// opens hundreds of connections nobody signed: unsigned ones that declare
// and send (almost) 1 MiB and then stall, chunked ones that never end,
// forged-but-timely headers with huge declared or chunked bodies and slow
// forged ones within the limit. The process's peak RSS (VmHWM) stays
// within a generous bound of where it started, and a legitimate signed
// delivery still gets 200 meanwhile. Before the fix (the body was read
// before the signature was looked at, nothing bounded the bytes in flight)
// the same connections grew the peak RSS by 0.7–1.3 GB; after it, by about
// 65 MB.
func TestServe_MemoryBoundedUnderHostileIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level memory test")
	}
	// The real binary, built without the race detector (whose shadow memory
	// would be measured too).
	dir := t.TempDir()
	p := startRelayExe(t, buildRelay(t), dir)
	pid := p.cmd.Process.Pid
	client := &http.Client{Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	if code, body := post(client, p.public, fixture(t, "transaction.paid", "evt_mem_warm", "")); code != http.StatusOK {
		t.Fatalf("warm-up delivery: %d %s", code, body)
	}
	baseKB := procStatusKB(t, pid, "VmRSS")

	const mib = 1 << 20
	payload := bytes.Repeat([]byte{'x'}, mib)
	var conns []hostile
	for i := 0; i < 300; i++ { // unsigned, declared 1 MiB, all but the last byte sent
		conns = append(conns, hostile{head: hostileHead("", mib), body: [][]byte{payload[:mib-1]}})
	}
	for i := 0; i < 100; i++ { // unsigned, chunked, never ends
		conns = append(conns, hostile{head: hostileHead("", -1), body: [][]byte{chunkOf(payload[:256<<10]), chunkOf(payload[:256<<10])}})
	}
	for i := 0; i < 50; i++ { // forged, declared 8 MiB
		conns = append(conns, hostile{head: hostileHead(forgedHeader(), 8*mib), body: [][]byte{payload}})
	}
	for i := 0; i < 50; i++ { // forged, chunked, 2 MiB and on
		conns = append(conns, hostile{head: hostileHead(forgedHeader(), -1), body: [][]byte{chunkOf(payload), chunkOf(payload)}})
	}
	for i := 0; i < 16; i++ { // forged, within the limit, stalled before the last byte
		conns = append(conns, hostile{head: hostileHead(forgedHeader(), mib), body: [][]byte{payload[:mib-1]}})
	}

	addr := strings.TrimPrefix(p.public, "http://")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers = map[int]int{} // status → connections
		open    []net.Conn
	)
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for _, h := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
		open = append(open, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The answer is read concurrently: the server may answer (and
			// stop reading) before the body is sent.
			go func() {
				r, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err == nil {
					r.Body.Close()
					mu.Lock()
					answers[r.StatusCode]++
					mu.Unlock()
				}
			}()
			if _, err := c.Write(h.head); err != nil {
				return
			}
			for _, part := range h.body {
				if _, err := c.Write(part); err != nil {
					return // answered and closed
				}
			}
		}()
	}
	wg.Wait() // every attacker has sent all it will, or was cut off

	// A legitimate delivery goes through while the attackers hold on.
	if code, body := post(client, p.public, fixture(t, "transaction.paid", "evt_mem_legit", "")); code != http.StatusOK {
		t.Fatalf("legitimate delivery under attack: %d %s", code, body)
	}
	peakKB := procStatusKB(t, pid, "VmHWM")
	mu.Lock()
	t.Logf("RSS at start %d MB, peak %d MB; answers by status: %v", baseKB>>10, peakKB>>10, answers)
	mu.Unlock()
	// The bound: 64 MiB of budget, the garbage collector's slack over it,
	// 516 connections' buffers and goroutines, and room for a loaded
	// machine; the unbounded version exceeded it several times over.
	const boundMB = 256
	if grown := (peakKB - baseKB) >> 10; grown > boundMB {
		t.Fatalf("peak RSS grew by %d MB under hostile connections, want at most %d MB", grown, boundMB)
	}
}

func chunkOf(p []byte) []byte {
	return append(append([]byte(strconv.FormatInt(int64(len(p)), 16)+"\r\n"), p...), "\r\n"...)
}

// buildRelay builds this package's binary, without -race, into a temporary
// directory (the go build cache makes it quick after the first time).
func buildRelay(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tagihan-relay")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
