// Package stdout is the stdout sink (KIND=stdout, SPEC 3.4), the default
// when RELAY_SINKS is empty: it prints each event's CloudEvent as one NDJSON
// line to a writer, normally the process's standard output.
//
// Lines are written whole, one write call each under a mutex, so they never
// interleave. The sink has no configuration keys beyond the common ones. It
// must not import Echo, bbolt or the store, and it never opens os.Stdout
// itself: main passes the writer in.
package stdout
