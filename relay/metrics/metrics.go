// Package metrics defines tagihan-relay's Prometheus metrics (prefix
// tagihan_relay_) on a registry the caller owns. Nothing registers on the
// default registry.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Metrics holds every metric the relay exports.
type Metrics struct {
	Received         *prometheus.CounterVec
	IngestLatency    prometheus.Histogram
	SignatureFailure *prometheus.CounterVec
	// AuthFailures counts failed admin authentication by kind
	// (bearer, login): adminhttp.AuthFailures feeds it.
	AuthFailures     *prometheus.CounterVec
	CommitLatency    prometheus.Histogram
	CommitBatch      prometheus.Histogram
	CommitErrors     prometheus.Counter
	Deliveries       *prometheus.CounterVec
	DeliveryLatency  *prometheus.HistogramVec
	RetentionRemoved prometheus.Counter

	// Overloaded counts deliveries answered 503 overloaded because the
	// bodies in flight would pass RELAY_MAX_INFLIGHT_BYTES;
	// IngestInflightBytes is what they hold now.
	Overloaded          prometheus.Counter
	IngestInflightBytes prometheus.Gauge

	// Reconcile (SPEC 7): the gaps the last run of a source found, by
	// kind; runs by result (ok, gaps, error); when a run last succeeded.
	ReconcileGaps        *prometheus.GaugeVec
	ReconcileRuns        *prometheus.CounterVec
	ReconcileLastSuccess *prometheus.GaugeVec
}

// New creates the metrics and registers them, plus a collector that reads
// outbox depth, oldest pending age, dead letters and needs-review per sink
// from stats on each scrape, and the Go and process collectors.
func New(reg prometheus.Registerer, stats func(ctx context.Context) (relay.Stats, error)) *Metrics {
	m := &Metrics{
		Received: counterVec("tagihan_relay_received_total",
			"Webhook deliveries received, by result (accepted, duplicate, unparsed, unauthorized, too_large, bad_request, overloaded, unavailable, unknown_source) and source (\"\" for unknown_source).", "result", "source"),
		IngestLatency: histogram("tagihan_relay_ingest_duration_seconds",
			"Time from request to answer on the ingest endpoint, including the durable commit.",
			.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5),
		SignatureFailure: counterVec("tagihan_relay_signature_failures_total",
			"Deliveries refused by signature verification, by code.", "code"),
		AuthFailures: counterVec("tagihan_relay_admin_auth_failures_total",
			"Failed admin authentication: kind=bearer (a /v1/ call without the right token), kind=login (a console login with a wrong token).", "kind"),
		CommitLatency: histogram("tagihan_relay_store_commit_duration_seconds",
			"Duration of one store commit (write and fsync).",
			.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .25, 1),
		CommitBatch: histogram("tagihan_relay_store_commit_batch_size",
			"Operations sharing one store commit (group commit).",
			1, 2, 4, 8, 16, 32, 64, 128, 256),
		CommitErrors: counter("tagihan_relay_store_commit_errors_total", "Store commits that failed."),
		Deliveries: counterVec("tagihan_relay_deliveries_total",
			"Delivery attempts to sinks, by sink and outcome (delivered, transient, permanent, unknown, skipped, recheck).", "sink", "outcome"),
		DeliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tagihan_relay_delivery_duration_seconds",
			Help:    "Duration of one delivery attempt, by sink.",
			Buckets: prometheus.DefBuckets,
		}, []string{"sink"}),
		RetentionRemoved: counter("tagihan_relay_retention_removed_total", "Events removed by retention."),
		Overloaded: counter("tagihan_relay_overloaded_total",
			"Deliveries answered 503 overloaded (Retry-After: 1): their body would have passed RELAY_MAX_INFLIGHT_BYTES."),
		IngestInflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tagihan_relay_ingest_inflight_bytes",
			Help: "Bytes reserved by request bodies being read or verified now (bounded by RELAY_MAX_INFLIGHT_BYTES).",
		}),
		ReconcileGaps: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tagihan_relay_reconcile_gaps",
			Help: "Gaps the last reconcile of a source left open, by kind (undelivered_by_tagihanai, missing_document)."}, []string{"source", "kind"}),
		ReconcileRuns: counterVec("tagihan_relay_reconcile_runs_total",
			"Reconcile runs, by source and result (ok: no gap left, gaps: some left, error: the run failed).", "source", "result"),
		ReconcileLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tagihan_relay_reconcile_last_success_timestamp_seconds",
			Help: "When a reconcile of the source last completed (Unix seconds), gaps or not."}, []string{"source"}),
	}
	reg.MustRegister(m.Received, m.IngestLatency, m.SignatureFailure, m.AuthFailures, m.CommitLatency, m.CommitBatch, m.CommitErrors,
		m.Deliveries, m.DeliveryLatency, m.RetentionRemoved, m.Overloaded, m.IngestInflightBytes,
		m.ReconcileGaps, m.ReconcileRuns, m.ReconcileLastSuccess,
		&outboxCollector{stats: stats},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func histogram(name, help string, buckets ...float64) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
}

// ObserveCommit records one store commit (store.Options.OnCommit).
func (m *Metrics) ObserveCommit(ops int, d time.Duration, err error) {
	m.CommitLatency.Observe(d.Seconds())
	m.CommitBatch.Observe(float64(ops))
	if err != nil {
		m.CommitErrors.Inc()
	}
}

// ObserveDelivery records one delivery attempt (relay.DispatchObserver).
func (m *Metrics) ObserveDelivery(sink string, r relay.Result, d time.Duration) {
	m.Deliveries.WithLabelValues(sink, r.Outcome.String()).Inc()
	m.DeliveryLatency.WithLabelValues(sink).Observe(d.Seconds())
}

var (
	descDepth = prometheus.NewDesc("tagihan_relay_outbox_depth",
		"Outbox entries not yet finished, by sink and state (pending, in_flight).", []string{"sink", "state"}, nil)
	descOldest = prometheus.NewDesc("tagihan_relay_outbox_oldest_pending_age_seconds",
		"Age of the oldest pending or in-flight outbox entry, by sink.", []string{"sink"}, nil)
	descDead = prometheus.NewDesc("tagihan_relay_dead_letters",
		"Deliveries in the dead-letter list, by sink.", []string{"sink"}, nil)
	descReview = prometheus.NewDesc("tagihan_relay_needs_review",
		"Deliveries waiting for an operator (unknown outcome at a non-idempotent sink), by sink.", []string{"sink"}, nil)
	descDelivered = prometheus.NewDesc("tagihan_relay_outbox_delivered",
		"Deliveries finished as delivered, by sink (since retention).", []string{"sink"}, nil)
	descEvents = prometheus.NewDesc("tagihan_relay_events",
		"Stored events by status.", []string{"status"}, nil)
)

// outboxCollector reads the store's counters at scrape time (O(sinks)).
type outboxCollector struct {
	stats func(ctx context.Context) (relay.Stats, error)
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDepth, descOldest, descDead, descReview, descDelivered, descEvents} {
		ch <- d
	}
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	if c.stats == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		return
	}
	for sink, s := range st.Sinks {
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(s.Pending), sink, "pending")
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(s.InFlight), sink, "in_flight")
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, s.OldestPendingAge, sink)
		ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(s.Dead), sink)
		ch <- prometheus.MustNewConstMetric(descReview, prometheus.GaugeValue, float64(s.NeedsReview), sink)
		ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.GaugeValue, float64(s.Delivered), sink)
	}
	for status, n := range st.Events {
		ch <- prometheus.MustNewConstMetric(descEvents, prometheus.GaugeValue, float64(n), status)
	}
}
