package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
)

// eventView is the event detail page's data.
type eventView struct {
	*relay.EventDetail
	// Where answers "is it in each sink, exactly once?", create-once sinks
	// first.
	Where      []deliveryView
	Deliveries []deliveryView
	Headers    [][2]string
	Body       string
	BodyNote   string // why the body is shown as it is (not JSON, not UTF-8)
	BodySize   int
	CloudEvent string
	// ReplaySinks are the configured sinks the event can be replayed to.
	ReplaySinks []string
	SubjectURL  string
}

// deliveryView is one sink's delivery of the event.
type deliveryView struct {
	relay.DeliveryState
	Label      string // AccountingPlus, OnlinePajak or the sink's name
	CreateOnce bool
	// Document is the document number the sink created or returned.
	Document string
	// CreatedBy is the create-once record of the subject at this sink when
	// another event created it (this one was skipped).
	CreatedBy *relay.CreatedDocument
	// ResolvedBy is the operator action that marked this delivery delivered
	// (the operator found the document), nil when the sink answered.
	ResolvedBy *relay.HistoryEntry
	// Result is what the sink returned besides the document number.
	Result [][2]string
	// Resolve is the resolve form, for a needs_review delivery.
	Resolve *resolveForm
	// RedriveValue is the redrive form's value, for a dead delivery.
	RedriveValue string
	// Request is the latest request body sent (as the sink got it),
	// RequestAt when and RequestNote whether it was cut at 16 KiB.
	Request, RequestNote string
	RequestAt            time.Time
	// Card is what settles a needs_review delivery (what to look for).
	Card *relay.ReviewCard
}

// resolveForm is the data of the resolve forms (parts.html), shown on the
// event page and on the resolve confirmation page.
type resolveForm struct {
	EventID    string
	Sink       string
	Label      string
	CreateOnce bool
	CSRF       string
	Return     string
}

// kindLabel names a sink for people: its kind's label, else its name.
func kindLabel(s Sink) string {
	if s.Label != "" {
		return s.Label
	}
	return s.Name
}

// eventID reads the path-escaped event id of the route by the rule the
// admin API shares (adminhttp.PathID).
func eventID(c echo.Context) (string, error) { return adminhttp.PathID(c, "id") }

// event is the event the path names.
func (con *Console) event(c echo.Context) (*relay.EventDetail, error) {
	id, err := eventID(c)
	if err != nil {
		return nil, err
	}
	return con.ops.GetEvent(c.Request().Context(), id)
}

// documentNumber is what a sink's result calls the document it created.
func documentNumber(result map[string]string) string {
	if d := result["document_number"]; d != "" {
		return d
	}
	return result["invoice_number"]
}

// deliveryViews builds the per-sink views of d.
func (con *Console) deliveryViews(c echo.Context, d *relay.EventDetail, ret string) []deliveryView {
	out := make([]deliveryView, 0, len(d.Deliveries))
	for _, ds := range d.Deliveries {
		s, ok := con.sink(ds.Sink)
		if !ok {
			s = Sink{Name: ds.Sink}
		}
		v := deliveryView{DeliveryState: ds, Label: kindLabel(s), CreateOnce: s.CreateOnce, Document: documentNumber(ds.Result)}
		for i := range d.Created {
			cd := &d.Created[i]
			if cd.Sink != ds.Sink {
				continue
			}
			v.CreateOnce = true // a sink that records documents creates once
			if cd.EventID == d.ID {
				if v.Document == "" {
					v.Document = cd.DocumentNumber
				}
			} else {
				v.CreatedBy = cd
			}
		}
		for k, val := range ds.Result {
			if val != v.Document || k != "document_number" && k != "invoice_number" {
				v.Result = append(v.Result, [2]string{k, val})
			}
		}
		if ds.State == relay.StateDelivered {
			for i := range d.Operations {
				if op := &d.Operations[i]; op.Sink == ds.Sink && op.Action == "resolve:delivered" {
					v.ResolvedBy = op
				}
			}
		}
		sort.Slice(v.Result, func(i, j int) bool { return v.Result[i][0] < v.Result[j][0] })
		if a := relay.LastRequest(ds.History); a != nil {
			v.Request, v.RequestNote = relay.RequestText(a)
			v.RequestAt = a.At
		}
		v.Card = relay.NewReviewCard(d, &ds, v.Label)
		switch ds.State {
		case relay.StateNeedsReview:
			v.Resolve = &resolveForm{EventID: d.ID, Sink: ds.Sink, Label: v.Label, CreateOnce: v.CreateOnce,
				CSRF: whoOf(c).csrf, Return: ret}
		case relay.StateDead:
			v.RedriveValue = ds.Sink + ":" + d.ID
		}
		out = append(out, v)
	}
	return out
}

func (con *Console) handleEvent(c echo.Context) error {
	d, err := con.event(c)
	if err != nil {
		return err
	}
	v := &eventView{EventDetail: d, BodySize: len(d.Raw.BodyBase64)}
	v.Deliveries = con.deliveryViews(c, d, eventPath(d.ID))
	v.Where = append([]deliveryView(nil), v.Deliveries...)
	sort.SliceStable(v.Where, func(i, j int) bool { return v.Where[i].CreateOnce && !v.Where[j].CreateOnce })
	for k, val := range d.Raw.Headers {
		v.Headers = append(v.Headers, [2]string{k, val})
	}
	sort.Slice(v.Headers, func(i, j int) bool { return v.Headers[i][0] < v.Headers[j][0] })
	v.Body, v.BodyNote = showBody(d.Raw.BodyBase64)
	v.CloudEvent = pretty(d.Event)
	v.ReplaySinks = con.sinkNames()
	if d.Subject != "" {
		v.SubjectURL = "/ui/events?" + url.Values{"q": {d.Subject}}.Encode()
	}
	title := d.ID
	if d.DocumentNumber != "" {
		title = d.DocumentNumber + " · " + d.ID
	}
	return con.render(c, http.StatusOK, "event", title, v)
}

// showBody returns a body as the page shows it: indented when it is JSON,
// as text otherwise, with a note saying which. The download has the exact
// bytes.
func showBody(b []byte) (string, string) {
	if len(b) == 0 {
		return "", "The body is empty."
	}
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") == nil {
		return buf.String(), ""
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD"), "The body is not valid UTF-8; invalid bytes are shown as \uFFFD. Download it for the exact bytes."
	}
	return string(b), "The body is not JSON; it is shown as received."
}

// pretty indents JSON for reading; anything else is returned as text.
func pretty(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	return buf.String()
}

// handleRawBody downloads the body exactly as TagihanAI sent it.
func (con *Console) handleRawBody(c echo.Context) error {
	d, err := con.event(c)
	if err != nil {
		return err
	}
	id := d.ID
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+fileName(id)+`.json"`)
	return c.Blob(http.StatusOK, "application/octet-stream", d.Raw.BodyBase64)
}

// fileName keeps the characters of id that are safe in a file name.
func fileName(id string) string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, id)
	if len(n) > 100 {
		n = n[:100]
	}
	if strings.Trim(n, "._") == "" {
		return "event"
	}
	return n
}

// withFlash returns the console path p with the flash parameters q.
func withFlash(p string, q url.Values) string {
	u, err := url.Parse(p)
	if err != nil {
		return p
	}
	v := u.Query()
	for _, k := range []string{"done", "n", "to", "doc"} {
		v.Del(k)
	}
	for k, vals := range q {
		v[k] = vals
	}
	u.RawQuery = v.Encode()
	return u.String()
}

func (con *Console) handleReplay(c echo.Context) error {
	id, err := eventID(c)
	if err != nil {
		return err
	}
	sink := c.FormValue("sink")
	res, err := con.ops.Replay(c.Request().Context(), id, sink, whoOf(c).operator())
	if err != nil {
		return err
	}
	done := "replay"
	if res.Queued == 0 {
		done = "replay-skipped" // the reason is in the delivery's history
	}
	return c.Redirect(http.StatusSeeOther, withFlash(eventPath(id), url.Values{"done": {done}, "to": {sink}}))
}

// resolveView is the resolve confirmation page's data.
type resolveView struct {
	Event    *relay.EventDetail
	Delivery deliveryView
}

// handleResolveForm shows one needs_review delivery with the resolve forms
// and the warning that a retry may create a second document.
func (con *Console) handleResolveForm(c echo.Context) error {
	d, err := con.event(c)
	if err != nil {
		return err
	}
	id := d.ID
	sink := c.QueryParam("sink")
	for _, v := range con.deliveryViews(c, d, localPath(c.QueryParam("return"), eventPath(id))) {
		if v.Sink == sink {
			return con.render(c, http.StatusOK, "resolve", "Resolve "+d.ID+" at "+sink, resolveView{Event: d, Delivery: v})
		}
	}
	return relay.Errorf(relay.ENOTFOUND, "event %s has no delivery to sink %q", id, sink)
}

// handleResolve settles a needs_review delivery: delivered (with the
// document number the operator found) or retry (confirmed).
func (con *Console) handleResolve(c echo.Context) error {
	id, err := eventID(c)
	if err != nil {
		return err
	}
	res := relay.Resolution{Sink: c.FormValue("sink"), Outcome: c.FormValue("outcome")}
	doc := strings.TrimSpace(c.FormValue("document_number"))
	s, _ := con.sink(res.Sink)
	switch res.Outcome {
	case "delivered":
		if doc == "" && s.CreateOnce {
			return relay.Errorf(relay.EINVALID, "document number: give the number of the document you found in %s", kindLabel(s))
		}
		if doc != "" {
			res.Result = map[string]string{"document_number": doc}
		}
	case "retry":
		if c.FormValue("confirm") != "yes" {
			return relay.Errorf(relay.EINVALID, "confirm: tick the box to confirm that a retry may create a second document")
		}
	}
	if err := con.ops.Resolve(c.Request().Context(), id, res, whoOf(c).operator()); err != nil {
		return err
	}
	q := url.Values{"done": {"resolve-" + res.Outcome}, "to": {res.Sink}}
	if doc != "" && res.Outcome == "delivered" {
		q.Set("doc", doc)
	}
	return c.Redirect(http.StatusSeeOther, withFlash(localPath(c.FormValue("return"), eventPath(id)), q))
}
