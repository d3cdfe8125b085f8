package store

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

var _ relay.SourceStore = (*Store)(nil)

// bktSources holds name → JSON of a relay.SealedSource.
var bktSources = []byte("sources")

// PutSource creates or replaces a source in one fsynced transaction.
func (s *Store) PutSource(ctx context.Context, src *relay.SealedSource) (bool, error) {
	b, err := json.Marshal(src)
	if err != nil {
		return false, err
	}
	var created bool
	err = s.update(ctx, func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bktSources)
		if err != nil {
			return err
		}
		created = bk.Get([]byte(src.Name)) == nil
		return bk.Put([]byte(src.Name), b)
	})
	return created, err
}

// GetSource returns the source called name.
func (s *Store) GetSource(ctx context.Context, name string) (*relay.SealedSource, error) {
	var src *relay.SealedSource
	err := s.view(func(tx *bolt.Tx) error {
		var v []byte
		if bk := tx.Bucket(bktSources); bk != nil {
			v = bk.Get([]byte(name))
		}
		if v == nil {
			return relay.Errorf(relay.ENOTFOUND, "no source %q", name)
		}
		src = new(relay.SealedSource)
		return json.Unmarshal(v, src)
	})
	return src, err
}

// ListSources returns every source, ordered by name (bbolt's key order).
func (s *Store) ListSources(ctx context.Context) ([]*relay.SealedSource, error) {
	out := []*relay.SealedSource{}
	err := s.view(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktSources)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(_, v []byte) error {
			src := new(relay.SealedSource)
			if err := json.Unmarshal(v, src); err != nil {
				return err
			}
			out = append(out, src)
			return nil
		})
	})
	return out, err
}

// DeleteSource removes the source called name.
func (s *Store) DeleteSource(ctx context.Context, name string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktSources)
		if bk == nil || bk.Get([]byte(name)) == nil {
			return relay.Errorf(relay.ENOTFOUND, "no source %q", name)
		}
		return bk.Delete([]byte(name))
	})
}
