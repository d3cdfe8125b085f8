package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// sourceStore opens a store and asserts it keeps sources.
func sourceStore(t *testing.T, o Opener) relay.SourceStore {
	t.Helper()
	ss, ok := o(t).(relay.SourceStore)
	if !ok {
		t.Fatal("the backend does not implement relay.SourceStore (SPEC 6)")
	}
	return ss
}

func sealedFixture(name string, n int) *relay.SealedSource {
	return &relay.SealedSource{
		Name: name, Enabled: true,
		Secrets:   []relay.SealedSecret{{ID: fmt.Sprintf("%08x", n), Sealed: fmt.Sprintf("v1:sealed-%d", n), CreatedAt: t0}},
		Sinks:     map[string]map[string]string{"erp": {"KIND": "http", "URL": fmt.Sprintf("https://erp.example/%s/%d", name, n)}},
		CreatedAt: t0, UpdatedAt: at(n),
	}
}

func testSources(t *testing.T, o Opener) {
	ctx := context.Background()
	notFound := &relay.Error{Code: relay.ENOTFOUND}
	t.Run("EventsCarrySource", func(t *testing.T) { testEventsCarrySource(t, o) })
	t.Run("PutGetReplace", func(t *testing.T) {
		ss := sourceStore(t, o)
		if _, err := ss.GetSource(ctx, "acme"); !errors.Is(err, notFound) {
			t.Fatalf("GetSource of nothing = %v, want not_found", err)
		}
		created, err := ss.PutSource(ctx, sealedFixture("acme", 1))
		if err != nil || !created {
			t.Fatalf("first PutSource = %v, %v; want created", created, err)
		}
		v2 := sealedFixture("acme", 2)
		v2.Enabled = false
		created, err = ss.PutSource(ctx, v2)
		if err != nil || created {
			t.Fatalf("second PutSource = %v, %v; want replaced", created, err)
		}
		got, err := ss.GetSource(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v2, got); diff != "" {
			t.Fatalf("GetSource after replace (-want +got):\n%s", diff)
		}
	})
	t.Run("ListOrderedByName", func(t *testing.T) {
		ss := sourceStore(t, o)
		list, err := ss.ListSources(ctx)
		if err != nil || len(list) != 0 {
			t.Fatalf("ListSources of an empty store = %v, %v", list, err)
		}
		for i, name := range []string{"maju-jaya", "acme", "0-first", "zeta"} {
			if _, err := ss.PutSource(ctx, sealedFixture(name, i)); err != nil {
				t.Fatal(err)
			}
		}
		list, err = ss.ListSources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range list {
			names = append(names, s.Name)
		}
		if diff := cmp.Diff([]string{"0-first", "acme", "maju-jaya", "zeta"}, names); diff != "" {
			t.Fatalf("ListSources names (-want +got):\n%s", diff)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		ss := sourceStore(t, o)
		if err := ss.DeleteSource(ctx, "acme"); !errors.Is(err, notFound) {
			t.Fatalf("DeleteSource of nothing = %v, want not_found", err)
		}
		for _, name := range []string{"acme", "other"} {
			if _, err := ss.PutSource(ctx, sealedFixture(name, 1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := ss.DeleteSource(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.GetSource(ctx, "acme"); !errors.Is(err, notFound) {
			t.Fatalf("GetSource after delete = %v, want not_found", err)
		}
		list, err := ss.ListSources(ctx)
		if err != nil || len(list) != 1 || list[0].Name != "other" {
			t.Fatalf("ListSources after delete = %v, %v", list, err)
		}
		created, err := ss.PutSource(ctx, sealedFixture("acme", 3))
		if err != nil || !created {
			t.Fatalf("PutSource after delete = %v, %v; want created", created, err)
		}
	})
	// Concurrent replaces of one source leave one whole version, never a
	// mix of two.
	t.Run("ConcurrentReplaceIsWhole", func(t *testing.T) {
		ss := sourceStore(t, o)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := ss.PutSource(ctx, sealedFixture("acme", i)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got, err := ss.GetSource(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		n := int(got.UpdatedAt.Sub(t0).Milliseconds())
		if diff := cmp.Diff(sealedFixture("acme", n), got); diff != "" {
			t.Fatalf("the stored source is not one written version (-want +got):\n%s", diff)
		}
	})
}
