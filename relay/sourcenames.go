package relay

import "strings"

// A managed source's sinks and events are kept apart from every other
// source's by their names (SPEC 6): the source "acme"'s sink "ap" is the
// sink "acme/ap" in the outbox, the create-once records, the stats and the
// metrics, and its delivery "evt_1" is stored as the event "acme:evt_1", so
// the same TagihanAI id or transaction in two workspaces is two events and
// two documents, never a duplicate of the other. The environment's source
// (DefaultSource) keeps the plain names, so nothing changes for a
// single-workspace relay.

// SourceSinkName is the outbox name of source's sink.
func SourceSinkName(source, sink string) string {
	if source == "" || source == DefaultSource {
		return sink
	}
	return source + "/" + sink
}

// SinkSource splits an outbox sink name into its source and the sink's
// name in that source.
func SinkSource(name string) (source, sink string) {
	if i := strings.IndexByte(name, '/'); i > 0 {
		return name[:i], name[i+1:]
	}
	return DefaultSource, name
}

// SourceEventID is the stored id of source's delivery id.
func SourceEventID(source, id string) string {
	if source == "" || source == DefaultSource || id == "" {
		return id
	}
	return source + ":" + id
}

// EventSource is the source an event stored with source belongs to: ""
// (the environment's events, and every event stored before events carried
// their source) is DefaultSource.
func EventSource(stored string) string {
	if stored == "" {
		return DefaultSource
	}
	return stored
}

// StoredSource is what a store keeps for an event of source: "" for
// DefaultSource, so the environment's events cost nothing to mark and read
// like those stored before sources existed (EventSource undoes it).
func StoredSource(source string) string {
	if source == DefaultSource {
		return ""
	}
	return source
}

// CheckSourceFilter reports whether a listing may be filtered by source:
// "" (every source) or a name CheckSourceName accepts, DefaultSource
// included.
func CheckSourceFilter(source string) error {
	if source == "" || source == DefaultSource {
		return nil
	}
	return CheckSourceName(source)
}
