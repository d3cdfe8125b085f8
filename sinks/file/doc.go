// Package file is the file sink (KIND=file, SPEC 3.4): it appends each
// event's CloudEvent as one NDJSON line to SINK_<NAME>_PATH.
//
// # Durability
//
// Deliver returns Delivered only after its line has been written and the file
// fsynced. Concurrent Deliver calls share fsyncs (group commit): whoever
// finds no fsync running becomes the leader and syncs everything written so
// far, while writers that arrive meanwhile wait and are covered by the next
// leader. There is no background goroutine, so there is nothing to start or
// stop; Close waits for fsyncs under way and closes the file.
//
// # Line integrity
//
// Each line is written with one write call under a mutex to a file opened
// with O_APPEND, so lines never interleave. The CloudEvent is compacted first,
// so a pretty-printed event still takes exactly one line. A write that fails
// part way is cut back off the file, so a reader never sees a torn line
// followed by good ones.
//
// It must not import Echo, bbolt or the store.
package file
