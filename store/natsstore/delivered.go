package natsstore

import "github.com/tagihan-relay/tagihan-relay/relay"

// countAttempts adds to the sinks' last-hour counts the attempts that r, a
// new revision of an event, has beyond old, the view's entry of the
// revision before (nil when the view had none: at start, every replica
// rebuilds the counts from the stored histories). Every replica applies
// every revision, so all of them count the same attempts. The history keeps
// the first 10 and the latest 40 attempts of a delivery, so after a restart
// a delivery retried more than 40 times within the hour counts only those.
// v.mu must be held.
func (v *view) countAttempts(old *eventEntry, r *record) {
	for _, d := range r.Deliveries {
		prev := 0
		if old != nil {
			for _, od := range old.dels {
				if od.sink == d.Sink {
					prev = od.attempts
				}
			}
		}
		n := min(d.Attempts-prev, len(d.History))
		if n <= 0 {
			continue
		}
		sv := v.sink(d.Sink)
		for _, a := range d.History[len(d.History)-n:] {
			if delivered, failed := relay.AttemptCounts(a.Outcome); delivered+failed > 0 {
				sv.lastHour.Add(a.At, delivered, failed)
			}
		}
	}
}
