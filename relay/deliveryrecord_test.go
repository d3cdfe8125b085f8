package relay_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func record(state string) *relay.DeliveryRecord {
	return &relay.DeliveryRecord{DeliveryState: relay.DeliveryState{Sink: "ap", State: state, Attempts: 2}, OrderKey: "trx_1"}
}

// flags spells a Change's effects for comparison.
func flags(ch relay.Change) string {
	return fmt.Sprintf("%s>%s enqueue=%v release=%v closed=%v dead=%v undead=%v created=%v",
		ch.From, ch.To, ch.Enqueue, ch.Release, ch.Closed, ch.DeadLetter, ch.Undead, ch.Created != nil)
}

// failed checks err against the error code a case wants ("" for none)
// and reports whether it was an error (the case ends there).
func failed(t *testing.T, err error, code string) bool {
	t.Helper()
	if code != "" && relay.ErrorCode(err) != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	if code == "" && err != nil {
		t.Fatal(err)
	}
	return err != nil
}

func TestDeliveryRecord_Finish(t *testing.T) {
	cd := &relay.CreatedDocument{Sink: "ap", Subject: "trx_1", DocumentNumber: "INV-1"}
	tests := []struct {
		name      string
		tr        relay.Transition
		want      string
		wantNext  bool
		wantSched int
	}{
		{"Retry", relay.Transition{State: relay.StatePending, NextAt: t0.Add(time.Minute)},
			"in_flight>pending enqueue=false release=false closed=false dead=false undead=false created=false", true, 0},
		{"RetryKeepSchedule", relay.Transition{State: relay.StatePending, NextAt: t0, KeepSchedule: true},
			"in_flight>pending enqueue=false release=false closed=false dead=false undead=false created=false", true, 1},
		{"Delivered", relay.Transition{State: relay.StateDelivered, Result: map[string]string{"document_number": "INV-1"}, Created: cd},
			"in_flight>delivered enqueue=false release=true closed=true dead=false undead=false created=true", false, 0},
		{"Skipped", relay.Transition{State: relay.StateSkipped},
			"in_flight>skipped enqueue=false release=true closed=true dead=false undead=false created=false", false, 0},
		{"Dead", relay.Transition{State: relay.StateDead, Reason: "gave up"},
			"in_flight>dead enqueue=false release=true closed=true dead=true undead=false created=false", false, 0},
		{"NeedsReview", relay.Transition{State: relay.StateNeedsReview, Created: cd},
			"in_flight>needs_review enqueue=false release=false closed=true dead=true undead=false created=false", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(relay.StatePending)
			ch, err := r.Finish(relay.Attempt{At: t0, StatusCode: 503, Error: "boom"}, tt.tr)
			if err != nil {
				t.Fatal(err)
			}
			if got := flags(ch); got != tt.want {
				t.Errorf("change = %s\nwant     %s", got, tt.want)
			}
			if r.State != tt.tr.State || r.Attempts != 3 || r.LastStatus != 503 || r.LastError != "boom" || len(r.History) != 1 {
				t.Errorf("record = state %s attempts %d last %d %q history %d", r.State, r.Attempts, r.LastStatus, r.LastError, len(r.History))
			}
			if (r.NextAttemptAt != nil) != tt.wantNext || r.ScheduleStart != tt.wantSched || r.Reason != tt.tr.Reason || !r.UpdatedAt.Equal(t0) {
				t.Errorf("record = next %v schedule start %d reason %q updated %v", r.NextAttemptAt, r.ScheduleStart, r.Reason, r.UpdatedAt)
			}
			if tt.tr.Result != nil && r.Result["document_number"] != "INV-1" {
				t.Errorf("result = %v", r.Result)
			}
		})
	}
	t.Run("Invalid", func(t *testing.T) {
		if _, err := record(relay.StatePending).Finish(relay.Attempt{At: t0}, relay.Transition{State: "bogus"}); err == nil {
			t.Error("Finish to bogus: no error")
		}
	})
	t.Run("HistoryBounded", func(t *testing.T) {
		r := record(relay.StatePending)
		for i := range relay.MaxHistory + 20 {
			if _, err := r.Finish(relay.Attempt{At: t0, Error: fmt.Sprint(i)}, relay.Transition{State: relay.StatePending, NextAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if len(r.History) != relay.MaxHistory || r.History[0].Error != "0" || r.History[len(r.History)-1].Error != fmt.Sprint(relay.MaxHistory+19) {
			t.Errorf("history: %d entries, first %q last %q", len(r.History), r.History[0].Error, r.History[len(r.History)-1].Error)
		}
	})
}

func TestDeliveryRecord_ReopenRedriveResume(t *testing.T) {
	tests := []struct {
		name string
		from string
		want string
	}{
		{"FromNeedsReviewKeepsItsPlace", relay.StateNeedsReview, "needs_review>pending enqueue=false release=false closed=false dead=false undead=true created=false"},
		{"FromDead", relay.StateDead, "dead>pending enqueue=true release=false closed=false dead=false undead=true created=false"},
		{"FromDelivered", relay.StateDelivered, "delivered>pending enqueue=true release=false closed=false dead=false undead=false created=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(tt.from)
			r.PriorUnknown, r.Reason = true, "was"
			ch := r.Reopen(t0)
			if got := flags(ch); got != tt.want {
				t.Errorf("change = %s\nwant     %s", got, tt.want)
			}
			if r.State != relay.StatePending || r.ScheduleStart != 2 || r.PriorUnknown || r.Reason != "" || !ch.Due.Equal(t0) {
				t.Errorf("record = %s schedule start %d prior unknown %v reason %q due %v", r.State, r.ScheduleStart, r.PriorUnknown, r.Reason, ch.Due)
			}
		})
	}
	t.Run("RedriveOnlyDead", func(t *testing.T) {
		for _, state := range []string{relay.StatePending, relay.StateDelivered, relay.StateNeedsReview} {
			if _, ok := record(state).Redrive(t0); ok {
				t.Errorf("Redrive of %s: ok", state)
			}
		}
		if ch, ok := record(relay.StateDead).Redrive(t0); !ok || !ch.Enqueue {
			t.Errorf("Redrive of dead = %s, %v", flags(ch), ok)
		}
	})
	t.Run("Resume", func(t *testing.T) {
		r := record(relay.StatePending)
		r.CountInterrupted(t0)
		ch := r.Resume(t0, false, "unknown", "resumed")
		if got := flags(ch); got != "in_flight>pending enqueue=false release=false closed=false dead=false undead=false created=false" {
			t.Errorf("change = %s", got)
		}
		if r.Attempts != 3 || !r.PriorUnknown || !r.PriorUnknownAt.Equal(t0) || r.Reason != "resumed" || len(r.History) != 1 {
			t.Errorf("record = attempts %d prior unknown %v at %v reason %q", r.Attempts, r.PriorUnknown, r.PriorUnknownAt, r.Reason)
		}
		r = record(relay.StatePending)
		ch = r.Resume(t0, true, "unknown", "resumed")
		if r.State != relay.StateNeedsReview || r.LastError != "unknown" || r.Reason != "unknown" || !ch.DeadLetter || ch.Release {
			t.Errorf("review: record %s %q %q, change %s", r.State, r.LastError, r.Reason, flags(ch))
		}
	})
	t.Run("DeadUnsent", func(t *testing.T) {
		r := record(relay.StatePending)
		ch := r.DeadUnsent("unreadable", t0)
		if r.State != relay.StateDead || r.Attempts != 2 || r.LastError != "unreadable" || !ch.Release || !ch.DeadLetter {
			t.Errorf("record %s attempts %d %q, change %s", r.State, r.Attempts, r.LastError, flags(ch))
		}
	})
}

func TestDeliveryRecord_Resolve(t *testing.T) {
	found := map[string]string{"document_number": "INV-9"}
	tests := []struct {
		name    string
		r       *relay.DeliveryRecord
		subject string
		res     relay.Resolution
		code    string
		want    string
	}{
		{"BadOutcome", record(relay.StateNeedsReview), "trx_1", relay.Resolution{Sink: "ap", Outcome: "maybe"}, relay.EINVALID, ""},
		{"NoDelivery", nil, "trx_1", relay.Resolution{Sink: "ap", Outcome: "retry"}, relay.ENOTFOUND, ""},
		{"NotInReview", record(relay.StateDead), "trx_1", relay.Resolution{Sink: "ap", Outcome: "retry"}, relay.ECONFLICT, ""},
		{"Retry", record(relay.StateNeedsReview), "trx_1", relay.Resolution{Sink: "ap", Outcome: "retry"}, "",
			"needs_review>pending enqueue=false release=false closed=false dead=false undead=true created=false"},
		{"DeliveredWithDocument", record(relay.StateNeedsReview), "trx_1", relay.Resolution{Sink: "ap", Outcome: "delivered", Result: found}, "",
			"needs_review>delivered enqueue=false release=true closed=true dead=false undead=true created=true"},
		{"DeliveredNoSubject", record(relay.StateNeedsReview), "", relay.Resolution{Sink: "ap", Outcome: "delivered", Result: found}, "",
			"needs_review>delivered enqueue=false release=true closed=true dead=false undead=true created=false"},
		{"DeliveredNoDocument", record(relay.StateNeedsReview), "trx_1", relay.Resolution{Sink: "ap", Outcome: "delivered"}, "",
			"needs_review>delivered enqueue=false release=true closed=true dead=false undead=true created=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, op, err := tt.r.Resolve("evt_1", tt.subject, tt.res, t0)
			if failed(t, err, tt.code) {
				return
			}
			if got := flags(ch); got != tt.want {
				t.Errorf("change = %s\nwant     %s", got, tt.want)
			}
			if op.Action != "resolve:"+tt.res.Outcome || op.Sink != "ap" {
				t.Errorf("op = %+v", op)
			}
			if ch.Created != nil && (ch.Created.EventID != "evt_1" || ch.Created.Subject != "trx_1" || ch.Created.DocumentNumber != "INV-9") {
				t.Errorf("created = %+v", ch.Created)
			}
		})
	}
}

func TestPlanReplay(t *testing.T) {
	ev := relay.ReplayEvent{ID: "evt_1", Subject: "trx_1"}
	ap := relay.OutboxTarget{Sink: "ap", OrderKey: "trx_1"}
	cd := &relay.CreatedDocument{Sink: "ap", Subject: "trx_1", EventID: "evt_0", DocumentNumber: "INV-1"}
	delivered := record(relay.StateDelivered)
	delivered.Result = map[string]string{"document_number": "INV-2"}
	tests := []struct {
		name string
		ev   relay.ReplayEvent
		r    *relay.DeliveryRecord
		req  relay.ReplayRequest
		cd   *relay.CreatedDocument
		code string
		want string // queued/skipped, new, enqueue
	}{
		{"Unparsed", relay.ReplayEvent{ID: "evt_1", Unparsed: true}, nil, relay.ReplayRequest{Target: ap}, nil, relay.EINVALID, ""},
		{"WrongOrderKey", ev, nil, relay.ReplayRequest{Target: relay.OutboxTarget{Sink: "ap", OrderKey: "trx_2"}}, nil, relay.EINVALID, ""},
		{"StillOpen", ev, record(relay.StateNeedsReview), relay.ReplayRequest{Target: ap}, nil, relay.ECONFLICT, ""},
		{"NewDelivery", ev, nil, relay.ReplayRequest{Target: ap}, nil, "", "queued new=true enqueue=true"},
		{"Reopened", ev, record(relay.StateDead), relay.ReplayRequest{Target: ap}, nil, "", "queued new=false enqueue=true"},
		{"CreateOnceSubjectHasDocument", ev, nil, relay.ReplayRequest{Target: ap, CreateOnce: true}, cd, "", "skipped new=true enqueue=false"},
		{"CreateOnceOwnDocument", ev, delivered, relay.ReplayRequest{Target: ap, CreateOnce: true}, nil, "", "skipped new=false enqueue=false"},
		{"NotCreateOnceIgnoresDocument", ev, nil, relay.ReplayRequest{Target: ap}, cd, "", "queued new=true enqueue=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := relay.PlanReplay(tt.ev, tt.r, tt.req, tt.cd, t0)
			if failed(t, err, tt.code) {
				return
			}
			what := "queued"
			if !p.Queued {
				what = "skipped"
			}
			if got := fmt.Sprintf("%s new=%v enqueue=%v", what, p.New, p.Change.Enqueue); got != tt.want {
				t.Errorf("plan = %s, want %s", got, tt.want)
			}
			if p.Queued != (p.Result.Queued == 1) || p.Queued == (p.Result.Skipped == 1) || p.Record == nil || p.Op.Sink != "ap" {
				t.Errorf("plan = %+v", p)
			}
			if !p.Queued && (p.Record.History[len(p.Record.History)-1].Outcome != relay.OutcomeSkipped.String() || p.Op.Action != "replay:skipped") {
				t.Errorf("skipped replay not in the history: %+v, op %+v", p.Record.History, p.Op)
			}
			if p.Queued && (p.Record.State != relay.StatePending || p.Record.OrderKey != "trx_1") {
				t.Errorf("queued record = %s order key %q", p.Record.State, p.Record.OrderKey)
			}
		})
	}
}

func TestDeliveryRecord_Display(t *testing.T) {
	next := t0
	r := &relay.DeliveryRecord{DeliveryState: relay.DeliveryState{Sink: "ap", State: relay.StatePending, NextAttemptAt: &next}, Reason: "resumed"}
	if st := r.Display(false, "", ""); st.LastError != "resumed" || st.NextAttemptAt == nil || st.WaitingFor != "" {
		t.Errorf("pending: %+v", st)
	}
	if st := r.Display(true, "", ""); st.State != relay.StateInFlight || st.NextAttemptAt != nil {
		t.Errorf("claimed: %+v", st)
	}
	if st := r.Display(false, "evt_0", relay.StateNeedsReview); st.WaitingFor != "evt_0" || st.WaitingForState != relay.StateNeedsReview || st.NextAttemptAt != nil {
		t.Errorf("waiting: %+v", st)
	}
	r.State, r.Reason = relay.StateDelivered, "resolved by operator"
	if st := r.Display(false, "", ""); st.LastError != "" {
		t.Errorf("delivered shows its reason as last error: %+v", st)
	}
	if r.NextAttemptAt == nil || r.State != relay.StateDelivered {
		t.Error("Display changed the record")
	}
}
