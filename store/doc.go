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
// # A damaged file
//
// Open checks an existing file before anything writes to it (check.go):
// both meta pages, the high-water mark against the file size, the freelist
// and every page reachable from the root, read through a read-only mapping
// with every offset bounds-checked, then bbolt's tx.Check on files up to
// FullCheckMaxBytes. A file that fails is refused with a *CorruptError and
// left byte for byte as it was; only a missing file becomes a new database.
// A panic inside a commit fails the store closed (every later write returns
// the error) rather than ending the process.
//
// # Bucket layout
//
//	events       id → event record: type, subject, search fields and the
//	             delivery record at every sink (state, attempts, history)
//	bodies       received(8) id → headers, body byte for byte, CloudEvent
//	by_time      received(8) id → ∅                 listing, export, retention
//	by_subject   subject 0x00 received(8) id → ∅    "what happened to invoice X"
//	search       lower(text) 0x00 id → ∅            document number, counterparty
//	dead         at(8) sink 0x00 id → ∅             dead letters and needs-review
//	created      sink 0x00 subject → create-once record (never purged)
//	operations   id 0x00 at(8) → operator action
//	counts       status → int64                     event counts by status
//	outbox/<sink>/
//	    due      due(8) seq(8) → id                 claimable entries, by due time
//	    inflight id → ∅                             claimed, resumed after a crash
//	    open     since(8) seq(8) → id               pending + in flight, by age
//	    counts   state → int64
//	    heads    subject → id                       head of each subject's queue
//	    waiting  subject 0x00 seq(8) → id           deliveries waiting their turn
//
// Ordering by subject (queue.go): an ordered delivery is put in due only
// when its subject has no head at the sink (no other open delivery:
// pending, in flight or needs review); else it waits in waiting, in the
// order enqueued. When the head finishes (delivered, skipped, dead), the
// first waiting delivery becomes the head and is due. Both are a few
// look-ups, whatever the subject's history.
//
// Why deliveries live inside the event record: a commit's cost is mostly
// the pages it dirties, and keys spread at random (event ids, subjects) cost
// a page each. With the delivery records, the subject queue and the bodies
// folded into the event record or into receive-ordered buckets, a new event
// dirties about 7 pages in a busy 64-way commit instead of about 16.
//
// bodies and by_time are keyed in receive order and filled densely
// (FillPercent 1): ingest appends at the right edge, so a commit of many
// deliveries writes a few pages there instead of one random page each.
//
// The dedup index is the events bucket itself: an event id is stored once,
// and lives exactly as long as the event (retention).
package store
