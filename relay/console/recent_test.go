package console

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tagihan-relay/tagihan-relay/internal/testkit"
	"github.com/tagihan-relay/tagihan-relay/relay"
)

func TestRecent(t *testing.T) {
	c := testkit.NewClock(time.Date(2026, 1, 15, 9, 0, 30, 0, time.UTC))
	r := NewRecent()
	r.now = c.Now
	r.Observe("ap", relay.Delivered(201, nil), time.Second)
	r.Observe("ap", relay.Transient(503, 0, "busy"), time.Second)
	r.Observe("ap", relay.Skipped("not an invoice"), 0) // neither
	c.Advance(30 * time.Minute)
	r.Observe("ap", relay.Delivered(201, nil), time.Second)
	r.Observe("erp", relay.Permanent(400, "no"), time.Second)
	r.Observe("erp", relay.Unknown("timeout"), time.Second)
	if diff := cmp.Diff(map[string]RecentCounts{"ap": {Delivered: 2, Failed: 1}, "erp": {Failed: 2}}, r.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	// 60 minutes after the first attempts they leave the window.
	c.Advance(30 * time.Minute)
	if diff := cmp.Diff(map[string]RecentCounts{"ap": {Delivered: 1}, "erp": {Failed: 2}}, r.Counts()); diff != "" {
		t.Errorf("counts an hour later (-want +got):\n%s", diff)
	}
	// A bucket reused an hour later starts from zero.
	r.Observe("ap", relay.Delivered(201, nil), time.Second)
	if got := r.Counts()["ap"]; got != (RecentCounts{Delivered: 2}) {
		t.Errorf("ap = %+v, want 2 delivered", got)
	}
	c.Advance(2 * time.Hour)
	if diff := cmp.Diff(map[string]RecentCounts{"ap": {}, "erp": {}}, r.Counts()); diff != "" {
		t.Errorf("counts hours later (-want +got):\n%s", diff)
	}
}

func TestIngestCounts(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: receivedMetric, Help: "h"}, []string{"result"})
		other := prometheus.NewCounter(prometheus.CounterOpts{Name: "tagihan_relay_other_total", Help: "h"})
		reg.MustRegister(v, other)
		v.WithLabelValues("accepted").Add(7)
		v.WithLabelValues("duplicate").Add(2)
		v.WithLabelValues("zzz_new").Add(1)
		other.Add(100)
		got, err := ingestCounts(reg)
		if err != nil {
			t.Fatal(err)
		}
		want := []count{{"accepted", 7}, {"duplicate", 2}, {"unparsed", 0}, {"unauthorized", 0}, {"too_large", 0},
			{"bad_request", 0}, {"unavailable", 0}, {"zzz_new", 1}}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(count{})); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
	})
	t.Run("GatherFails", func(t *testing.T) {
		_, err := ingestCounts(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return nil, errors.New("boom") }))
		if err == nil {
			t.Fatal("no error")
		}
	})
}
