// Package relay is the domain of tagihan-relay: what TagihanAI sent (Delivery),
// what we made of it (Event, a CloudEvents 1.0 event), where it goes (Route,
// Sink) and how its delivery is tracked (OutboxEntry, Attempt, DeadLetter).
//
// It owns the rules that must be exactly right and keeps them pure: the
// envelope reader, normalization and route globs take bytes and values and
// return values, with no I/O and no clock.
//
// # What it must not import
//
// Neither Echo nor bbolt: the HTTP layer (relay/httpapi) and the store
// (store) are adapters that depend on this package, never the reverse. The
// storage contract is the Store interface; a second backend implements the
// same interface and passes the same contract suite (store/storetest).
package relay
