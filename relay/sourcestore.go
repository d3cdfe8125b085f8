package relay

import "context"

// SourceStore keeps the run-time sources (SPEC 6), sealed. Each source is
// one record written atomically and durably (fsynced, or acknowledged by a
// JetStream quorum) before the call returns, so a crash during a change
// leaves the old source or the new one, never a mix. Implementations: store
// (bbolt) and store/natsstore; both pass the contract suite.
type SourceStore interface {
	// PutSource creates or replaces the source; created says which.
	PutSource(ctx context.Context, s *SealedSource) (created bool, err error)
	// GetSource returns the source called name; ENOTFOUND when there is
	// none.
	GetSource(ctx context.Context, name string) (*SealedSource, error)
	// ListSources returns every source, ordered by name.
	ListSources(ctx context.Context) ([]*SealedSource, error)
	// DeleteSource removes the source; ENOTFOUND when there is none. Its
	// events and outbox entries stay.
	DeleteSource(ctx context.Context, name string) error
}
