package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// testLastHour: the stats count each sink's attempts of the last hour,
// delivered and failed (transient, permanent, unknown), from the store; a
// skip counts as neither, and an hour later the counts are gone.
func testLastHour(t *testing.T, open Opener) {
	h := newHarness(t, open)
	var events []*relay.NewEvent
	for i := 0; i < 6; i++ {
		events = append(events, spec{id: fmt.Sprintf("evt_%d", i), at: at(i), targets: to(erp)}.event())
	}
	events = append(events, spec{id: "evt_ap", at: at(6), targets: to(ap)}.event())
	h.ingest(events...)
	now := later.Add(10 * time.Minute)
	outcomes := map[string]struct {
		outcome, state string
		ago            time.Duration
	}{
		"evt_0": {"delivered", relay.StateDelivered, 50 * time.Minute},
		"evt_1": {"delivered", relay.StateDelivered, time.Minute},
		"evt_2": {"transient", relay.StatePending, 5 * time.Minute},
		"evt_3": {"permanent", relay.StateDead, 0},
		"evt_4": {"skipped", relay.StateSkipped, 0},
		"evt_5": {"delivered", relay.StateDelivered, 2 * time.Hour}, // outside the hour
	}
	for _, c := range h.claim(erp, now, 100) {
		o := outcomes[c.EventID]
		at := now.Add(-o.ago)
		tr := relay.Transition{State: o.state, Reason: o.outcome}
		if o.state == relay.StatePending {
			tr.NextAt = now.Add(24 * time.Hour)
		}
		h.finish(erp, c.EventID, relay.Attempt{At: at, Outcome: o.outcome, StatusCode: 500}, tr)
	}
	for _, c := range h.claim(ap, now, 100) {
		h.finish(ap, c.EventID, relay.Attempt{At: now, Outcome: "unknown"}, relay.Transition{State: relay.StateNeedsReview, Reason: "unknown"})
	}
	st := h.stats(now)
	if got := st.Sinks[erp]; got.DeliveredLastHour != 2 || got.FailedLastHour != 2 {
		t.Errorf("erp last hour: delivered %d, failed %d; want 2 and 2", got.DeliveredLastHour, got.FailedLastHour)
	}
	if got := st.Sinks[ap]; got.DeliveredLastHour != 0 || got.FailedLastHour != 1 {
		t.Errorf("ap last hour: delivered %d, failed %d; want 0 and 1", got.DeliveredLastHour, got.FailedLastHour)
	}
	if got := h.stats(now.Add(time.Hour)).Sinks[erp]; got.DeliveredLastHour != 0 || got.FailedLastHour != 0 {
		t.Errorf("erp an hour later: delivered %d, failed %d; want 0 and 0", got.DeliveredLastHour, got.FailedLastHour)
	}
}
