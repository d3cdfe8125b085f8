package testkit

import (
	"path/filepath"
	"testing"

	"github.com/tagihan-relay/tagihan-relay/store"
)

// OpenStore opens a real bbolt store (fsync and all) in a temporary
// directory; it is closed, and the close checked, when the test ends.
func OpenStore(tb testing.TB) *store.Store {
	tb.Helper()
	return OpenStoreAt(tb, filepath.Join(tb.TempDir(), "relay.db"), store.Options{})
}

// OpenStoreAt opens the bbolt store at path with o, closed at cleanup.
func OpenStoreAt(tb testing.TB, path string, o store.Options) *store.Store {
	tb.Helper()
	s, err := store.Open(path, o)
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("store.Close: %v", err)
		}
	})
	return s
}
