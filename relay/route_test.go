package relay

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		glob, typ string
		want      bool
	}{
		{"*", "transaction.paid", true},
		{"*", "webhook.test", true},
		{" * ", "party.created", true},
		{"transaction.*", "transaction.paid", true},
		{"transaction.*", "transaction.partially_paid", true},
		{"transaction.*", "transactions.paid", false},
		{"transaction.*", "payment.completed", false},
		{"transaction.*", "transaction", false},
		{"payment.completed", "payment.completed", true},
		{"payment.completed", "payment.completed.x", false},
		{"payment.completed", "Payment.Completed", false},
		{" payment.completed ", "payment.completed", true},
		{"transaction.?aid", "transaction.paid", true},
		{"transaction.?aid", "transaction.partially_paid", false},
		{"transaction.?aid", "transaction.aid", false},
		{"*.created", "party.created", true},
		{"*.created", "payment.created", true},
		{"*.created", "transaction.updated", false},
		{"transaction.[pv]*", "transaction.viewed", true},
		{"transaction.[pv]*", "transaction.sent", false},
		{"transaction.[", "transaction.[", false}, // malformed: matches nothing
		{"", "transaction.paid", false},
	}
	for _, tt := range tests {
		if got := MatchGlob(tt.glob, tt.typ); got != tt.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.glob, tt.typ, got, tt.want)
		}
	}
}

func TestValidGlob(t *testing.T) {
	tests := []struct {
		glob string
		want bool
	}{
		{"*", true},
		{"transaction.*", true},
		{"transaction.?aid", true},
		{"payment.[a-z]*", true},
		{"", false},
		{"  ", false},
		{"[", false},
		{"transaction.[", false},
		{"zzz.[", false}, // malformed after a mismatch is still malformed
		{`transaction.\`, false},
		{"[a-]", false},
	}
	for _, tt := range tests {
		if got := ValidGlob(tt.glob); got != tt.want {
			t.Errorf("ValidGlob(%q) = %v, want %v", tt.glob, got, tt.want)
		}
	}
}

func TestRoute_Matches(t *testing.T) {
	erp := Route{Sink: "erp", Events: []string{"transaction.*", "payment.completed"}}
	all := Route{Sink: "all", Events: []string{"*"}}
	tests := Route{Sink: "tests", Events: []string{"*"}, IncludeTests: true}
	none := Route{Sink: "none"}

	cases := []struct {
		name  string
		route Route
		typ   string
		test  bool
		want  bool
	}{
		{"SecondGlob", erp, "payment.completed", false, true},
		{"FirstGlob", erp, "transaction.sent", false, true},
		{"NoGlob", erp, "payment.failed", false, false},
		{"TestExcluded", all, "webhook.test", true, false},
		{"TestFlagExcluded", erp, "transaction.sent", true, false},
		{"TestIncluded", tests, "ping", true, true},
		{"IncludeTestsStillRoutesRealEvents", tests, "party.created", false, true},
		{"NoEvents", none, "transaction.sent", false, false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.route.Matches(tt.typ, tt.test); got != tt.want {
				t.Errorf("Matches(%q, %v) = %v, want %v", tt.typ, tt.test, got, tt.want)
			}
		})
	}
}

func TestMatchRoutes(t *testing.T) {
	routes := []Route{
		{Sink: "debug", Events: []string{"*"}, IncludeTests: true},
		{Sink: "erp", Events: []string{"transaction.sent"}, OrderBySubject: true},
		{Sink: "accounting", Events: []string{"transaction.*"}},
		{Sink: "payments", Events: []string{"payment.*"}},
	}
	names := func(rs []Route) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Sink)
		}
		return out
	}
	tests := []struct {
		typ  string
		test bool
		want []string
	}{
		{"transaction.sent", false, []string{"debug", "erp", "accounting"}},
		{"transaction.paid", false, []string{"debug", "accounting"}},
		{"payment.completed", false, []string{"debug", "payments"}},
		{"transaction.sent", true, []string{"debug"}},
		{"webhook.test", true, []string{"debug"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, names(MatchRoutes(routes, tt.typ, tt.test))); diff != "" {
			t.Errorf("MatchRoutes(%q, %v) (-want +got):\n%s", tt.typ, tt.test, diff)
		}
	}
	if got := MatchRoutes(nil, "x", false); got != nil {
		t.Errorf("MatchRoutes(nil) = %v", got)
	}
}

func TestRoute_Target(t *testing.T) {
	if got, want := (Route{Sink: "erp", OrderBySubject: true}).Target("trx_1"), (OutboxTarget{Sink: "erp", OrderKey: "trx_1"}); got != want {
		t.Errorf("ordered Target = %+v, want %+v", got, want)
	}
	if got, want := (Route{Sink: "erp"}).Target("trx_1"), (OutboxTarget{Sink: "erp"}); got != want {
		t.Errorf("unordered Target = %+v, want %+v", got, want)
	}
}

func TestRouteFor(t *testing.T) {
	routes := []Route{{Sink: "a"}, {Sink: "b", IncludeTests: true}}
	if r, ok := RouteFor(routes, "b"); !ok || !r.IncludeTests {
		t.Errorf("RouteFor(b) = %+v, %v", r, ok)
	}
	if _, ok := RouteFor(routes, "c"); ok {
		t.Error("RouteFor(c) found a route")
	}
}
