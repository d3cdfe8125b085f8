package benchkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// TargetMode is how a Target answers.
type TargetMode int32

const (
	// Up answers 200 and counts the delivery.
	Up TargetMode = iota
	// Down answers 503 (a sink that is down: the relay retries).
	Down
	// Hang accepts the request and holds it without answering until the
	// mode changes (a hung upstream): only the sink's workers' in-flight
	// requests are consumed, nothing is counted.
	Hang
)

// Target is an HTTP forward target that counts deliveries per webhook-id
// (the receiver-side dedup a real endpoint would do). It answers per its
// mode and checks that the CloudEvent body's id equals the webhook-id.
// GET /stats answers its Counts as JSON.
type Target struct {
	URL string

	mode       atomic.Int32
	srvMu      sync.Mutex
	srv        *http.Server
	ln         net.Listener
	requests   atomic.Int64 // every request
	delivered  atomic.Int64 // answered 2xx
	mismatched atomic.Int64 // body id != webhook-id
	changed    chan struct{}
	changeMu   sync.Mutex

	mu        sync.Mutex
	seen      map[string]uint32
	first     time.Time
	last      time.Time
	checkBody bool
}

// NewTarget starts a Target on a free loopback port in mode. With
// checkBody, every 2xx delivery's body is decoded to compare its id.
func NewTarget(mode TargetMode, checkBody bool) (*Target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &Target{URL: "http://" + ln.Addr().String() + "/hook", ln: ln, seen: make(map[string]uint32, 1<<16),
		changed: make(chan struct{}), checkBody: checkBody}
	t.mode.Store(int32(mode))
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	go func() { _ = t.srv.Serve(ln) }()
	return t, nil
}

// SetMode switches the mode; requests held by Hang are released.
func (t *Target) SetMode(m TargetMode) {
	t.changeMu.Lock()
	t.mode.Store(int32(m))
	close(t.changed)
	t.changed = make(chan struct{})
	t.changeMu.Unlock()
}

// Close stops the server (connections are refused from then on).
func (t *Target) Close() {
	t.srvMu.Lock()
	defer t.srvMu.Unlock()
	_ = t.srv.Close()
}

// Reopen serves again on the same address after Close.
func (t *Target) Reopen() error {
	t.srvMu.Lock()
	defer t.srvMu.Unlock()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger for a moment
		if ln, err = net.Listen("tcp", t.ln.Addr().String()); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	t.ln = ln
	t.srv = &http.Server{Handler: t, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(t.srv)
	return nil
}

func (t *Target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/stats" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(t.Counts())
		return
	}
	t.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	for TargetMode(t.mode.Load()) == Hang {
		t.changeMu.Lock()
		ch := t.changed
		t.changeMu.Unlock()
		if TargetMode(t.mode.Load()) != Hang {
			break
		}
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
	}
	if TargetMode(t.mode.Load()) == Down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := r.Header.Get("webhook-id")
	if t.checkBody {
		var ce struct {
			ID string `json:"id"`
		}
		if json.NewDecoder(bytes.NewReader(body)).Decode(&ce) != nil || ce.ID != id {
			t.mismatched.Add(1)
		}
	}
	now := time.Now()
	t.mu.Lock()
	t.seen[id]++
	if t.first.IsZero() {
		t.first = now
	}
	t.last = now
	t.mu.Unlock()
	t.delivered.Add(1)
	w.WriteHeader(http.StatusOK)
}

// Counts are what a Target saw.
type Counts struct {
	Requests   int64     `json:"requests"`   // every request, whatever the answer
	Delivered  int64     `json:"delivered"`  // 2xx answers (at-least-once: includes redeliveries)
	Distinct   int       `json:"distinct"`   // distinct webhook-ids answered 2xx
	Duplicates int64     `json:"duplicates"` // Delivered - Distinct: redeliveries of an id already acknowledged
	MaxPerID   uint32    `json:"max_per_id"` // most 2xx answers one id got
	Mismatched int64     `json:"mismatched"` // body id differed from webhook-id
	First      time.Time `json:"first"`      // first 2xx
	Last       time.Time `json:"last"`       // last 2xx
}

// Counts returns a snapshot.
func (t *Target) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := Counts{Requests: t.requests.Load(), Delivered: t.delivered.Load(), Distinct: len(t.seen),
		Mismatched: t.mismatched.Load(), First: t.first, Last: t.last}
	for _, n := range t.seen {
		if n > c.MaxPerID {
			c.MaxPerID = n
		}
	}
	c.Duplicates = c.Delivered - int64(c.Distinct)
	return c
}

// Distinct is the number of distinct webhook-ids acknowledged (cheap).
func (t *Target) Distinct() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen)
}

// Seen returns how many times id was acknowledged.
func (t *Target) Seen(id string) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen[id]
}

// IDs returns a copy of the per-id counts.
func (t *Target) IDs() map[string]uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[string]uint32, len(t.seen))
	for k, v := range t.seen {
		m[k] = v
	}
	return m
}
