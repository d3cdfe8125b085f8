package console

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/html"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

// TestConsole_Headers checks the security headers on every kind of console
// response, and that no page has inline script, inline handlers or inline
// styles (the CSP would block them).
func TestConsole_Headers(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	id := f.ingest("transaction.sent", fixturesOpts("INV-2026-0042"))
	f.stall("ap", id)
	op := f.login("Ana")
	for _, tt := range []struct {
		path string
		op   *operator
		code int
	}{
		{"/", nil, http.StatusSeeOther},
		{"/ui", nil, http.StatusSeeOther},
		{"/ui/login", nil, http.StatusOK},
		{"/ui/events", nil, http.StatusSeeOther},
		{"/ui/static/console.css", nil, http.StatusOK},
		{"/ui/static/console.js", nil, http.StatusOK},
		{"/ui/static/nope.js", nil, http.StatusNotFound},
		{"/ui/nope", nil, http.StatusNotFound},
		{"/ui/", op, http.StatusOK},
		{"/ui/overview/live", op, http.StatusOK},
		{"/ui/events?q=INV-2026-0042", op, http.StatusOK},
		{"/ui/events?type=%5B", op, http.StatusBadRequest},
		{"/ui/events/" + id, op, http.StatusOK},
		{"/ui/events/" + id + "/raw", op, http.StatusOK},
		{"/ui/events/" + id + "/resolve?sink=ap", op, http.StatusOK},
		{"/ui/events/evt_missing", op, http.StatusNotFound},
		{"/ui/dead-letters", op, http.StatusOK},
		{"/ui/review", op, http.StatusOK},
	} {
		t.Run(tt.path, func(t *testing.T) {
			w := f.get(tt.op, tt.path)
			wantStatus(t, w, tt.code)
			h := w.Header()
			for k, want := range map[string]string{
				"Content-Security-Policy": "default-src 'self'; script-src 'self'; frame-ancestors 'none'",
				"Referrer-Policy":         "no-referrer",
				"X-Content-Type-Options":  "nosniff",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				checkNoInline(t, w.Body.String())
			}
		})
	}
	t.Run("OtherAdminPathsUntouched", func(t *testing.T) {
		f.e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
		w := f.get(nil, "/healthz")
		if w.Header().Get("Content-Security-Policy") != "" {
			t.Error("the console set its headers on /healthz")
		}
	})
}

// checkNoInline fails when body has a script that is not one of ours by
// src, script text, an on* attribute, inline style, or a URL of another
// origin.
func checkNoInline(tb testing.TB, body string) {
	tb.Helper()
	z := html.NewTokenizer(strings.NewReader(body))
	inScript := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.TextToken:
			if inScript && strings.TrimSpace(string(z.Text())) != "" {
				tb.Errorf("inline script: %s", z.Text())
			}
		case html.EndTagToken:
			inScript = false
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			src := ""
			for _, a := range tok.Attr {
				switch {
				case strings.HasPrefix(a.Key, "on"):
					tb.Errorf("inline event handler: %s", tok)
				case a.Key == "style":
					tb.Errorf("inline style: %s", tok)
				case a.Key == "src" || a.Key == "href" || a.Key == "action":
					if strings.HasPrefix(a.Val, "//") || strings.Contains(a.Val, "://") {
						tb.Errorf("URL of another origin: %s", tok)
					}
					if a.Key == "src" {
						src = a.Val
					}
				}
			}
			switch tok.Data {
			case "style":
				tb.Errorf("inline style element")
			case "script":
				inScript = true
				if !strings.HasPrefix(src, "/ui/static/") {
					tb.Errorf("script not from /ui/static/: %s", tok)
				}
			}
		}
	}
}

func TestConsole_Overview(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	a := f.ingest("transaction.paid", fixturesOpts("INV-2026-0001")) // erp
	b := f.ingest("transaction.sent", fixturesOpts("INV-2026-0002")) // erp, ap
	f.ingest("payment.completed", fixtures.Options{})                // erp
	f.kill("erp", a)
	f.stall("ap", b)
	f.clock.Advance(2 * time.Minute) // the oldest pending is now 2 minutes old
	f.received.WithLabelValues("accepted").Add(3)
	f.received.WithLabelValues("unauthorized").Add(2)
	op := f.login("Ana")

	w := f.get(op, "/ui/")
	wantStatus(t, w, http.StatusOK)
	body := w.Body.String()
	wantBody(t, w, `data-refresh="/ui/overview/live"`, `<script src="/ui/static/console.js?v=`)
	rows := rowsOf(body)
	// erp: b and the payment pending, a dead; ap: b needs review. The last
	// hour's counts come from the store: at erp a's failed attempt and the
	// two transient ones of the deliveries the fixture put back, at ap b's
	// unknown one.
	if got, want := rows["erp"], "erp|http|2|0|2m 0s|1|0|0|3"; got != want {
		t.Errorf("erp row = %q, want %q", got, want)
	}
	if got, want := rows["ap"], "ap|accountingplus|0|0|–|0|1|0|1"; got != want {
		t.Errorf("ap row = %q, want %q", got, want)
	}
	wantBody(t, w, `href="/ui/dead-letters?sink=erp"`, `href="/ui/review?sink=ap"`)
	counts := countsOf(body)
	for k, want := range map[string]string{"accepted": "3", "unauthorized": "2", "duplicate": "0", "needs_review": "1", "dead": "1", "pending": "1"} {
		if counts[k] != want {
			t.Errorf("count %s = %q, want %q (all: %v)", k, counts[k], want, counts)
		}
	}

	t.Run("Live", func(t *testing.T) {
		f.received.WithLabelValues("accepted").Inc()
		w := f.get(op, "/ui/overview/live")
		wantStatus(t, w, http.StatusOK)
		if strings.Contains(w.Body.String(), "<html") || strings.Contains(w.Body.String(), "<body") {
			t.Fatal("the live fragment is a whole page")
		}
		if got := countsOf(w.Body.String())["accepted"]; got != "4" {
			t.Errorf("accepted = %q after one more, want 4", got)
		}
		if rowsOf(w.Body.String())["erp"] != rows["erp"] {
			t.Errorf("fragment erp row = %q, want %q", rowsOf(w.Body.String())["erp"], rows["erp"])
		}
	})
}

var (
	trRe   = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	tdRe   = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	tagRe  = regexp.MustCompile(`<[^>]+>`)
	dtddRe = regexp.MustCompile(`(?s)<dt>(.*?)</dt><dd>(.*?)</dd>`)
)

// rowsOf returns the body's table rows by first cell, cells joined by "|"
// with tags removed.
func rowsOf(body string) map[string]string {
	out := map[string]string{}
	for _, tr := range trRe.FindAllStringSubmatch(body, -1) {
		var cells []string
		for _, td := range tdRe.FindAllStringSubmatch(tr[1], -1) {
			cells = append(cells, strings.TrimSpace(tagRe.ReplaceAllString(td[1], "")))
		}
		if len(cells) > 0 {
			out[strings.Fields(cells[0] + " x")[0]] = strings.Join(cells, "|")
		}
	}
	return out
}

// countsOf returns the body's <dt>label</dt><dd>n</dd> pairs.
func countsOf(body string) map[string]string {
	out := map[string]string{}
	for _, m := range dtddRe.FindAllStringSubmatch(body, -1) {
		out[strings.TrimSpace(tagRe.ReplaceAllString(m[1], ""))] = strings.TrimSpace(tagRe.ReplaceAllString(m[2], ""))
	}
	return out
}

func TestConsole_Events(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Ana")
	target := f.ingest("transaction.sent", fixtures.Options{DocumentNumber: "INV-2026-0042", TransactionID: "7d1f4a52-0c37-4c8f-9a51-1f2f0f3b8e42"})
	f.clock.Advance(time.Minute)
	f.ingest("transaction.paid", fixtures.Options{DocumentNumber: "INV-2026-0099"})
	f.clock.Advance(time.Minute)
	pay := f.ingest("payment.completed", fixtures.Options{})

	for _, tt := range []struct {
		name, query string
		want        []string
	}{
		{"DocumentNumber", "q=INV-2026-0042", []string{target}},
		{"DocumentNumberPart", "q=inv-2026-00", []string{target, "INV-2026-0099"}},
		{"EventID", "q=" + target, []string{target}},
		{"Subject", "q=7d1f4a52-0c37-4c8f-9a51-1f2f0f3b8e42", []string{target}},
		{"Counterparty", "q=maju+jaya", []string{target, "INV-2026-0099"}},
		{"Type", "type=payment.*", []string{pay}},
		{"Status", "status=pending&type=transaction.sent", []string{target}},
		{"Since", "since=2026-01-15T09:01:30", []string{pay}},
		{"Until", "until=2026-01-15T09:00:30Z", []string{target}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := f.get(op, "/ui/events?"+tt.query)
			wantStatus(t, w, http.StatusOK)
			wantBody(t, w, tt.want...)
			if n := strings.Count(w.Body.String(), `<a class="doc"`); n != len(tt.want) {
				t.Errorf("%d rows, want %d:\n%s", n, len(tt.want), w.Body)
			}
		})
	}

	t.Run("NoMatch", func(t *testing.T) {
		w := f.get(op, "/ui/events?q=INV-1999-0000")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, "No event matches.", `value="INV-1999-0000"`)
	})

	t.Run("BadFilter", func(t *testing.T) {
		for query, want := range map[string]string{
			"type=%5B":             "type: &#34;[&#34; is not a valid glob",
			"since=yesterday":      "since: &#34;yesterday&#34; is not a time",
			"until=2026-13-01":     "until:",
			"status=bogus":         "status: &#34;bogus&#34; is not an event status",
			"cursor=%21%21not-b64": "cursor",
		} {
			w := f.get(op, "/ui/events?"+query)
			wantStatus(t, w, http.StatusBadRequest)
			wantBody(t, w, want)
		}
	})

	t.Run("Pagination", func(t *testing.T) {
		f := MustOpenFixture(t, testToken)
		op := f.login("Ana")
		for i := range pageSize + 5 {
			f.ingest("transaction.paid", fixtures.Options{DocumentNumber: fmt.Sprintf("INV-2026-%04d", i)})
			f.clock.Advance(time.Second)
		}
		w := f.get(op, "/ui/events?type=transaction.paid")
		wantStatus(t, w, http.StatusOK)
		if n := strings.Count(w.Body.String(), `<a class="doc"`); n != pageSize {
			t.Fatalf("first page has %d rows, want %d", n, pageSize)
		}
		wantBody(t, w, "INV-2026-0054", "Older →")
		next := regexp.MustCompile(`href="(/ui/events\?[^"]*cursor=[^"]*)">Older`).FindStringSubmatch(w.Body.String())
		if next == nil {
			t.Fatal("no link to the next page")
		}
		w = f.get(op, strings.ReplaceAll(next[1], "&amp;", "&"))
		wantStatus(t, w, http.StatusOK)
		if n := strings.Count(w.Body.String(), `<a class="doc"`); n != 5 {
			t.Fatalf("second page has %d rows, want 5", n)
		}
		wantBody(t, w, "INV-2026-0000", "← Newest", `href="/ui/events?type=transaction.paid"`)
		if strings.Contains(w.Body.String(), "Older →") {
			t.Error("the last page links to an older one")
		}
	})
}

func TestConsole_Event(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Ana")
	opts := fixtures.Options{DocumentNumber: "INV-2026-0042", TransactionID: "7d1f4a52-0c37-4c8f-9a51-1f2f0f3b8e42"}
	body, err := fixtures.Body("transaction.sent", opts)
	if err != nil {
		t.Fatal(err)
	}
	id := f.ingestBody(body)
	f.finish("ap", id, relay.Attempt{Duration: 2 * time.Second, Outcome: "transient", StatusCode: 503, Error: "http 503: maintenance"},
		relay.Transition{State: relay.StatePending, NextAt: f.clock.Now(), Reason: "http 503: maintenance"})
	f.deliver("ap", id, opts.TransactionID, map[string]string{"document_number": "AP/INV/2026/0007"})
	f.kill("erp", id)

	w := f.get(op, "/ui/events/"+id)
	wantStatus(t, w, http.StatusOK)
	wantBody(t, w,
		"<title>INV-2026-0042 · "+id,
		// The answer at the top: AccountingPlus first, with its document.
		`<p class="docnum">AP/INV/2026/0007</p>`, "Created once in AccountingPlus by this event.",
		"Not in erp.", "http 400: customer code unknown",
		// The timeline of attempts.
		"http 503: maintenance", "2000ms", "503", "201", "80ms",
		// Actions.
		`action="/ui/events/`+id+`/replay"`, `<option>erp</option>`, `<option>ap</option>`,
		`name="one" value="erp:`+id+`"`, "Redrive to erp",
		// Raw request and CloudEvent.
		"X-TagihanAI-Signature", "t=1,v1=00", `href="/ui/events/`+id+`/raw"`,
		"&#34;document_number&#34;: &#34;INV-2026-0042&#34;", "&#34;specversion&#34;",
		`href="/ui/events?q=7d1f4a52-0c37-4c8f-9a51-1f2f0f3b8e42"`,
	)
	if i, j := strings.Index(w.Body.String(), "AccountingPlus</b>"), strings.Index(w.Body.String(), "<b>erp</b>"); i < 0 || j < 0 || i > j {
		t.Error("the create-once sink does not come first in the answer")
	}

	t.Run("UnknownSettledByLookup", func(t *testing.T) {
		// The timeline says what happened: the timed-out send as unknown,
		// the look-ups as look-ups, the one that found the document as what
		// delivered it.
		slow := f.ingest("transaction.sent", fixtures.Options{DocumentNumber: "INV-2026-0043", TransactionID: "9b0c3e1a-5d2f-4e8a-b7c6-0a1b2c3d4e5f"})
		f.finish("erp", slow, relay.Attempt{Duration: 3 * time.Second, Outcome: "unknown", Error: "no answer after invoice INV-2026-0043 was sent: context deadline exceeded"},
			relay.Transition{State: relay.StatePending, NextAt: f.clock.Now(), PriorUnknown: true, PriorUnknownAt: f.clock.Now(), KeepSchedule: true})
		f.finish("erp", slow, relay.Attempt{Outcome: "recheck", StatusCode: 404, Action: "lookup", Error: "invoice INV-2026-0043 not found 15s after the attempt whose outcome is unknown began"},
			relay.Transition{State: relay.StatePending, NextAt: f.clock.Now(), PriorUnknown: true, PriorUnknownAt: f.clock.Now(), KeepSchedule: true})
		f.finish("erp", slow, relay.Attempt{Outcome: "delivered", StatusCode: 200, Action: "lookup"},
			relay.Transition{State: relay.StateDelivered, Result: map[string]string{"invoice_number": "INV-2026-0043", "found_by": "lookup"}})
		w := f.get(op, "/ui/events/"+slow)
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w,
			`<span class="badge warn">unknown</span></td>`, "context deadline exceeded",
			`<span class="badge wait">recheck</span> <small class="muted">by lookup</small>`, "not found 15s after",
			`<span class="badge ok">delivered</span> <small class="muted">by lookup</small>`,
		)
	})

	t.Run("SkippedBecauseCreated", func(t *testing.T) {
		again := f.ingest("transaction.sent", opts) // same invoice, new event
		f.finish("ap", again, relay.Attempt{Outcome: "skipped", Error: "document exists"},
			relay.Transition{State: relay.StateSkipped, Reason: "document AP/INV/2026/0007 already created"})
		w := f.get(op, "/ui/events/"+again)
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, `<p class="docnum">AP/INV/2026/0007</p>`, "Already in AccountingPlus: created by event",
			`href="/ui/events/`+id+`"`, "it is there once")
	})

	t.Run("Raw", func(t *testing.T) {
		w := f.get(op, "/ui/events/"+id+"/raw")
		wantStatus(t, w, http.StatusOK)
		if !bytes.Equal(w.Body.Bytes(), body) {
			t.Fatal("the download is not the exact body")
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("Content-Type = %q", ct)
		}
		if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="`+id+`.json"` {
			t.Errorf("Content-Disposition = %q", cd)
		}
	})

	t.Run("NotJSON", func(t *testing.T) {
		nid := f.ingestBody([]byte("not json \xff"))
		w := f.get(op, "/ui/events/"+nid)
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, "not understood", "not valid UTF-8")
	})

	t.Run("NotFound", func(t *testing.T) {
		w := f.get(op, "/ui/events/evt_nope")
		wantStatus(t, w, http.StatusNotFound)
		wantBody(t, w, "404 · Not Found")
		if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("error Content-Type = %q, want HTML", w.Header().Get("Content-Type"))
		}
	})
}

// TestConsole_Escaping stores a body that carries markup in every field a
// page shows and checks no page renders it unescaped.
func TestConsole_Escaping(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	const evil = `<script>alert(1)</script>`
	body, err := fixtures.Body("transaction.sent", fixtures.Options{DocumentNumber: "INV-2026-0666"})
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.ReplaceAll(body, []byte(`"PT Maju Jaya"`), []byte(`"PT `+evil+`"`))
	body = bytes.Replace(body, []byte(`"INV-2026-0666"`), []byte(`"INV-2026-0666`+evil+`"`), 1)
	id := f.ingestBody(body)
	f.stall("ap", id)
	f.kill("erp", id)
	op := f.login(`<img src=x onerror=alert(2)>`)
	// The operator's name lands in the history.
	wantStatus(t, f.post(op, "/ui/events/"+id+"/replay", map[string][]string{"sink": {"erp"}}), http.StatusSeeOther)

	for _, path := range []string{"/ui/events?q=INV-2026-0666", "/ui/events/" + id, "/ui/events/" + id + "/resolve?sink=ap",
		"/ui/review", "/ui/dead-letters", "/ui/", "/ui/events/" + id + "?done=resolve-delivered&to=" + evil + "&doc=" + evil} {
		w := f.get(op, path)
		wantStatus(t, w, http.StatusOK)
		b := w.Body.String()
		if strings.Contains(b, "<script>alert") || strings.Contains(b, "<img src=x") {
			t.Errorf("%s renders markup unescaped:\n%s", path, b)
		}
		checkNoInline(t, b)
	}
	w := f.get(op, "/ui/events/"+id)
	wantBody(t, w, "PT &lt;script&gt;alert(1)&lt;/script&gt;", "console:&lt;img src=x onerror=alert(2)&gt;")
}
