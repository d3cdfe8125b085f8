package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates under templates/ that are whole pages; each
// is parsed together with layout.html and parts.html.
var pageNames = []string{"login", "error", "overview", "events", "event", "resolve", "deadletters", "review", "sources", "source"}

// pages holds the parsed templates and the embedded assets.
type pages struct {
	t      map[string]*template.Template
	assets map[string]asset
}

// asset is one embedded static file.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

func parsePages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}, assets: map[string]asset{}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console: read assets: %w", err)
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("console: read asset %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		ctype := "application/octet-stream"
		switch path.Ext(e.Name()) {
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		p.assets[e.Name()] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	funcs := template.FuncMap{
		"asset": func(name string) string {
			// The version busts browser caches when a new binary ships.
			return "/ui/static/" + name + "?v=" + strings.Trim(p.assets[name].etag, `"`)
		},
		"ts":          formatTime,
		"dur":         formatDuration,
		"age":         formatAge,
		"stateTone":   stateTone,
		"outcomeTone": outcomeTone,
		"add1":        func(i int) int { return i + 1 },
		"eventPath":   eventPath,
		"pretty":      pretty,
		"join":        strings.Join,
	}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

// view is what every page template gets: the page's own data in Data.
type view struct {
	Title    string
	Nav      string // the active navigation entry
	Operator string
	CSRF     string
	// Session is set when the operator is logged in (logout is shown).
	Session bool
	// Open is set when no token is configured (no login).
	Open  bool
	Flash string
	Data  any
}

// render writes page name with data. It renders into a buffer first, so a
// template error becomes an error page rather than half a page.
func (con *Console) render(c echo.Context, status int, name, title string, data any) error {
	w := whoOf(c)
	v := view{Title: title, Nav: name, Operator: w.name, CSRF: w.csrf, Session: w.session, Open: con.token == "",
		Flash: flash(c.QueryParams()), Data: data}
	var buf bytes.Buffer
	if err := con.pages.t[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// renderFragment writes one named template of page name without the layout
// (the overview's live part).
func (con *Console) renderFragment(c echo.Context, page, block string, data any) error {
	var buf bytes.Buffer
	if err := con.pages.t[page].ExecuteTemplate(&buf, block, data); err != nil {
		return fmt.Errorf("console: render %s/%s: %w", page, block, err)
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

// errorView is the error page's data.
type errorView struct {
	Status  int
	Text    string
	Message string
	Login   bool // offer the login link
}

func (con *Console) renderError(c echo.Context, status int, msg string) error {
	return con.render(c, status, "error", http.StatusText(status), errorView{
		Status: status, Text: http.StatusText(status), Message: msg,
		Login: status == http.StatusUnauthorized && con.token != "",
	})
}

// handleStatic serves an embedded asset, cacheable (its URL carries its
// hash).
func (con *Console) handleStatic(c echo.Context) error {
	a, ok := con.pages.assets[c.Param("name")]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such file.")
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", a.etag)
	h.Set(echo.HeaderContentType, a.ctype)
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(a.body))
	return nil
}

// flash is the confirmation a page shows after an action redirected to it
// (post/redirect/get). It is built from known codes only.
func flash(q url.Values) string {
	sink := q.Get("to")
	switch q.Get("done") {
	case "replay":
		return "Replay to " + sink + " queued."
	case "replay-skipped":
		return "Replay to " + sink + " skipped: the document is already there, so nothing was sent (see the delivery's history)."
	case "resolve-delivered":
		if doc := q.Get("doc"); doc != "" {
			return "Marked delivered to " + sink + " with document " + doc + "."
		}
		return "Marked delivered to " + sink + "."
	case "resolve-retry":
		return "Delivery to " + sink + " will be retried now."
	case "redrive":
		n := q.Get("n")
		if n == "1" {
			return "1 dead delivery redriven."
		}
		return n + " dead deliveries redriven."
	}
	return ""
}

// eventPath is the console path of an event.
func eventPath(id string) string { return "/ui/events/" + url.PathEscape(id) }

// formatTime shows a time in UTC to the second; "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// formatDuration shows an attempt's duration.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

// formatAge shows an age in seconds as "3m 12s"; "" for none.
func formatAge(seconds float64) string {
	if seconds <= 0 {
		return ""
	}
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// stateTone is the badge colour of a delivery state or event status.
func stateTone(state string) string {
	switch state {
	case relay.StateDelivered:
		return "ok"
	case relay.StateDead:
		return "bad"
	case relay.StateNeedsReview:
		return "warn"
	case relay.StatePending, relay.StateInFlight:
		return "wait"
	default: // skipped, unrouted, unparsed
		return "muted"
	}
}

// outcomeTone is the badge colour of an attempt's outcome.
func outcomeTone(outcome string) string {
	switch outcome {
	case "delivered":
		return "ok"
	case "permanent":
		return "bad"
	case "unknown":
		return "warn"
	case "transient", "recheck":
		return "wait"
	default:
		return "muted"
	}
}
