package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// pageSize is how many rows a list page shows.
const pageSize = 50

// eventsForm is the search form as the operator filled it in.
type eventsForm struct {
	Q      string
	Type   string
	Status string
	// Source is a source name (SPEC 6), "default" for the environment's.
	Source string
	Since  string
	Until  string
}

// eventsPage is the events list's data.
type eventsPage struct {
	Form     eventsForm
	Statuses []string
	Events   []relay.EventSummary
	// Error explains a filter that could not be used (the list is empty).
	Error    string
	NextURL  string
	FirstURL string // set when this is not the first page
}

// timeLayouts are what the since/until boxes accept: RFC 3339, or a
// datetime-local value, which is read as UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// parseFormTime reads a since/until box; "" is the zero time.
func parseFormTime(field, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, relay.Errorf(relay.EINVALID, "%s: %q is not a time like 2026-01-31T14:00 (UTC)", field, v)
}

// boxTime formats t for a datetime-local box; "" for the zero time.
func boxTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

// filter turns the form into the store's filter, or an EINVALID error
// naming the field.
func (f eventsForm) filter(cursor string) (relay.EventFilter, error) {
	ef := relay.EventFilter{Q: f.Q, Type: f.Type, Status: f.Status, Source: f.Source, Limit: pageSize, Cursor: cursor}
	var err error
	if err := relay.CheckSourceFilter(f.Source); err != nil {
		return ef, relay.Errorf(relay.EINVALID, "source: %q is not a source name", f.Source)
	}
	if f.Type != "" && !relay.ValidGlob(f.Type) {
		return ef, relay.Errorf(relay.EINVALID, "type: %q is not a valid glob (for example transaction.*)", f.Type)
	}
	if f.Status != "" && !slices.Contains(eventStatuses, f.Status) {
		return ef, relay.Errorf(relay.EINVALID, "status: %q is not an event status", f.Status)
	}
	if ef.Since, err = parseFormTime("since", f.Since); err != nil {
		return ef, err
	}
	if ef.Until, err = parseFormTime("until", f.Until); err != nil {
		return ef, err
	}
	return ef, nil
}

// query is the form as URL parameters (empty ones left out).
func (f eventsForm) query() url.Values {
	q := url.Values{}
	for _, kv := range [][2]string{{"q", f.Q}, {"type", f.Type}, {"status", f.Status}, {"source", f.Source}, {"since", f.Since}, {"until", f.Until}} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

func (con *Console) handleEvents(c echo.Context) error {
	form := eventsForm{
		Q:      strings.TrimSpace(c.QueryParam("q")),
		Type:   strings.TrimSpace(c.QueryParam("type")),
		Status: c.QueryParam("status"),
		Source: strings.TrimSpace(c.QueryParam("source")),
		Since:  strings.TrimSpace(c.QueryParam("since")),
		Until:  strings.TrimSpace(c.QueryParam("until")),
	}
	cursor := c.QueryParam("cursor")
	data := eventsPage{Form: form, Statuses: eventStatuses}
	f, err := form.filter(cursor)
	if err == nil {
		// Show the times as the datetime-local boxes expect them.
		form.Since, form.Until = boxTime(f.Since), boxTime(f.Until)
		data.Form = form
		var page relay.EventPage
		page, err = con.ops.ListEvents(c.Request().Context(), f)
		data.Events = page.Events
		if page.NextCursor != "" {
			q := form.query()
			q.Set("cursor", page.NextCursor)
			data.NextURL = "/ui/events?" + q.Encode()
		}
	}
	if relay.ErrorCode(err) == relay.EINVALID {
		// Keep the form so the operator can fix it.
		data.Error = relay.ErrorMessage(err)
		return con.render(c, http.StatusBadRequest, "events", "Events", data)
	}
	if err != nil {
		return err
	}
	if cursor != "" {
		data.FirstURL = "/ui/events?" + form.query().Encode()
	}
	return con.render(c, http.StatusOK, "events", "Events", data)
}
