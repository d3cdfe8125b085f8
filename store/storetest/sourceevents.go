package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// testEventsCarrySource: events keep the relay source they came in at
// (SPEC 6), listings show it and filter by it, and a filter that drops
// most rows still fills each page up to the limit.
func testEventsCarrySource(t *testing.T, open Opener) {
	const acme = "acme"
	acmeAP := relay.SourceSinkName(acme, ap)
	h := newHarness(t, open)

	// 30 events a second apart: evt_04, evt_15 (unparsed) and evt_27 came
	// in at the source acme, the rest at the environment's (by "" or by
	// name), to the sink ap there and acme/ap for acme. evt_04 and evt_05
	// share a subject.
	acmeAt := map[int]bool{4: true, 15: true, 27: true}
	var all, acmeIDs, defaultIDs []string
	source := map[string]string{}
	for i := range 30 {
		id := fmt.Sprintf("evt_%02d", i)
		var e *relay.NewEvent
		switch {
		case i == 15:
			e = unparsed(relay.SourceEventID(acme, id), at(i*1000), "not json")
			e.Source = acme
		case acmeAt[i]:
			e = spec{id: relay.SourceEventID(acme, id), subject: "trx_shared", at: at(i * 1000), targets: to(acmeAP)}.event()
			e.Source = acme
		case i == 5:
			e = spec{id: id, subject: "trx_shared", at: at(i * 1000), targets: to(ap)}.event()
		default:
			e = spec{id: id, at: at(i * 1000), targets: to(ap)}.event()
			if i%2 == 0 {
				e.Source = relay.DefaultSource
			}
		}
		h.ingest(e)
		source[e.ID] = relay.EventSource(e.Source)
		all = append(all, e.ID)
		if e.Source == acme {
			acmeIDs = append(acmeIDs, e.ID)
		} else {
			defaultIDs = append(defaultIDs, e.ID)
		}
	}
	slices.Reverse(all)
	slices.Reverse(acmeIDs)
	slices.Reverse(defaultIDs)

	t.Run("Listed", func(t *testing.T) {
		p := h.list(relay.EventFilter{Limit: 1000})
		if diff := cmp.Diff(all, summaryIDs(p)); diff != "" {
			t.Fatalf("ids (-want +got):\n%s", diff)
		}
		for _, e := range p.Events {
			if e.Source != source[e.ID] {
				t.Errorf("%s: source %q, want %q", e.ID, e.Source, source[e.ID])
			}
		}
		for id, want := range map[string]string{"acme:evt_27": acme, "acme:evt_15": acme, "evt_28": relay.DefaultSource, "evt_29": relay.DefaultSource} {
			if got := h.get(id).Source; got != want {
				t.Errorf("GetEvent(%s).Source = %q, want %q", id, got, want)
			}
		}
	})

	t.Run("Filter", func(t *testing.T) {
		tests := []struct {
			name      string
			filter    relay.EventFilter
			want      []string
			wantSizes []int
		}{
			{"Acme", relay.EventFilter{Source: acme, Limit: 2}, acmeIDs, []int{2, 1}},
			{"Default", relay.EventFilter{Source: relay.DefaultSource, Limit: 10}, defaultIDs, []int{10, 10, 7}},
			{"AcmeOneByOne", relay.EventFilter{Source: acme, Limit: 1}, acmeIDs, []int{1, 1, 1}},
			{"Unknown", relay.EventFilter{Source: "nobody", Limit: 2}, []string{}, []int{0}},
			{"AcmeSubject", relay.EventFilter{Source: acme, Subject: "trx_shared"}, []string{"acme:evt_27", "acme:evt_04"}, []int{2}},
			{"DefaultSubject", relay.EventFilter{Source: relay.DefaultSource, Subject: "trx_shared"}, []string{"evt_05"}, []int{1}},
			{"AcmeQ", relay.EventFilter{Source: acme, Q: "trx_shared", Limit: 1}, []string{"acme:evt_27", "acme:evt_04"}, []int{1, 1}},
			{"DefaultQOfAcme", relay.EventFilter{Source: relay.DefaultSource, Q: "acme:evt_27"}, []string{}, []int{0}},
			{"AcmeUnparsed", relay.EventFilter{Source: acme, Status: relay.StatusUnparsed}, []string{"acme:evt_15"}, []int{1}},
			{"AcmeSince", relay.EventFilter{Source: acme, Since: at(5000), Limit: 1}, []string{"acme:evt_27", "acme:evt_15"}, []int{1, 1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, sizes := h.listAll(tt.filter)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantSizes, sizes); diff != "" {
					t.Errorf("page sizes (-want +got):\n%s", diff)
				}
			})
		}
	})

	// Every delivery dies, at a time that follows its event's number, so
	// the two sources' dead letters interleave.
	deadAt := func(id string) time.Time {
		var n int
		if _, err := fmt.Sscanf(id[len(id)-2:], "%d", &n); err != nil {
			t.Fatalf("fixture id %s: %v", id, err)
		}
		return later.Add(time.Duration(n) * time.Second)
	}
	for _, sink := range []string{ap, acmeAP} {
		for _, c := range h.claim(sink, later, 1000) {
			now := deadAt(c.EventID)
			h.finish(sink, c.EventID, attempt(relay.StateDead, now), transition(relay.StateDead, now))
		}
	}
	listDead := func(f relay.DeadLetterFilter) (letters []relay.DeadLetter, sizes []int) {
		t.Helper()
		for range 100 {
			p, err := h.s.ListDeadLetters(h.ctx, f)
			if err != nil {
				t.Fatalf("ListDeadLetters(%+v): %v", f, err)
			}
			letters = append(letters, p.DeadLetters...)
			sizes = append(sizes, len(p.DeadLetters))
			if p.NextCursor == "" {
				return letters, sizes
			}
			f.Cursor = p.NextCursor
		}
		t.Fatal("ListDeadLetters: more than 100 pages")
		return nil, nil
	}
	letterIDs := func(dl []relay.DeadLetter) []string {
		out := []string{}
		for _, d := range dl {
			out = append(out, d.EventID)
		}
		return out
	}

	t.Run("DeadLetters", func(t *testing.T) {
		got, _ := listDead(relay.DeadLetterFilter{})
		if len(got) != 29 {
			t.Fatalf("%d dead letters, want 29 (every routed event)", len(got))
		}
		for _, d := range got {
			wantSink := ap
			if source[d.EventID] == acme {
				wantSink = acmeAP
			}
			if d.Source != source[d.EventID] || d.Sink != wantSink {
				t.Errorf("%s: sink %q, source %q; want %q, %q", d.EventID, d.Sink, d.Source, wantSink, source[d.EventID])
			}
		}
		tests := []struct {
			name      string
			filter    relay.DeadLetterFilter
			want      []string
			wantSizes []int
		}{
			{"Acme", relay.DeadLetterFilter{Source: acme, Limit: 1}, []string{"acme:evt_27", "acme:evt_04"}, []int{1, 1}},
			{"AcmeAndSink", relay.DeadLetterFilter{Source: acme, Sink: acmeAP}, []string{"acme:evt_27", "acme:evt_04"}, []int{2}},
			{"AcmeOtherSink", relay.DeadLetterFilter{Source: acme, Sink: ap}, []string{}, []int{0}},
			{"Default", relay.DeadLetterFilter{Source: relay.DefaultSource, Limit: 10}, defaultIDs, []int{10, 10, 7}},
			{"Unknown", relay.DeadLetterFilter{Source: "nobody"}, []string{}, []int{0}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dl, sizes := listDead(tt.filter)
				if diff := cmp.Diff(tt.want, letterIDs(dl)); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantSizes, sizes); diff != "" {
					t.Errorf("page sizes (-want +got):\n%s", diff)
				}
				for _, d := range dl {
					if tt.filter.Source != "" && d.Source != tt.filter.Source {
						t.Errorf("%s: source %q under the filter %q", d.EventID, d.Source, tt.filter.Source)
					}
				}
			})
		}
	})
}
