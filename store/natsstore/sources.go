package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

var _ relay.SourceStore = (*Store)(nil)

// SourcesBucket is the key-value bucket of the sources under prefix.
func SourcesBucket(prefix string) string { return prefix + "_SOURCES" }

// PutSource creates or replaces a source: one key written with a quorum
// acknowledgement, so a crash leaves the old value or the new one.
func (s *Store) PutSource(ctx context.Context, src *relay.SealedSource) (bool, error) {
	b, err := json.Marshal(src)
	if err != nil {
		return false, err
	}
	if _, err := s.sources.Create(ctx, src.Name, b); err == nil {
		return true, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, unavailable("put source", err)
	}
	if _, err := s.sources.Put(ctx, src.Name, b); err != nil {
		return false, unavailable("put source", err)
	}
	return false, nil
}

// GetSource reads the source from the bucket's leader, so a change made
// through any replica is seen at once.
func (s *Store) GetSource(ctx context.Context, name string) (*relay.SealedSource, error) {
	e, err := s.leaderKV(ctx, s.sources, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) ||
		(err == nil && e.Operation() != jetstream.KeyValuePut) {
		return nil, relay.Errorf(relay.ENOTFOUND, "no source %q", name)
	}
	if err != nil {
		return nil, unavailable("get source", err)
	}
	src := new(relay.SealedSource)
	if err := json.Unmarshal(e.Value(), src); err != nil {
		return nil, err
	}
	return src, nil
}

// ListSources returns every source, ordered by name.
func (s *Store) ListSources(ctx context.Context) ([]*relay.SealedSource, error) {
	out := []*relay.SealedSource{}
	lister, err := s.sources.ListKeys(ctx)
	if err != nil {
		return nil, unavailable("list sources", err)
	}
	defer func() { _ = lister.Stop() }() // an error after the last key only says it already stopped
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, err // the listing was cut short
	}
	slices.Sort(names)
	for _, name := range names {
		src, err := s.GetSource(ctx, name)
		if errors.Is(err, &relay.Error{Code: relay.ENOTFOUND}) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// DeleteSource removes the source called name.
func (s *Store) DeleteSource(ctx context.Context, name string) error {
	if _, err := s.GetSource(ctx, name); err != nil {
		return err
	}
	if err := s.sources.Delete(ctx, name); err != nil {
		return unavailable("delete source", err)
	}
	return nil
}

// WatchSources calls changed with the name of each source another replica
// (or this one) puts or deletes, as JetStream pushes the change, until the
// store closes. The watch is established before it returns, so a change
// made after that is never missed: start it before reading the sources.
// When the watch has to be re-established (the node serving it went away)
// changes may have been missed in between: resync is called then, to
// re-read every source.
func (s *Store) WatchSources(ctx context.Context, changed func(name string), resync func()) error {
	w, err := s.sources.WatchAll(s.ctx, jetstream.UpdatesOnly())
	if err != nil {
		return unavailable("watch sources", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		backoff := 100 * time.Millisecond
		for {
			for e := range w.Updates() {
				if e != nil {
					changed(e.Key())
				}
			}
			_ = w.Stop()
			for {
				if s.ctx.Err() != nil {
					return
				}
				if w, err = s.sources.WatchAll(s.ctx, jetstream.UpdatesOnly()); err == nil {
					break
				}
				s.log.Warn("natsstore: watch sources", "error", err, "retry_in", backoff)
				select {
				case <-s.ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 5*time.Second)
			}
			backoff = 100 * time.Millisecond
			resync()
		}
	}()
	return nil
}
