package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/httpapi"
)

// TestAdmin_SourceFilter: GET /v1/events and /v1/dead-letters show each
// event's source and filter by ?source= (SPEC 6); a name no source could
// have is 400 invalid_request.
func TestAdmin_SourceFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	seedDeadLetters(t, e) // the environment's: evt_dl_1..4, dead at erp and ap
	// Two deliveries of the source acme, one with an id the environment
	// has too, stored as acme's (the source manager's Receiver does this).
	acme := &relay.Receiver{Store: e.Store, Source: "tagihanai", SourceName: "acme",
		Routes: []relay.Route{{Sink: relay.SourceSinkName("acme", "erp"), Events: []string{"*"}}}}
	for _, id := range []string{"evt_dl_1", "evt_acme_2"} {
		at := e.Clock.Advance(time.Minute)
		body := fixture(t, "transaction.sent", fixtures.Options{EventID: id, Now: t0, TransactionID: txB, DocumentNumber: "INV-2026-0900"})
		if _, err := acme.Receive(context.Background(), relay.Delivery{ReceivedAt: at, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	e.Clock.Advance(time.Minute)
	e.settle(t, "acme/erp", map[string]relay.Transition{
		"acme:evt_dl_1":   {State: relay.StateDead, Reason: "HTTP 400: rejected"},
		"acme:evt_acme_2": {State: relay.StateDead, Reason: "HTTP 400: rejected"},
	})

	events := func(t *testing.T, q url.Values) []string {
		t.Helper()
		var out []string
		for range 100 {
			page := decode[relay.EventPage](t, e.get(t, "/v1/events?"+q.Encode()))
			for _, ev := range page.Events {
				out = append(out, ev.Source+"|"+ev.ID)
			}
			if page.NextCursor == "" {
				return out
			}
			q.Set("cursor", page.NextCursor)
		}
		t.Fatal("pagination does not end")
		return nil
	}
	t.Run("Events", func(t *testing.T) {
		acmeEvents := []string{"acme|acme:evt_acme_2", "acme|acme:evt_dl_1"}
		defaultEvents := []string{"default|evt_dl_4", "default|evt_dl_3", "default|evt_dl_2", "default|evt_dl_1"}
		for _, tt := range []struct {
			name  string
			query url.Values
			want  []string
		}{
			{"all", url.Values{}, append(append([]string{}, acmeEvents...), defaultEvents...)},
			{"acme", url.Values{"source": {"acme"}}, acmeEvents},
			{"acme paged by 1", url.Values{"source": {"acme"}, "limit": {"1"}}, acmeEvents},
			{"default paged by 3", url.Values{"source": {"default"}, "limit": {"3"}}, defaultEvents},
			{"unknown source", url.Values{"source": {"nobody"}}, nil},
			{"acme and q", url.Values{"source": {"acme"}, "q": {"INV-2026-0900"}}, acmeEvents},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if diff := cmp.Diff(tt.want, events(t, tt.query)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
		d := decode[relay.EventDetail](t, e.get(t, "/v1/events/"+url.PathEscape("acme:evt_dl_1")))
		if d.ID != "acme:evt_dl_1" || d.Source != "acme" {
			t.Errorf("GET /v1/events/acme:evt_dl_1: id %q, source %q", d.ID, d.Source)
		}
		if d := e.storedEvent(t, "evt_dl_1"); d.Source != relay.DefaultSource {
			t.Errorf("the environment's evt_dl_1 has source %q", d.Source)
		}
	})

	t.Run("DeadLetters", func(t *testing.T) {
		r := e.get(t, "/v1/dead-letters?source=acme&limit=1")
		page := decode[relay.DeadLetterPage](t, r)
		if len(page.DeadLetters) != 1 || page.NextCursor == "" {
			t.Fatalf("first page: %s", r)
		}
		// Both died at once: newest first is then by sink and id, descending.
		if d := page.DeadLetters[0]; d.EventID != "acme:evt_dl_1" || d.Sink != "acme/erp" || d.Source != "acme" {
			t.Errorf("dead letter %+v", d)
		}
		if diff := cmp.Diff([]string{"acme/erp/acme:evt_dl_1/dead", "acme/erp/acme:evt_acme_2/dead"},
			e.deadLetters(t, url.Values{"source": {"acme"}, "limit": {"1"}})); diff != "" {
			t.Errorf("source acme (-want +got):\n%s", diff)
		}
		want := []string{"ap/evt_dl_3/needs_review", "ap/evt_dl_1/dead", "erp/evt_dl_4/dead", "erp/evt_dl_2/dead", "erp/evt_dl_1/dead"}
		if diff := cmp.Diff(want, e.deadLetters(t, url.Values{"source": {"default"}, "limit": {"2"}})); diff != "" {
			t.Errorf("source default (-want +got):\n%s", diff)
		}
		for _, d := range decode[relay.DeadLetterPage](t, e.get(t, "/v1/dead-letters?source=default")).DeadLetters {
			if d.Source != relay.DefaultSource {
				t.Errorf("%s at %s: source %q, want default", d.EventID, d.Sink, d.Source)
			}
		}
	})

	t.Run("Client", func(t *testing.T) {
		c := httpapi.NewClient(e.Admin.URL, "", e.Client)
		ctx := context.Background()
		p, err := c.ListEvents(ctx, relay.EventFilter{Source: "acme"})
		if err != nil || len(p.Events) != 2 || p.Events[0].Source != "acme" {
			t.Errorf("Client.ListEvents(source acme) = %+v, %v", p, err)
		}
		dl, err := c.ListDeadLetters(ctx, relay.DeadLetterFilter{Source: "acme"})
		if err != nil || len(dl.DeadLetters) != 2 || dl.DeadLetters[0].Source != "acme" {
			t.Errorf("Client.ListDeadLetters(source acme) = %+v, %v", dl, err)
		}
		var ae *httpapi.APIError
		if _, err := c.ListEvents(ctx, relay.EventFilter{Source: "Acme"}); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != relay.EINVALID {
			t.Errorf("Client.ListEvents(source Acme) = %v, want 400 invalid_request", err)
		}
	})

	for _, bad := range []string{"Acme", "acme%2Ferp", "-acme", "acme%3Aevt", "a%20b"} {
		for _, path := range []string{"/v1/events", "/v1/dead-letters"} {
			t.Run("Invalid"+path+"/"+bad, func(t *testing.T) {
				wantError(t, e.get(t, path+"?source="+bad), http.StatusBadRequest, relay.EINVALID, "source")
			})
		}
	}
}
