package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// receivedMetric is the ingest counter the overview reads, by result.
const receivedMetric = "tagihan_relay_received_total"

// ingestResults are the received-counter results in the order shown; a
// result not listed here is shown after them.
var ingestResults = []string{"accepted", "duplicate", "unparsed", "unauthorized", "too_large", "bad_request", "unavailable"}

// eventStatuses are the event statuses in the order shown.
var eventStatuses = []string{relay.StatusNeedsReview, relay.StatusDead, relay.StatusPending, relay.StatusDelivered,
	relay.StatusUnrouted, relay.StatusUnparsed}

// sinkRow is one sink's line on the overview.
type sinkRow struct {
	Sink
	relay.SinkStats
	Unconfigured bool // has records but is no longer configured
}

// count is a labelled number.
type count struct {
	Label string
	N     int64
}

// overview is the live part of the overview page.
type overview struct {
	Sinks     []sinkRow
	Events    []count
	Ingest    []count
	IngestErr string
	Updated   time.Time
}

func (con *Console) handleOverview(c echo.Context) error {
	ov, err := con.overview(c.Request().Context())
	if err != nil {
		return err
	}
	return con.render(c, http.StatusOK, "overview", "Overview", ov)
}

// handleOverviewLive renders the overview's live part alone; console.js
// swaps it in every few seconds.
func (con *Console) handleOverviewLive(c echo.Context) error {
	ov, err := con.overview(c.Request().Context())
	if err != nil {
		return err
	}
	return con.renderFragment(c, "overview", "live", ov)
}

func (con *Console) overview(ctx context.Context) (*overview, error) {
	st, err := con.ops.Stats(ctx)
	if err != nil {
		return nil, err
	}
	ov := &overview{Updated: con.now()}
	row := func(s Sink) sinkRow { return sinkRow{Sink: s, SinkStats: st.Sinks[s.Name]} }
	for _, s := range con.sinks {
		ov.Sinks = append(ov.Sinks, row(s))
	}
	var extra []string
	for name := range st.Sinks {
		if _, ok := con.sink(name); !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		r := row(Sink{Name: name})
		r.Unconfigured = true
		ov.Sinks = append(ov.Sinks, r)
	}
	for _, s := range eventStatuses {
		ov.Events = append(ov.Events, count{s, st.Events[s]})
	}
	if con.gatherer != nil {
		ov.Ingest, err = ingestCounts(con.gatherer)
		if err != nil {
			con.log.Warn("console: read ingest counts", "error", err)
			ov.IngestErr = "Ingest counts are unavailable right now."
		}
	}
	return ov, nil
}

// ingestCounts reads tagihan_relay_received_total by result from g. Every
// known result is listed, zero when it has not happened yet.
func ingestCounts(g prometheus.Gatherer) ([]count, error) {
	mfs, err := g.Gather()
	if err != nil && len(mfs) == 0 {
		return nil, fmt.Errorf("console: gather metrics: %w", err)
	}
	by := map[string]int64{}
	for _, mf := range mfs {
		if mf.GetName() != receivedMetric {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					by[l.GetValue()] += int64(m.GetCounter().GetValue())
				}
			}
		}
	}
	out := make([]count, 0, len(ingestResults)+len(by))
	for _, r := range ingestResults {
		out = append(out, count{r, by[r]})
	}
	var other []string
	for r := range by {
		if !slices.Contains(ingestResults, r) {
			other = append(other, r)
		}
	}
	sort.Strings(other)
	for _, r := range other {
		out = append(out, count{r, by[r]})
	}
	return out, nil
}
