package console

import (
	"encoding/json"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
)

// The console's HTML error page and the admin API's JSON answer give every
// error the same status: each code of relay's table, the framework's own
// statuses and an internal error. Both are the real renderers, on the
// admin handler serve builds.
func TestErrorRenderers_SameStatus(t *testing.T) {
	f := MustOpenFixture(t, "")
	type errCase struct {
		err     error
		code    string // the JSON "error"
		message string // shown on both
	}
	var cases []errCase
	for _, code := range relay.HTTPErrorCodes() {
		msg := "what went wrong <" + code + ">"
		cases = append(cases, errCase{&relay.Error{Code: code, Message: msg}, code, msg})
	}
	cases = append(cases,
		errCase{echo.NewHTTPError(http.StatusNotFound, "There is no such thing."), relay.ENOTFOUND, "There is no such thing."},
		errCase{echo.NewHTTPError(http.StatusMethodNotAllowed), relay.EMETHODNOTALLOWED, "Method Not Allowed"},
		errCase{errors.New("secret internal detail"), relay.EINTERNAL, ""},
	)
	var logs logBuffer
	con, err := New(Config{Ops: f.ops, Now: f.clock.Now, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Sinks: []Sink{{Name: "erp", Kind: "http"}}})
	if err != nil {
		t.Fatal(err)
	}
	fail := func(c echo.Context) error {
		i, err := strconv.Atoi(c.Param("i"))
		if err != nil || i >= len(cases) {
			return errors.New("bad case index")
		}
		return cases[i].err
	}
	ts := httptest.NewServer(httpapi.AdminHandler(httpapi.Admin{Ops: f.ops, Gatherer: prometheus.NewRegistry(),
		Log: slog.New(slog.NewJSONHandler(&logs, nil)), Mount: func(e *echo.Echo) {
			con.Mount(e)
			e.GET("/ui/test/fail/:i", fail, con.errorPage)
			e.GET("/test/fail/:i", fail)
		}}))
	t.Cleanup(ts.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	l := &adminListener{url: ts.URL, client: &http.Client{Transport: tr}}

	for i, tt := range cases {
		t.Run(tt.code, func(t *testing.T) {
			jres := l.send(t, http.MethodGet, "/test/fail/"+strconv.Itoa(i), nil, nil)
			hres := l.send(t, http.MethodGet, "/ui/test/fail/"+strconv.Itoa(i), nil, nil)
			jbody, hbody := jres.body, hres.body
			if jres.status != hres.status {
				t.Errorf("JSON answers %d, the console page %d", jres.status, hres.status)
			}
			if want := relay.HTTPStatus(tt.code); jres.status != want {
				t.Errorf("status %d, want %d (the table's)", jres.status, want)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(jbody), &body); err != nil || len(body) != 2 || body["error"] != tt.code {
				t.Errorf("JSON body %s, want exactly {\"error\":%q,\"message\":...}", jbody, tt.code)
			}
			if ct := hres.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("console page Content-Type %q", ct)
			}
			if !strings.Contains(hbody, "<h1>"+strconv.Itoa(hres.status)+" · ") {
				t.Errorf("console page does not show its status:\n%s", hbody)
			}
			if tt.message == "" {
				if strings.Contains(jbody, "secret internal detail") || strings.Contains(hbody, "secret internal detail") {
					t.Errorf("an internal error's text was answered:\n%s\n%s", jbody, hbody)
				}
				return
			}
			if body["message"] != tt.message {
				t.Errorf("JSON message %q, want %q", body["message"], tt.message)
			}
			// The page does not show an internal error's message (the API
			// does, for an *relay.Error of code internal): the log has it.
			if tt.code == relay.EINTERNAL {
				if !strings.Contains(hbody, "the relay&#39;s log has the details") {
					t.Errorf("console page of an internal error:\n%s", hbody)
				}
			} else if !strings.Contains(hbody, html.EscapeString(tt.message)) {
				t.Errorf("console page does not show %q:\n%s", tt.message, hbody)
			}
		})
	}
	if n := strings.Count(logs.String(), "secret internal detail"); n != 2 {
		t.Errorf("the internal error was logged %d times, want once by each renderer:\n%s", n, logs.String())
	}
}
