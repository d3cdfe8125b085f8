package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// subjectQueue drives ordered deliveries of one subject at sink "ap".
type subjectQueue struct {
	tb  testing.TB
	s   *Store
	ctx context.Context
	now time.Time
}

func (q *subjectQueue) ingest(id string, at time.Time) {
	q.tb.Helper()
	e := storetest.NewEvent(id, at, relay.OutboxTarget{Sink: "ap", OrderKey: "trx_A"})
	e.Subject = "trx_A"
	if _, err := q.s.Ingest(q.ctx, e); err != nil {
		q.tb.Fatal(err)
	}
}

// claim claims what is due and requires exactly want (none when "").
func (q *subjectQueue) claim(want string) {
	q.tb.Helper()
	claims, _, err := q.s.ClaimDue(q.ctx, "ap", q.now, 10)
	got := ""
	for _, c := range claims {
		got += " " + c.EventID
	}
	if err != nil || got != strings.TrimRight(" "+want, " ") {
		q.tb.Fatalf("ClaimDue = [%s], %v; want [%s]", got, err, want)
	}
}

func (q *subjectQueue) deliver(id string) {
	q.tb.Helper()
	err := q.s.Finish(q.ctx, "ap", id, relay.Attempt{At: q.now, Outcome: "delivered", StatusCode: 200}, relay.Transition{State: relay.StateDelivered})
	if err != nil {
		q.tb.Fatal(err)
	}
}

// TestOpen_MigratesSubjectQueues: a database from before the subject
// queues (no heads and waiting buckets) gets them at open, rebuilt from the
// event records, and ordering carries on where it was.
func TestOpen_MigratesSubjectQueues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := &subjectQueue{tb: t, s: s, ctx: context.Background(), now: t0.Add(time.Hour)}
	q.ingest("evt_0", t0)
	q.claim("evt_0")
	q.deliver("evt_0")
	for i, id := range []string{"evt_1", "evt_2", "evt_3"} {
		q.ingest(id, t0.Add(time.Duration(i+1)*time.Millisecond))
	}
	q.claim("evt_1")
	err = s.db.Update(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bktOutbox).Bucket([]byte("ap"))
		for _, sub := range [][]byte{subHeads, subWaiting} {
			if err := sb.DeleteBucket(sub); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if q.s, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.s.Close() })
	d, err := q.s.GetEvent(q.ctx, "evt_3")
	if err != nil {
		t.Fatal(err)
	}
	if ds := d.Deliveries[0]; ds.WaitingFor != "evt_1" || ds.WaitingForState != relay.StateInFlight {
		t.Errorf("evt_3 waits for %q (%s), want evt_1 in_flight", ds.WaitingFor, ds.WaitingForState)
	}
	q.ingest("evt_4", t0.Add(10*time.Millisecond))
	q.claim("")
	for _, id := range []string{"evt_1", "evt_2", "evt_3"} {
		q.deliver(id)
		q.claim(map[string]string{"evt_1": "evt_2", "evt_2": "evt_3", "evt_3": "evt_4"}[id])
	}
}

// BenchmarkOrderedIngest measures one ordered event's life at a subject
// with 100 and with 10,000 delivered events before it: ingested while the
// head is in flight (it waits), released when the head is delivered,
// claimed and delivered. SPEC 3: the cost does not grow with the subject's
// history, so the ratio metric (10,000 over 100) stays near 1. fsync is
// off: it would hide what the placement costs.
func BenchmarkOrderedIngest(b *testing.B) {
	setup := func(prior int) *subjectQueue {
		s, err := Open(filepath.Join(b.TempDir(), "relay.db"), Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		q := &subjectQueue{tb: b, s: s, ctx: context.Background(), now: t0.Add(time.Hour)}
		for i := range prior {
			id := fmt.Sprintf("old_%05d", i)
			q.ingest(id, t0.Add(time.Duration(i)*time.Microsecond))
			q.claim(id)
			q.deliver(id)
		}
		// A head in flight, for the first event measured to wait behind.
		q.ingest("head_0", t0.Add(time.Duration(prior)*time.Microsecond))
		q.claim("head_0")
		return q
	}
	queues := map[int]*subjectQueue{100: setup(100), 10000: setup(10000)}
	spent := map[int]time.Duration{}
	b.ResetTimer()
	for i := range b.N {
		for prior, q := range queues {
			start := time.Now()
			id := fmt.Sprintf("head_%d", i+1)
			q.ingest(id, t0.Add(time.Duration(prior+i+1)*time.Microsecond))
			q.deliver(fmt.Sprintf("head_%d", i))
			q.claim(id)
			spent[prior] += time.Since(start)
		}
	}
	b.StopTimer()
	per := func(prior int) float64 { return float64(spent[prior].Nanoseconds()) / float64(b.N) }
	b.ReportMetric(per(100), "ns/event@100")
	b.ReportMetric(per(10000), "ns/event@10000")
	b.ReportMetric(per(10000)/per(100), "ratio")
}
