package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// TestCLI_SourceFilter: events list and dead-letters list take --source
// (SPEC 6) and print each row's source; a name no source could have is an
// error before anything is listed.
func TestCLI_SourceFilter(t *testing.T) {
	db := filepath.Join(t.TempDir(), "relay.db")
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).UTC()
	for i := range 6 {
		source, sink := relay.DefaultSource, "erp"
		if i%3 == 0 {
			source, sink = "acme", relay.SourceSinkName("acme", "erp")
		}
		id := relay.SourceEventID(source, fmt.Sprintf("evt_src_%d", i))
		e := storetest.NewEvent(id, start.Add(time.Duration(i)*time.Second), relay.OutboxTarget{Sink: sink})
		e.Source = source
		if _, err := st.Ingest(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, sink := range []string{"erp", "acme/erp"} {
		claims, _, err := st.ClaimDue(ctx, sink, time.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range claims {
			now := time.Now()
			if err := st.Finish(ctx, sink, c.EventID, relay.Attempt{At: now, Outcome: relay.StateDead, StatusCode: 422},
				relay.Transition{State: relay.StateDead, Reason: "422"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	list := func(t *testing.T, args ...string) []string {
		t.Helper()
		stdout, stderr, code := runBinary(t, nil, append(args, "--db", db, "--json")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var out []string
		for _, l := range lines(stdout) {
			var row struct {
				ID      string `json:"id"`
				EventID string `json:"event_id"`
				Sink    string `json:"sink"`
				Source  string `json:"source"`
			}
			if err := json.Unmarshal([]byte(l), &row); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			out = append(out, row.Source+"|"+row.ID+row.EventID)
		}
		return out
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"events", "list", "--source", "acme"}, []string{"acme|acme:evt_src_3", "acme|acme:evt_src_0"}},
		{[]string{"events", "list", "--source", "default", "--limit", "3"}, []string{"default|evt_src_5", "default|evt_src_4", "default|evt_src_2"}},
		{[]string{"dead-letters", "list", "--source", "acme"}, []string{"acme|acme:evt_src_3", "acme|acme:evt_src_0"}},
	} {
		if diff := cmp.Diff(tt.want, list(t, tt.args...)); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.args, diff)
		}
	}
	if got := list(t, "dead-letters", "list", "--source", "default"); len(got) != 4 {
		t.Errorf("dead-letters list --source default: %v, want the environment's 4", got)
	}
	for _, cmd := range [][]string{{"events", "list"}, {"dead-letters", "list"}} {
		_, stderr, code := runBinary(t, nil, append(cmd, "--db", db, "--source", "Acme")...)
		if code != 1 || !strings.Contains(stderr, `source name "Acme"`) {
			t.Errorf("%v --source Acme: exit %d, stderr %q; want 1 naming the source", cmd, code, stderr)
		}
	}
}
