package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/bench/internal/benchkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// TestWrite checks the load is what the benchmark claims: every request in
// the per-thread files parses as HTTP, carries a signature the service's
// verifier accepts, and no event id repeats across threads.
func TestWrite(t *testing.T) {
	out := filepath.Join(t.TempDir(), "requests.lua")
	const n, threads = 9, 2
	if err := write(out, n, threads, "test", 1); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"local distinct = 9", "local threads = 2", "function request()"} {
		if !bytes.Contains(script, []byte(want)) {
			t.Errorf("script lacks %q", want)
		}
	}
	v := signature.NewVerifier([][]byte{[]byte(benchkit.Secret)}, 5*time.Minute)
	seen := map[string]bool{}
	for k := 1; k <= threads; k++ {
		data, err := os.ReadFile(out + ".data." + string(rune('0'+k)))
		if err != nil {
			t.Fatal(err)
		}
		reqs := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
		for _, raw := range reqs {
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatalf("thread %d: %v", k, err)
			}
			body, _ := io.ReadAll(req.Body)
			if err := v.Verify(req.Header.Get(relay.HeaderSignature), "", body); err != nil {
				t.Errorf("thread %d: signature: %v", k, err)
			}
			env, err := relay.ReadEnvelope(body, nil)
			if err != nil || env.Type != "transaction.paid" {
				t.Errorf("thread %d: envelope %+v, %v", k, env, err)
			}
			if seen[env.ID] {
				t.Errorf("id %s sent twice", env.ID)
			}
			seen[env.ID] = true
			if len(body) < 900 || len(body) > 1300 {
				t.Errorf("body %d bytes, want about 1 KiB", len(body))
			}
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct ids, want %d", len(seen), n)
	}
}
