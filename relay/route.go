package relay

import (
	"path"
	"strings"
)

// Route says which TagihanAI event types a sink wants. Events holds globs
// (path.Match syntax: "transaction.*", "payment.completed", "*").
type Route struct {
	Sink         string
	Events       []string
	IncludeTests bool
	// OrderBySubject makes the sink's deliveries of one subject go one at a
	// time, in order (SINK_<NAME>_ORDERING=subject).
	OrderBySubject bool
	// CreateOnce marks a sink that creates one document per subject
	// (AccountingPlus, OnlinePajak): a replay to it is skipped when the
	// subject already has a document there.
	CreateOnce bool
}

// Matches reports whether the route wants an event of eventType (test
// events only when IncludeTests).
func (r Route) Matches(eventType string, test bool) bool {
	if test && !r.IncludeTests {
		return false
	}
	for _, g := range r.Events {
		if MatchGlob(g, eventType) {
			return true
		}
	}
	return false
}

// MatchGlob reports whether a TagihanAI event type matches glob. "*" matches
// every type (dots included); other globs follow path.Match, where "*" does
// not cross a "/" (types have none). A malformed glob matches nothing;
// config validation rejects it at start (ValidGlob).
func MatchGlob(glob, eventType string) bool {
	glob = strings.TrimSpace(glob)
	if glob == "*" {
		return true
	}
	ok, err := path.Match(glob, eventType)
	return err == nil && ok
}

// ValidGlob reports whether glob is well formed.
func ValidGlob(glob string) bool {
	_, err := path.Match(strings.TrimSpace(glob), "x")
	return err == nil && strings.TrimSpace(glob) != ""
}

// MatchRoutes returns the routes that want an event, in route order.
func MatchRoutes(routes []Route, eventType string, test bool) []Route {
	var out []Route
	for _, r := range routes {
		if r.Matches(eventType, test) {
			out = append(out, r)
		}
	}
	return out
}
