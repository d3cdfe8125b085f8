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
