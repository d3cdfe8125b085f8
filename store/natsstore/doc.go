// Package natsstore implements relay.Store on NATS JetStream, for
// deployments of several relay replicas behind a load balancer: the
// replicas share deduplication, the outbox, dead letters and create-once
// records through one NATS server or cluster. It passes the same contract
// suite (store/storetest) as the embedded bbolt store, which stays the
// default. It imports the domain package relay and the NATS client only;
// the HTTP layer and bbolt are not its business. docs/SCALING.md has the
// design with diagrams, trade-offs and measured figures.
//
// # Layout
//
// For NATS_PREFIX P (default TAGIHAN_RELAY), Open provisions:
//
//	KV  P_EVENTS    e.<b64 id> → event record: summary, search fields, one
//	                delivery record per sink (state, attempts, history, due
//	                time, queue sequence, lease), operator actions.
//	                sync → empty (read barrier)
//	KV  P_CREATED   c.<b64 sink>.<b64 subject> → create-once record
//	    P_RAW       stream, subjects P.raw.<b64 id>, one message per event:
//	                headers, body byte for byte, the CloudEvent.
//
// Ids and sink names are base64url-encoded into one token, which keys and
// subjects accept whatever the id holds.
//
// # Ingest
//
// The raw delivery is published first (Nats-Msg-Id = event id and an
// expected last subject sequence of 0, so a stored copy is never replaced),
// then the record is created with an atomic KV create. That create is the
// commit point: dedup key, summary and every outbox entry at once. A
// duplicate (the create finds the key) only counts itself on the record.
// Ingest returns after both JetStream acknowledgements (with R3 that is a
// quorum of nodes), so the relay's 2xx follows a durable write. A copy of
// the same id that another replica is committing at that moment makes
// JetStream refuse this one ("in process"): ingest then waits until the
// stream leader holds that copy and answers duplicate (reads.go, ingest.go).
//
// # Read your writes
//
// Every read that decides a delivery (the raw copy, the event record, the
// create-once record) is answered by the stream leader, not by a direct get
// that a lagging follower may answer (reads.go). A claim whose event cannot
// be loaded goes back to pending without an attempt (dead, still without
// one, when the stored copy was read but cannot be decoded).
//
// # Outbox, claims and leases
//
// Every state change of an event is a compare-and-set (KV update by
// revision) of its one record, so concurrent writers (two sinks' workers,
// two replicas, an operator) never lose an update. A claim moves a pending
// entry to in_flight with this store's owner id and a lease (wall clock) of
// the sink's ack wait (its TIMEOUT plus a margin, Options.AckWait). A
// replica that dies leaves its claims in flight; once the lease has passed,
// any replica's ClaimDue takes them over (PriorUnknown, or needs_review for
// a sink ResumeInFlight was told to review). The schedule stays the
// dispatcher's: Finish records the next due time it computed (jitter,
// Retry-After, redrive resets).
//
// # The index
//
// KV has no ordered scans, so every replica keeps an in-memory index of the
// events bucket (view.go), fed by an ordered consumer: due entries by due
// time, each subject's queue, events by receive time, dead letters, counts.
// Listings, stats and claims read it; GetEvent reads KV and the stream
// from their leaders. Reads that must see every acknowledged write (listings, stats)
// first write the sync key and wait until the index has applied it.
//
// # Ordering across replicas
//
// An entry is claimable only while it heads its (sink, order key) queue,
// ordered by seq: the revision of the write that enqueued it. The index is
// applied in revision order, so at any moment it is the bucket's exact state
// at some revision R, a prefix of the history. An earlier entry of the
// queue has a smaller seq, so it was written before R if the candidate was;
// and a head only loses its place by finishing and being enqueued again,
// which gives it a new, larger seq. A claim therefore checks, in its
// compare-and-set, that the entry is still pending with the seq the index
// showed: if so it is still the head, however stale the rest of the index.
//
// # What it must not do
//
// It never deletes an open delivery (retention removes finished events
// only), never writes the create-once record after the delivery is marked
// delivered (the record comes first, so a crash in between cannot create a
// second document) and never trusts its index for a write without a
// compare-and-set.
package natsstore
