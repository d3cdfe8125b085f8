package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// deadLettersPage is the data of the dead letters and needs-review pages.
type deadLettersPage struct {
	Sink  string
	Type  string
	Sinks []string
	Rows  []deadLetterRow
	// Error explains a filter that could not be used.
	Error    string
	NextURL  string
	FirstURL string
	// Return is this page's path with its filters, for the forms.
	Return string
}

// deadLetterRow is one listed delivery.
type deadLetterRow struct {
	relay.DeadLetter
	// Value identifies the row in the redrive form: "sink:event id" (sink
	// names cannot contain ':').
	Value      string
	ResolveURL string
	// Document and Counterparty say which invoice it is.
	Document     string
	Counterparty string
}

// listDeadLetters serves the list of state (dead or needs_review) at path.
func (con *Console) listDeadLetters(c echo.Context, state, path, page, title string) error {
	data := deadLettersPage{
		Sink:  strings.TrimSpace(c.QueryParam("sink")),
		Type:  strings.TrimSpace(c.QueryParam("type")),
		Sinks: con.sinkNames(),
	}
	filters := url.Values{}
	if data.Sink != "" {
		filters.Set("sink", data.Sink)
	}
	if data.Type != "" {
		filters.Set("type", data.Type)
	}
	data.Return = path
	if len(filters) > 0 {
		data.Return += "?" + filters.Encode()
	}
	if data.Type != "" && !relay.ValidGlob(data.Type) {
		data.Error = "type: " + strconv.Quote(data.Type) + " is not a valid glob (for example transaction.*)"
		return con.render(c, http.StatusBadRequest, page, title, data)
	}
	cursor := c.QueryParam("cursor")
	p, err := con.ops.ListDeadLetters(c.Request().Context(), relay.DeadLetterFilter{
		Sink: data.Sink, Type: data.Type, State: state, Limit: pageSize, Cursor: cursor,
	})
	if relay.ErrorCode(err) == relay.EINVALID {
		data.Error = relay.ErrorMessage(err)
		return con.render(c, http.StatusBadRequest, page, title, data)
	}
	if err != nil {
		return err
	}
	known := con.summaries(c.Request().Context(), p.DeadLetters)
	for _, dl := range p.DeadLetters {
		row := deadLetterRow{DeadLetter: dl, Value: dl.Sink + ":" + dl.EventID}
		if ev, ok := known[dl.EventID]; ok {
			row.Document, row.Counterparty = ev.DocumentNumber, ev.Counterparty
		}
		if dl.State == relay.StateNeedsReview {
			row.ResolveURL = eventPath(dl.EventID) + "/resolve?" + url.Values{"sink": {dl.Sink}, "return": {data.Return}}.Encode()
		}
		data.Rows = append(data.Rows, row)
	}
	if p.NextCursor != "" {
		q := url.Values{"cursor": {p.NextCursor}}
		for k, v := range filters {
			q[k] = v
		}
		data.NextURL = path + "?" + q.Encode()
	}
	if cursor != "" {
		data.FirstURL = data.Return
	}
	return con.render(c, http.StatusOK, page, title, data)
}

// summaries looks up the listed events' summaries (document number and
// customer), one indexed search by event id each; a failed lookup only
// leaves its row without them.
func (con *Console) summaries(ctx context.Context, dls []relay.DeadLetter) map[string]relay.EventSummary {
	out := make(map[string]relay.EventSummary, len(dls))
	for _, dl := range dls {
		if _, ok := out[dl.EventID]; ok {
			continue
		}
		page, err := con.ops.ListEvents(ctx, relay.EventFilter{Q: dl.EventID, Limit: 1})
		if err != nil {
			continue
		}
		for _, ev := range page.Events {
			if ev.ID == dl.EventID {
				out[ev.ID] = ev
			}
		}
	}
	return out
}

func (con *Console) handleDeadLetters(c echo.Context) error {
	return con.listDeadLetters(c, relay.StateDead, "/ui/dead-letters", "deadletters", "Dead letters")
}

func (con *Console) handleReview(c echo.Context) error {
	return con.listDeadLetters(c, relay.StateNeedsReview, "/ui/review", "review", "Needs review")
}

// handleRedrive moves the chosen dead deliveries back to pending: the row
// whose button was pressed ("one"), else every ticked row ("sel"). Rows are
// grouped by sink, one Operations.Redrive per sink, so only the chosen
// sink's delivery of an event is redriven.
func (con *Console) handleRedrive(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return relay.Errorf(relay.EINVALID, "form: %v", err)
	}
	chosen := form["sel"]
	if one := form.Get("one"); one != "" {
		chosen = []string{one}
	}
	if len(chosen) == 0 {
		return relay.Errorf(relay.EINVALID, "redrive: tick at least one dead letter")
	}
	bySink := map[string][]string{}
	var sinks []string
	for _, v := range chosen {
		sink, id, ok := strings.Cut(v, ":")
		if !ok || sink == "" || id == "" {
			return relay.Errorf(relay.EINVALID, "redrive: %q is not a sink:event pair", v)
		}
		if !slices.Contains(sinks, sink) {
			sinks = append(sinks, sink)
		}
		if !slices.Contains(bySink[sink], id) {
			bySink[sink] = append(bySink[sink], id)
		}
	}
	total := 0
	for _, sink := range sinks {
		n, err := con.ops.Redrive(c.Request().Context(), relay.Redrive{IDs: bySink[sink], Sink: sink}, whoOf(c).operator())
		total += n
		if err != nil {
			return err
		}
	}
	ret := localPath(form.Get("return"), "/ui/dead-letters")
	return c.Redirect(http.StatusSeeOther, withFlash(ret, url.Values{"done": {"redrive"}, "n": {strconv.Itoa(total)}}))
}
