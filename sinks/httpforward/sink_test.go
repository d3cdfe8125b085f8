package httpforward_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
)

func TestSink_Deliver(t *testing.T) {
	t.Run("CloudEvents", func(t *testing.T) {
		rc := &receiver{t: t, key: testKey}
		srv := MustServe(t, rc)
		s := MustNewSink(t, httpforward.Config{
			URL:           srv.URL + "/hooks/tagihan",
			SigningSecret: testSecret,
			Headers:       map[string]string{"X-Env": "prod", "x-team": "erp"},
		})

		const n = 25
		sent := make(map[string]*relay.Outbound, n)
		for i := range n {
			o := NewOutbound(fmt.Sprintf("evt_%02d", i))
			sent[o.EventID] = o
		}
		var wg sync.WaitGroup
		for _, o := range sent {
			wg.Go(func() {
				if r := s.Deliver(t.Context(), o); r.Outcome != relay.OutcomeDelivered || r.StatusCode != 204 {
					t.Errorf("Deliver(%s) = %+v, want delivered 204", o.EventID, r)
				}
			})
		}
		wg.Wait()

		seen := make(map[string]int)
		for _, req := range rc.requests() {
			id := req.Header.Get("webhook-id")
			seen[id]++
			o, ok := sent[id]
			if !ok {
				t.Errorf("unexpected webhook-id %q", id)
				continue
			}
			if !bytes.Equal(req.Body, o.Event) {
				t.Errorf("%s: body = %s, want the CloudEvent %s", id, req.Body, o.Event)
			}
			var ce relay.Event
			if err := json.Unmarshal(req.Body, &ce); err != nil || ce.ID != id {
				t.Errorf("%s: body is not its CloudEvent (id %q, err %v)", id, ce.ID, err)
			}
			want := map[string]string{
				"Content-Type": "application/cloudevents+json",
				"X-Env":        "prod",
				"X-Team":       "erp",
			}
			for k, v := range want {
				if got := req.Header.Get(k); got != v {
					t.Errorf("%s: %s = %q, want %q", id, k, got, v)
				}
			}
			for k := range req.Header {
				if strings.HasPrefix(k, "X-Original-") {
					t.Errorf("%s: cloudevents mode sent %s", id, k)
				}
			}
		}
		if len(seen) != n {
			t.Errorf("received %d distinct events, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("%s received %d times, want once", id, c)
			}
		}
	})

	t.Run("Raw", func(t *testing.T) {
		rc := &receiver{t: t, key: testKey, status: http.StatusOK}
		srv := MustServe(t, rc)
		s := MustNewSink(t, httpforward.Config{URL: srv.URL, Mode: "raw", SigningSecret: testSecret})
		o := NewOutbound("evt_raw")

		if r := s.Deliver(t.Context(), o); r.Outcome != relay.OutcomeDelivered || r.StatusCode != 200 {
			t.Fatalf("Deliver = %+v, want delivered 200", r)
		}
		reqs := rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("received %d requests, want 1", len(reqs))
		}
		req := reqs[0]
		if !bytes.Equal(req.Body, o.Delivery.Body) {
			t.Errorf("body differs from the original:\n got %q\nwant %q", req.Body, o.Delivery.Body)
		}
		got := map[string]string{}
		for _, k := range []string{
			"Content-Type",
			"X-Original-TagihanAI-Signature",
			"X-Original-TagihanAI-Timestamp",
			"X-Original-TagihanAI-Event-Id",
			"X-Original-TagihanAI-Delivery-Id",
			"X-TagihanAI-Signature",
			"Webhook-Id",
		} {
			got[k] = req.Header.Get(k)
		}
		want := map[string]string{
			"Content-Type":                     "application/json; charset=utf-8",
			"X-Original-TagihanAI-Signature":   "t=1767225600,v1=abc123",
			"X-Original-TagihanAI-Timestamp":   "1767225600",
			"X-Original-TagihanAI-Event-Id":    "evt_raw",
			"X-Original-TagihanAI-Delivery-Id": "dlv_evt_raw",
			"X-TagihanAI-Signature":            "", // never forwarded under its own name
			"Webhook-Id":                       "evt_raw",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("headers (-want +got):\n%s", diff)
		}
	})

	t.Run("RawDefaultContentType", func(t *testing.T) {
		rc := &receiver{t: t}
		srv := MustServe(t, rc)
		s := MustNewSink(t, httpforward.Config{URL: srv.URL, Mode: "raw"})
		o := NewOutbound("evt_noct")
		delete(o.Delivery.Headers, "Content-Type")

		if r := s.Deliver(t.Context(), o); r.Outcome != relay.OutcomeDelivered {
			t.Fatalf("Deliver = %+v, want delivered", r)
		}
		if got := rc.requests()[0].Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", got)
		}
	})

	t.Run("Unsigned", func(t *testing.T) {
		rc := &receiver{t: t}
		srv := MustServe(t, rc)
		s := MustNewSink(t, httpforward.Config{URL: srv.URL})

		if r := s.Deliver(t.Context(), NewOutbound("evt_plain")); r.Outcome != relay.OutcomeDelivered {
			t.Fatalf("Deliver = %+v, want delivered", r)
		}
		h := rc.requests()[0].Header
		if got := h.Get("webhook-id"); got != "evt_plain" {
			t.Errorf("webhook-id = %q, want evt_plain (receivers dedup on it)", got)
		}
		for _, k := range []string{"webhook-timestamp", "webhook-signature"} {
			if v := h.Get(k); v != "" {
				t.Errorf("unsigned request has %s: %q", k, v)
			}
		}
	})

	t.Run("SameIDOnRetry", func(t *testing.T) {
		rc := &receiver{t: t, key: testKey, status: http.StatusServiceUnavailable}
		srv := MustServe(t, rc)
		s := MustNewSink(t, httpforward.Config{URL: srv.URL, SigningSecret: testSecret})
		o := NewOutbound("evt_retry")
		for attempt := 1; attempt <= 3; attempt++ {
			o.Attempt = attempt
			s.Deliver(t.Context(), o)
		}
		for i, req := range rc.requests() {
			if got := req.Header.Get("webhook-id"); got != "evt_retry" {
				t.Errorf("attempt %d: webhook-id = %q, want evt_retry", i+1, got)
			}
		}
	})

	t.Run("NothingToSend", func(t *testing.T) {
		for _, mode := range []string{"cloudevents", "raw"} {
			s := MustNewSink(t, httpforward.Config{URL: "http://127.0.0.1:1/", Mode: mode})
			o := NewOutbound("evt_empty")
			o.Event, o.Delivery.Body = nil, nil
			if r := s.Deliver(t.Context(), o); r.Outcome != relay.OutcomePermanent {
				t.Errorf("%s: Deliver = %+v, want permanent", mode, r)
			}
		}
	})
}

func TestSink_Deliver_Status(t *testing.T) {
	longBody := strings.Repeat("x", 150) + strings.Repeat("y", 50) + "TAIL" + strings.Repeat("z", 2000)
	tests := []struct {
		name           string
		status         int
		header         map[string]string
		body           string
		wantOutcome    relay.Outcome
		wantRetryAfter time.Duration
		wantReason     []string // substrings
		notReason      []string
	}{
		{name: "200", status: 200, body: `{"ok":true}`, wantOutcome: relay.OutcomeDelivered},
		{name: "201", status: 201, wantOutcome: relay.OutcomeDelivered},
		{name: "204", status: 204, wantOutcome: relay.OutcomeDelivered},
		{name: "503", status: 503, body: "maintenance", wantOutcome: relay.OutcomeTransient,
			wantReason: []string{"503", "maintenance"}},
		{name: "500", status: 500, wantOutcome: relay.OutcomeTransient},
		{name: "502RetryAfter", status: 502, header: map[string]string{"Retry-After": "120"},
			wantOutcome: relay.OutcomeTransient, wantRetryAfter: 2 * time.Minute},
		{name: "408", status: 408, wantOutcome: relay.OutcomeTransient},
		{name: "425", status: 425, wantOutcome: relay.OutcomeTransient},
		{name: "429RetryAfterSeconds", status: 429, header: map[string]string{"Retry-After": "7"},
			wantOutcome: relay.OutcomeTransient, wantRetryAfter: 7 * time.Second, wantReason: []string{"429"}},
		{name: "429RetryAfterDate", status: 429,
			header:      map[string]string{"Retry-After": testNow.Add(90 * time.Second).Format(http.TimeFormat)},
			wantOutcome: relay.OutcomeTransient, wantRetryAfter: 90 * time.Second},
		{name: "429RetryAfterGarbage", status: 429, header: map[string]string{"Retry-After": "soon"},
			wantOutcome: relay.OutcomeTransient},
		{name: "400", status: 400, body: `{"error":"invalid_event","message":"subject missing"}`,
			wantOutcome: relay.OutcomePermanent,
			wantReason:  []string{"400 Bad Request", `{"error":"invalid_event","message":"subject missing"}`}},
		{name: "400LongBody", status: 400, body: longBody, wantOutcome: relay.OutcomePermanent,
			wantReason: []string{longBody[:200]}, notReason: []string{"TAIL", "z"}},
		{name: "401", status: 401, wantOutcome: relay.OutcomePermanent, wantReason: []string{"401"}},
		{name: "404", status: 404, wantOutcome: relay.OutcomePermanent},
		{name: "410", status: 410, wantOutcome: relay.OutcomePermanent},
		{name: "422IgnoresRetryAfter", status: 422, header: map[string]string{"Retry-After": "7"},
			wantOutcome: relay.OutcomePermanent},
		{name: "301", status: 301, header: map[string]string{"Location": "https://elsewhere.example/hook"},
			wantOutcome: relay.OutcomePermanent,
			wantReason:  []string{"redirect to https://elsewhere.example/hook not followed"}},
		{name: "304", status: 304, wantOutcome: relay.OutcomePermanent, wantReason: []string{"not followed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			s := MustNewSink(t, httpforward.Config{URL: srv.URL, SigningSecret: testSecret})

			r := s.Deliver(t.Context(), NewOutbound("evt_status"))
			if r.Outcome != tt.wantOutcome || r.StatusCode != tt.status || r.RetryAfter != tt.wantRetryAfter {
				t.Errorf("Deliver = {%v %d %v %q}, want {%v %d %v}",
					r.Outcome, r.StatusCode, r.RetryAfter, r.Reason, tt.wantOutcome, tt.status, tt.wantRetryAfter)
			}
			for _, sub := range tt.wantReason {
				if !strings.Contains(r.Reason, sub) {
					t.Errorf("Reason = %q, want it to contain %q", r.Reason, sub)
				}
			}
			for _, sub := range append(tt.notReason, testSecret, testSecret[len("whsec_"):]) {
				if strings.Contains(r.Reason, sub) {
					t.Errorf("Reason = %q, must not contain %q", r.Reason, sub)
				}
			}
		})
	}
}

func TestSink_Deliver_Redirect(t *testing.T) {
	var targetHits atomic.Int32
	target := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
	}))
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/moved", status)
			}))
			s := MustNewSink(t, httpforward.Config{URL: srv.URL})

			r := s.Deliver(t.Context(), NewOutbound("evt_redirect"))
			if r.Outcome != relay.OutcomePermanent || r.StatusCode != status {
				t.Errorf("Deliver = %+v, want permanent %d", r, status)
			}
			if want := "redirect to " + target.URL + "/moved not followed"; !strings.Contains(r.Reason, want) {
				t.Errorf("Reason = %q, want it to contain %q", r.Reason, want)
			}
		})
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

func TestSink_Deliver_Timeout(t *testing.T) {
	release := make(chan struct{})
	srv := MustServe(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	s := MustNewSink(t, httpforward.Config{URL: srv.URL, SigningSecret: testSecret})

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	r := s.Deliver(ctx, NewOutbound("evt_slow"))
	if r.Outcome != relay.OutcomeTransient || !strings.Contains(r.Reason, "timeout") {
		t.Errorf("Deliver = %+v, want transient timeout", r)
	}
}

func TestSink_Deliver_ConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	s := MustNewSink(t, httpforward.Config{URL: "http://" + addr + "/hook?token=abc"})
	r := s.Deliver(t.Context(), NewOutbound("evt_refused"))
	if r.Outcome != relay.OutcomeTransient || r.StatusCode != 0 {
		t.Errorf("Deliver = %+v, want transient without status", r)
	}
	if strings.Contains(r.Reason, "token=abc") {
		t.Errorf("Reason = %q repeats the URL", r.Reason)
	}
}

func TestSink_Deliver_ConnectionReuse(t *testing.T) {
	var (
		n    atomic.Int32
		news atomic.Int32
	)
	srv := MustServeUnstarted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Alternate answers with bodies: every one must be drained.
		switch n.Add(1) % 3 {
		case 0:
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, strings.Repeat(`{"ok":true}`, 1000))
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, strings.Repeat("busy ", 2000))
		case 2:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, strings.Repeat("no ", 3000))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			news.Add(1)
		}
	}
	srv.Start()
	s := MustNewSink(t, httpforward.Config{URL: srv.URL, SigningSecret: testSecret})

	for i := range 50 {
		s.Deliver(t.Context(), NewOutbound(fmt.Sprintf("evt_%d", i)))
	}
	if got := news.Load(); got != 1 {
		t.Errorf("50 sequential deliveries opened %d connections, want 1", got)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name       string
		cfg        httpforward.Config
		wantVar    string // "" for success
		wantSecret bool
		notInError string
	}{
		{name: "OK", cfg: httpforward.Config{URL: "https://erp.example/hooks"}},
		{name: "OKRawSigned", cfg: httpforward.Config{URL: "http://10.0.0.1:8080/h", Mode: "raw", SigningSecret: testSecret}},
		{name: "OKModeCase", cfg: httpforward.Config{URL: "https://erp.example/", Mode: "CloudEvents"}},
		{name: "OKHeaders", cfg: httpforward.Config{URL: "https://erp.example/", Headers: map[string]string{"Authorization": "Bearer x", "X-Env": "prod"}}},
		{name: "URLMissing", cfg: httpforward.Config{}, wantVar: "SINK_ERP_URL"},
		{name: "URLRelative", cfg: httpforward.Config{URL: "/hooks"}, wantVar: "SINK_ERP_URL"},
		{name: "URLNoHost", cfg: httpforward.Config{URL: "http:///hooks"}, wantVar: "SINK_ERP_URL"},
		{name: "URLScheme", cfg: httpforward.Config{URL: "ftp://erp.example/"}, wantVar: "SINK_ERP_URL"},
		{name: "URLMalformed", cfg: httpforward.Config{URL: "http://user:hunter2@erp.example/\x7f"}, wantVar: "SINK_ERP_URL", notInError: "hunter2"},
		{name: "URLPasswordRedacted", cfg: httpforward.Config{URL: "ftp://user:hunter2@erp.example/"}, wantVar: "SINK_ERP_URL", notInError: "hunter2"},
		{name: "Mode", cfg: httpforward.Config{URL: "https://erp.example/", Mode: "binary"}, wantVar: "SINK_ERP_MODE"},
		{name: "SecretNotWhsec", cfg: httpforward.Config{URL: "https://erp.example/", SigningSecret: "hunter2hunter2"},
			wantVar: "SINK_ERP_SIGNING_SECRET", wantSecret: true, notInError: "hunter2"},
		{name: "SecretNotBase64", cfg: httpforward.Config{URL: "https://erp.example/", SigningSecret: "whsec_hunter2!!"},
			wantVar: "SINK_ERP_SIGNING_SECRET", wantSecret: true, notInError: "hunter2"},
		{name: "HeaderName", cfg: httpforward.Config{URL: "https://erp.example/", Headers: map[string]string{"X Env": "prod"}}, wantVar: "SINK_ERP_HEADERS"},
		{name: "HeaderEmptyName", cfg: httpforward.Config{URL: "https://erp.example/", Headers: map[string]string{"": "prod"}}, wantVar: "SINK_ERP_HEADERS"},
		{name: "HeaderValue", cfg: httpforward.Config{URL: "https://erp.example/", Headers: map[string]string{"Authorization": "Bearer hunter2\r\nX-Evil: 1"}},
			wantVar: "SINK_ERP_HEADERS", notInError: "hunter2"},
		{name: "HeaderReserved", cfg: httpforward.Config{URL: "https://erp.example/", Headers: map[string]string{"webhook-signature": "v1,x"}}, wantVar: "SINK_ERP_HEADERS"},
		{name: "HeaderContentType", cfg: httpforward.Config{URL: "https://erp.example/", Headers: map[string]string{"content-type": "text/plain"}}, wantVar: "SINK_ERP_HEADERS"},
		{name: "HeaderOriginal", cfg: httpforward.Config{URL: "https://erp.example/", Headers: map[string]string{"X-Original-TagihanAI-Signature": "x"}}, wantVar: "SINK_ERP_HEADERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := httpforward.New("SINK_ERP_", tt.cfg, httpforward.Deps{})
			if tt.wantVar == "" {
				if err != nil || s == nil {
					t.Fatalf("New = %v, %v; want a sink", s, err)
				}
				return
			}
			var ce *relay.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("New error = %v, want *relay.ConfigError", err)
			}
			if ce.Var != tt.wantVar || ce.Secret != tt.wantSecret {
				t.Errorf("ConfigError{Var: %q, Secret: %v}, want {%q, %v}", ce.Var, ce.Secret, tt.wantVar, tt.wantSecret)
			}
			if tt.notInError != "" && strings.Contains(err.Error(), tt.notInError) {
				t.Errorf("error %q leaks %q", err, tt.notInError)
			}
		})
	}
}

func TestNew_DoesNotChangeSharedClient(t *testing.T) {
	shared := &http.Client{Transport: httpforward.NewTransport()}
	if _, err := httpforward.New("SINK_ERP_", httpforward.Config{URL: "https://erp.example/"}, httpforward.Deps{HTTP: shared}); err != nil {
		t.Fatal(err)
	}
	if shared.CheckRedirect != nil {
		t.Error("New set CheckRedirect on the shared client")
	}
}

func TestConfig_Env(t *testing.T) {
	var cfg httpforward.Config
	err := env.ParseWithOptions(&cfg, env.Options{
		Prefix: "SINK_ERP_",
		Environment: map[string]string{
			"SINK_ERP_URL":            "https://erp.example/hooks",
			"SINK_ERP_SIGNING_SECRET": testSecret,
			"SINK_ERP_HEADERS":        "X-Env=prod,X-Team=erp,Authorization=Basic dXNlcjpwYXNz==",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := httpforward.Config{
		URL:           "https://erp.example/hooks",
		Mode:          "cloudevents",
		SigningSecret: testSecret,
		Headers:       map[string]string{"X-Env": "prod", "X-Team": "erp", "Authorization": "Basic dXNlcjpwYXNz=="},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("Config (-want +got):\n%s", diff)
	}
}
