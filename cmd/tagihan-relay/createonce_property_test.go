package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
)

var createOnceSeed = flag.Uint64("createonce.seed", 0, "seed of TestCreateOnce_Property (0: from the clock)")

// apCounterpart is a fake AccountingPlus for the create-once property: it
// checks what the real API requires of a create (path, bearer token,
// A-Signature, A-Data, a JSON invoice with a customer and items), keys
// documents by customer name (one customer per TagihanAI transaction here)
// and misbehaves the ways a slow or failing counterpart does, decided per
// request by a seeded generator: it answers after some latency, refuses
// with a 503 without creating anything, or creates the document and then
// never answers, or never answers and creates nothing. The relay can tell
// the last two apart only by asking a person (needs_review).
type apCounterpart struct {
	srv *httptest.Server
	mu  sync.Mutex
	rnd *rand.Rand
	n   int
	// docs holds the documents created per customer (subject).
	docs     map[string][]string
	requests int
}

func newAPCounterpart(t *testing.T, seed uint64) *apCounterpart {
	ap := &apCounterpart{rnd: rand.New(rand.NewPCG(seed, 0xaccc)), docs: map[string][]string{}}
	ap.srv = httptest.NewServer(http.HandlerFunc(ap.serve))
	t.Cleanup(ap.srv.Close)
	return ap
}

func (ap *apCounterpart) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/sales-invoices" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") ||
		r.Header.Get("A-Signature") == "" || r.Header.Get("A-Data") == "" {
		http.Error(w, `{"status":"99","message":"bad request"}`, http.StatusBadRequest)
		return
	}
	var inv struct {
		CustomerName string            `json:"customer_name"`
		Items        []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &inv); err != nil || inv.CustomerName == "" || len(inv.Items) == 0 {
		http.Error(w, `{"status":"99","message":"invalid invoice"}`, http.StatusBadRequest)
		return
	}
	ap.mu.Lock()
	ap.requests++
	roll := ap.rnd.IntN(100)
	latency := time.Duration(ap.rnd.IntN(40)) * time.Millisecond
	// roll: [0, 10) overloaded, nothing created; [10, 75) created and
	// answered; [75, 88) created, never answered; [88, 100) nothing
	// created, never answered.
	doc := ""
	if roll >= 10 && roll < 88 {
		ap.n++
		doc = fmt.Sprintf("%05d/FPJ/11/26", ap.n)
		ap.docs[inv.CustomerName] = append(ap.docs[inv.CustomerName], doc)
	}
	ap.mu.Unlock()
	time.Sleep(latency) // the counterpart's own latency
	switch {
	case roll < 10:
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"status":"98","message":"service unavailable"}`, http.StatusServiceUnavailable)
	case roll < 75:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"00","message":"success","data":{"document_number":%q}}`, doc)
	default:
		<-r.Context().Done() // the relay times out after sending
	}
}

// documents returns a copy of the documents per customer.
func (ap *apCounterpart) documents() map[string][]string {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	out := make(map[string][]string, len(ap.docs))
	for k, v := range ap.docs {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// TestCreateOnce_Property drives the relay, as child processes, with a
// seeded random interleaving of new events, duplicate deliveries (to any
// replica), replays, SIGKILLs and restarts, and an operator resolving
// needs_review items the way the runbook says (delivered with the document
// the counterpart shows, else retry), against a counterpart that is slow,
// refuses (retries) and times out (unknown outcomes) at random. Property:
// no (sink, subject) ever gets two documents; and once everything settles,
// every subject has exactly one. Both backends: bbolt (one relay, killed
// and restarted on its data directory) and NATS (two replicas on one
// JetStream server, either killed and restarted). The seed is printed on
// failure; -createonce.seed=N replays the same operations (what the
// counterpart does per request also follows the seed, but which request
// comes first depends on timing).
func TestCreateOnce_Property(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes and SIGKILLs: skipped with -short")
	}
	seed := *createOnceSeed
	fixed := seed != 0
	if !fixed {
		seed = uint64(time.Now().UnixNano())
	}
	// Rounds per backend (one when a seed is given): NATS rounds are
	// slower, a replica killed mid-delivery is taken over after its ack
	// wait (the sink's timeout plus 5 s). nats-cluster runs the replicas on
	// a 3-node JetStream cluster with every stream on three nodes, where a
	// read from a lagging follower could miss a create-once record.
	for _, b := range []struct {
		name   string
		rounds int
	}{{"bbolt", 4}, {"nats", 1}, {"nats-cluster", 1}} {
		t.Run(b.name, func(t *testing.T) {
			if fixed {
				b.rounds = 1
			}
			for r := range b.rounds {
				seed := seed + uint64(r)
				t.Run(fmt.Sprint("round", r), func(t *testing.T) {
					t.Cleanup(func() {
						if t.Failed() {
							t.Logf("seed %d: rerun with go test -run 'TestCreateOnce_Property/%s' -createonce.seed=%d ./cmd/tagihan-relay/", seed, b.name, seed)
						}
					})
					runCreateOnceProperty(t, b.name, seed)
				})
			}
		})
	}
}

func runCreateOnceProperty(t *testing.T, backend string, seed uint64) {
	ap := newAPCounterpart(t, seed)
	rnd := rand.New(rand.NewPCG(seed, 0x5eed))
	env := []string{"RELAY_SINKS=ap", "SINK_AP_KIND=accountingplus", "SINK_AP_BASE_URL=" + ap.srv.URL,
		"SINK_AP_CLIENT_ID=client-1", "SINK_AP_CLIENT_SECRET=client-secret", "SINK_AP_SIGNATURE_SECRET=sig-secret",
		"SINK_AP_EMAIL=finance@example.co.id", "SINK_AP_TENANT_ID=tenant-1", "SINK_AP_DEFAULT_ITEM_CODE=ITM00001",
		"SINK_AP_TIMEOUT=300ms", "SINK_AP_RETRY_SCHEDULE=20ms,50ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms",
		"SINK_AP_EVENTS=transaction.sent,transaction.revised"}
	replicas := 1
	dataDir := t.TempDir()
	switch backend {
	case "nats":
		replicas = 2
		env = append(env, "RELAY_BACKEND=nats", "NATS_URL="+startNATS(t), "NATS_PREFIX=PROPERTY")
	case "nats-cluster":
		replicas = 3
		env = append(env, "RELAY_BACKEND=nats", "NATS_URL="+startNATSCluster(t, 3), "NATS_PREFIX=PROPERTY", "NATS_STREAM_REPLICAS=3")
	}
	start := func() *relayProc {
		dir := dataDir
		if backend != "bbolt" {
			dir = t.TempDir() // holds no events with NATS
		}
		return startRelay(t, dir, env...)
	}
	procs := make([]*relayProc, replicas)
	for i := range procs {
		procs[i] = start()
	}
	client := &http.Client{Timeout: 5 * time.Second}

	const subjects = 12
	customer := func(k int) string { return fmt.Sprintf("PT Subjek %d", k) }
	tx := func(k int) string { return fmt.Sprintf("%08d-0000-4000-8000-%012d", k+1, k+1) }
	bodies := map[string][]byte{} // event id → body as first posted
	subjectOf := map[string]int{}
	var ids []string
	var log []string
	tally := map[string]int{} // operations done, by kind and answer
	note := func(format string, a ...any) { log = append(log, fmt.Sprintf(format, a...)) }
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operations:\n%s", strings.Join(log, "\n"))
		}
	})

	// resolve settles every needs_review item the way the runbook says:
	// look the subject up at the counterpart; delivered with its document
	// if there is one, else retry.
	resolve := func(p *relayProc) {
		var page struct {
			DeadLetters []struct {
				EventID string `json:"event_id"`
				Sink    string `json:"sink"`
			} `json:"dead_letters"`
		}
		if getJSON(t, p.admin+"/v1/dead-letters?state=needs_review", &page) != http.StatusOK {
			return
		}
		for _, dl := range page.DeadLetters {
			docs := ap.documents()[customer(subjectOf[dl.EventID])]
			res := `{"sink":"ap","outcome":"retry"}`
			if len(docs) > 0 {
				res = fmt.Sprintf(`{"sink":"ap","outcome":"delivered","result":{"document_number":%q}}`, docs[0])
			}
			code := postJSON(client, p.admin+"/v1/events/"+url.PathEscape(dl.EventID)+"/resolve", res)
			note("resolve %s %s at %s: %d", dl.EventID, res, p.admin, code)
			tally[fmt.Sprintf("resolve %d", code)]++
		}
	}
	idle := func(p *relayProc) {
		testkit.Eventually(t, 30*time.Second, "no delivery in flight", func() bool {
			var st struct {
				Sinks map[string]struct {
					InFlight int `json:"in_flight"`
				} `json:"sinks"`
			}
			return getJSON(t, p.admin+"/v1/stats", &st) == http.StatusOK && st.Sinks["ap"].InFlight == 0
		})
	}

	const steps = 80
	for step := range steps {
		p := procs[rnd.IntN(replicas)]
		switch op := rnd.IntN(100); {
		case op < 35 || len(ids) == 0: // a new event of a random subject
			k := rnd.IntN(subjects)
			typ := "transaction.sent"
			if rnd.IntN(3) == 0 {
				typ = "transaction.revised"
			}
			id := fmt.Sprintf("evt_%s_%03d", backend, step)
			body := fixture(t, typ, id, tx(k))
			body = bytes.ReplaceAll(body, []byte(`"PT Maju Jaya"`), []byte(fmt.Sprintf("%q", customer(k))))
			code, ans := post(client, p.public, body)
			note("post %s (%s, subject %d) at %s: %d %s", id, typ, k, p.public, code, ans)
			if code != http.StatusOK {
				t.Fatalf("post %s: %d %s", id, code, ans)
			}
			bodies[id], subjectOf[id] = body, k
			ids = append(ids, id)
			tally["new"]++
		case op < 55: // TagihanAI delivers an event again
			id := ids[rnd.IntN(len(ids))]
			code, ans := post(client, p.public, bodies[id])
			note("duplicate %s at %s: %d %s", id, p.public, code, ans)
			tally["duplicate"]++
			if code != http.StatusOK || !strings.Contains(string(ans), "duplicate") {
				t.Fatalf("duplicate of %s: %d %s", id, code, ans)
			}
		case op < 67: // an operator replays an event
			id := ids[rnd.IntN(len(ids))]
			code := postJSON(client, p.admin+"/v1/events/"+id+"/replay", `{"sink":"ap"}`)
			note("replay %s at %s: %d", id, p.admin, code)
			tally[fmt.Sprintf("replay %d", code)]++
		case op < 79:
			resolve(p)
		case op < 89:
			idle(p)
			note("idle at %s", p.admin)
			tally["idle"]++
		default: // SIGKILL a replica (mid-request or not) and start it again
			i := rnd.IntN(replicas)
			procs[i].kill()
			client.CloseIdleConnections()
			note("SIGKILL replica %d", i)
			tally["SIGKILL"]++
			procs[i] = start()
		}
		for subj, docs := range ap.documents() {
			if len(docs) > 1 {
				t.Fatalf("after step %d: %s has %d documents %v, want at most 1", step, subj, len(docs), docs)
			}
		}
	}

	// Settle: resolve until nothing is open.
	testkit.Eventually(t, 90*time.Second, "every delivery settled", func() bool {
		p := procs[0]
		resolve(p)
		var st struct {
			Sinks map[string]struct {
				Pending     int `json:"pending"`
				InFlight    int `json:"in_flight"`
				NeedsReview int `json:"needs_review"`
			} `json:"sinks"`
		}
		if getJSON(t, p.admin+"/v1/stats", &st) != http.StatusOK {
			return false
		}
		s := st.Sinks["ap"]
		return s.Pending == 0 && s.InFlight == 0 && s.NeedsReview == 0
	})
	docs := ap.documents()
	used := map[int]bool{}
	for _, k := range subjectOf {
		used[k] = true
	}
	for k := range used {
		if got := docs[customer(k)]; len(got) != 1 {
			t.Errorf("subject %d: documents %v, want exactly 1", k, got)
		}
	}
	ap.mu.Lock()
	requests := ap.requests
	ap.mu.Unlock()
	t.Logf("seed %d: %d operations %v; %d events on %d subjects; %d requests at the counterpart; %d documents",
		seed, steps, tally, len(ids), len(used), requests, len(docs))
}

// postJSON posts body to url and returns the status (0 on a transport
// error).
func postJSON(client *http.Client, url, body string) int {
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// startNATSCluster runs an n-node in-process JetStream cluster, waits until
// it has a JetStream meta leader and returns its client URLs,
// comma-separated (NATS_URL).
func startNATSCluster(t *testing.T, n int) string {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	servers := make([]*server.Server, n)
	urls := make([]string, n)
	for i := range servers {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
			NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "relay", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
		if !s.ReadyForConnections(30 * time.Second) {
			t.Fatalf("nats node %d not ready", i+1)
		}
		servers[i], urls[i] = s, s.ClientURL()
	}
	testkit.Eventually(t, 90*time.Second, "the cluster to elect a JetStream meta leader", func() bool {
		leaders := 0
		for _, s := range servers {
			if !s.JetStreamIsCurrent() {
				return false
			}
			if s.JetStreamIsLeader() {
				leaders++
			}
		}
		return leaders == 1
	})
	return strings.Join(urls, ",")
}
