package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestMetrics_OutboxFromStats(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, func(context.Context) (relay.Stats, error) {
		return relay.Stats{
			Events: map[string]int64{"delivered": 7, "dead": 1},
			Sinks:  map[string]relay.SinkStats{"erp": {Pending: 3, InFlight: 1, Dead: 2, NeedsReview: 1, Delivered: 9, OldestPendingAge: 42}},
		}, nil
	})
	m.Received.WithLabelValues("accepted", "default").Add(5)
	m.ObserveDelivery("erp", relay.Delivered(200, nil), 30*time.Millisecond)
	m.ObserveDelivery("erp", relay.Transient(503, 0, "down"), time.Second)
	m.ObserveCommit(12, 2*time.Millisecond, nil)
	m.ObserveCommit(1, time.Millisecond, errors.New("disk full"))

	want := `
# HELP tagihan_relay_outbox_depth Outbox entries not yet finished, by sink and state (pending, in_flight).
# TYPE tagihan_relay_outbox_depth gauge
tagihan_relay_outbox_depth{sink="erp",state="in_flight"} 1
tagihan_relay_outbox_depth{sink="erp",state="pending"} 3
# HELP tagihan_relay_outbox_oldest_pending_age_seconds Age of the oldest pending or in-flight outbox entry, by sink.
# TYPE tagihan_relay_outbox_oldest_pending_age_seconds gauge
tagihan_relay_outbox_oldest_pending_age_seconds{sink="erp"} 42
# HELP tagihan_relay_dead_letters Deliveries in the dead-letter list, by sink.
# TYPE tagihan_relay_dead_letters gauge
tagihan_relay_dead_letters{sink="erp"} 2
# HELP tagihan_relay_needs_review Deliveries waiting for an operator (unknown outcome at a non-idempotent sink), by sink.
# TYPE tagihan_relay_needs_review gauge
tagihan_relay_needs_review{sink="erp"} 1
# HELP tagihan_relay_deliveries_total Delivery attempts to sinks, by sink and outcome (delivered, transient, permanent, unknown, skipped, recheck).
# TYPE tagihan_relay_deliveries_total counter
tagihan_relay_deliveries_total{outcome="delivered",sink="erp"} 1
tagihan_relay_deliveries_total{outcome="transient",sink="erp"} 1
# HELP tagihan_relay_received_total Webhook deliveries received, by result (accepted, duplicate, unparsed, unauthorized, too_large, bad_request, overloaded, unavailable, unknown_source) and source ("" for unknown_source).
# TYPE tagihan_relay_received_total counter
tagihan_relay_received_total{result="accepted",source="default"} 5
# HELP tagihan_relay_store_commit_errors_total Store commits that failed.
# TYPE tagihan_relay_store_commit_errors_total counter
tagihan_relay_store_commit_errors_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"tagihan_relay_outbox_depth", "tagihan_relay_outbox_oldest_pending_age_seconds", "tagihan_relay_dead_letters",
		"tagihan_relay_needs_review", "tagihan_relay_deliveries_total", "tagihan_relay_received_total", "tagihan_relay_store_commit_errors_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.CommitBatch); n != 1 {
		t.Fatalf("commit batch histogram series: %d", n)
	}
}

func TestMetrics_StatsErrorExportsNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, func(context.Context) (relay.Stats, error) { return relay.Stats{}, errors.New("store closed") })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "tagihan_relay_outbox") {
			t.Fatalf("%s exported although stats failed", mf.GetName())
		}
	}
}
