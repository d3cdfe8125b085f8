package store

import (
	"errors"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// health is what the writer learned from its last commit.
type health struct {
	failed  atomic.Bool  // the last commit that reached the disk failed
	probeAt atomic.Int64 // when the last probe was queued (Unix ns)
}

// record notes the result of one db.Update. A batch rolled back because
// one of its operations failed on its own (errRollback) says nothing about
// the disk: the operations rerun alone and their commits are recorded.
func (h *health) record(err error) {
	switch {
	case err == nil:
		h.failed.Store(false)
	case errors.Is(err, errRollback):
	default:
		h.failed.Store(true)
	}
}

// probeInterval bounds how often Ready queues a probe commit.
const probeInterval = time.Second

// bktHealth holds the probe's one key; it is created by the first probe.
var bktHealth = []byte("health")

// Ready reports whether the store can take writes now (for /readyz): it
// is open for writing and its last commit succeeded. After a failed commit
// (a full disk, an I/O error) it reports false until a commit succeeds
// again. So that readiness comes back even when nothing else writes (a load
// balancer that honours /readyz sends no deliveries meanwhile), a call
// that finds the store failed queues one small probe commit, at most once
// a second; the probe's result is seen by the next call.
func (s *Store) Ready() bool {
	if s.opts.ReadOnly {
		return false
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed || s.broken.Load() != nil {
		return false // a panic in a commit failed the store closed: not ready until restarted
	}
	if !s.health.failed.Load() {
		return true
	}
	s.queueProbe()
	return false
}

// queueProbe queues a probe commit unless one was queued within
// probeInterval or the queue is full (then the queued writes are the
// probe). The caller holds closeMu shared, so the writer is running.
func (s *Store) queueProbe() {
	now := time.Now().UnixNano()
	last := s.health.probeAt.Load()
	if now-last < int64(probeInterval) || !s.health.probeAt.CompareAndSwap(last, now) {
		return
	}
	o := &op{fn: writeProbe, done: make(chan error, 1)} // nobody waits: done is buffered
	select {
	case s.ops <- o:
	default:
	}
}

// writeProbe writes the probe's key: a real page write and fsync, like a
// delivery's commit, only small.
func writeProbe(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bktHealth)
	if err != nil {
		return err
	}
	return b.Put([]byte("probe"), u64(uint64(time.Now().UnixNano())))
}
