// Package store implements relay.Store on bbolt, the embedded default
// backend: one file, relay.db, in RELAY_DATA_DIR.
//
// # Durability and group commit
//
// Every write goes through one writer goroutine that drains whatever is
// queued (up to MaxBatch operations) into a single bbolt read-write
// transaction and commits it: many concurrent deliveries share one fsync, and
// nobody waits on a timer. A caller is answered only after the commit that
// holds its write returned, so an acknowledged delivery is on disk. When one
// operation of a batch fails with an internal error, the transaction is
// rolled back and each operation of the batch is retried in its own
// transaction, so one bad write never fails its neighbours.
//
// # Bucket layout
//
//	events       id → event meta (type, subject, status inputs, search fields)
//	bodies       received(8) id → headers, body byte for byte, CloudEvent
//	by_time      received(8) id → ∅                 listing, export, retention
//	by_subject   subject 0x00 received(8) id → ∅    "what happened to invoice X"
//	search       lower(text) 0x00 id → ∅            document number, counterparty
//	deliveries   id 0x00 sink → delivery record (state, attempts, history)
//	dead         at(8) sink 0x00 id → ∅             dead letters and needs-review
//	created      sink 0x00 subject → create-once record (never purged)
//	operations   id 0x00 at(8) → operator action
//	counts       status → int64                     event counts by status
//	outbox/<sink>/
//	    due      due(8) seq(8) → id                 claimable entries, by due time
//	    inflight id → ∅                             claimed, resumed after a crash
//	    queue    orderkey 0x00 seq(8) → id          per-subject FIFO (ordering)
//	    open     since(8) seq(8) → id               pending + in flight, by age
//	    counts   state → int64
//
// An ordered entry is in due only while it is the head of its subject's
// queue: later events of the subject wait in queue until the head is
// delivered, skipped or dead.
//
// bodies and by_time are keyed in receive order and filled densely
// (FillPercent 1): ingest appends at the right edge, so a commit of many
// deliveries writes a few pages there instead of one random page each.
//
// The dedup index is the events bucket itself: an event id is stored once,
// and lives exactly as long as the event (retention).
package store
