package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
)

func TestConsole_Replay(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Ana")
	id := f.ingest("transaction.paid", fixturesOpts("INV-2026-0042"))
	f.deliver("erp", id, "", nil)

	t.Run("OK", func(t *testing.T) {
		w := f.post(op, "/ui/events/"+id+"/replay", url.Values{"sink": {"erp"}})
		wantLocation(t, w, "/ui/events/"+id+"?done=replay&to=erp")
		if got := f.state(id, "erp"); got != relay.StatePending {
			t.Errorf("delivery = %s after replay, want pending", got)
		}
		if diff := cmp.Diff([]string{"console:Ana replay erp"}, f.history(id)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		page := f.get(op, w.Header().Get("Location"))
		wantBody(t, page, `<p class="flash" role="status">Replay to erp queued.</p>`, "console:Ana", "<code>replay</code>")
	})

	t.Run("UnknownSink", func(t *testing.T) {
		w := f.post(op, "/ui/events/"+id+"/replay", url.Values{"sink": {"nope"}})
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, "not a configured sink")
	})

	t.Run("UnknownEvent", func(t *testing.T) {
		w := f.post(op, "/ui/events/evt_nope/replay", url.Values{"sink": {"erp"}})
		wantStatus(t, w, http.StatusNotFound)
	})
}

func TestConsole_DeadLetters(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Budi")
	a := f.ingest("transaction.sent", fixturesOpts("INV-2026-0001"))
	b := f.ingest("transaction.sent", fixturesOpts("INV-2026-0002"))
	c := f.ingest("transaction.paid", fixturesOpts("INV-2026-0003"))
	f.kill("erp", a)
	f.kill("ap", a)
	f.kill("erp", b)
	f.kill("erp", c)
	r := f.ingest("transaction.sent", fixturesOpts("INV-2026-0004"))
	f.stall("ap", r)

	t.Run("Page", func(t *testing.T) {
		w := f.get(op, "/ui/dead-letters")
		wantStatus(t, w, http.StatusOK)
		for _, v := range []string{"erp:" + a, "ap:" + a, "erp:" + b, "erp:" + c} {
			wantBody(t, w, `name="sel" value="`+v+`"`, `name="one" value="`+v+`"`)
		}
		wantBody(t, w, "http 400: customer code unknown", `data-select-all`, `id="redrive-selected"`,
			`href="/ui/events/`+c+`">INV-2026-0003</a>`, "PT Maju Jaya")
		if strings.Contains(w.Body.String(), r) {
			t.Error("a needs-review item is listed with the dead letters")
		}
	})

	t.Run("Filter", func(t *testing.T) {
		w := f.get(op, "/ui/dead-letters?sink=ap")
		wantStatus(t, w, http.StatusOK)
		if n := strings.Count(w.Body.String(), `name="sel"`); n != 1 {
			t.Errorf("sink=ap lists %d rows, want 1", n)
		}
		wantBody(t, w, `<option selected>ap</option>`, `name="return" value="/ui/dead-letters?sink=ap"`)
		w = f.get(op, "/ui/dead-letters?type=transaction.paid")
		if n := strings.Count(w.Body.String(), `name="sel"`); n != 1 || !strings.Contains(w.Body.String(), c) {
			t.Errorf("type=transaction.paid lists %d rows, want c only", n)
		}
		w = f.get(op, "/ui/dead-letters?type=%5B")
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, "is not a valid glob")
	})

	t.Run("RedriveSelected", func(t *testing.T) {
		// a at erp and b at erp, but not a at ap: only the chosen sink's.
		w := f.post(op, "/ui/dead-letters/redrive", url.Values{"sel": {"erp:" + a, "erp:" + b}, "return": {"/ui/dead-letters?sink=erp"}})
		wantLocation(t, w, "/ui/dead-letters?done=redrive&n=2&sink=erp")
		for _, tt := range []struct{ id, sink, want string }{
			{a, "erp", relay.StatePending}, {b, "erp", relay.StatePending}, {a, "ap", relay.StateDead}, {c, "erp", relay.StateDead},
		} {
			if got := f.state(tt.id, tt.sink); got != tt.want {
				t.Errorf("%s at %s = %s, want %s", tt.id, tt.sink, got, tt.want)
			}
		}
		if diff := cmp.Diff([]string{"console:Budi redrive erp"}, f.history(a)); diff != "" {
			t.Errorf("history of a (-want +got):\n%s", diff)
		}
		wantBody(t, f.get(op, w.Header().Get("Location")), "2 dead deliveries redriven.")
	})

	t.Run("RedriveOne", func(t *testing.T) {
		// The row's button wins over ticked boxes.
		w := f.post(op, "/ui/dead-letters/redrive", url.Values{"sel": {"ap:" + a}, "one": {"erp:" + c}})
		wantLocation(t, w, "/ui/dead-letters?done=redrive&n=1")
		if got := f.state(c, "erp"); got != relay.StatePending {
			t.Errorf("c at erp = %s, want pending", got)
		}
		if got := f.state(a, "ap"); got != relay.StateDead {
			t.Errorf("a at ap = %s, want dead (not chosen)", got)
		}
	})

	t.Run("FromEventPage", func(t *testing.T) {
		w := f.post(op, "/ui/dead-letters/redrive", url.Values{"one": {"ap:" + a}, "return": {"/ui/events/" + a}})
		wantLocation(t, w, "/ui/events/"+a+"?done=redrive&n=1")
	})

	t.Run("NeverNeedsReview", func(t *testing.T) {
		w := f.post(op, "/ui/dead-letters/redrive", url.Values{"one": {"ap:" + r}})
		wantLocation(t, w, "/ui/dead-letters?done=redrive&n=0")
		if got := f.state(r, "ap"); got != relay.StateNeedsReview {
			t.Errorf("needs-review item = %s after a redrive, want needs_review", got)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for name, form := range map[string]url.Values{
			"NothingChosen": {},
			"NotAPair":      {"sel": {a}},
			"UnknownSink":   {"sel": {"nope:" + a}},
		} {
			w := f.post(op, "/ui/dead-letters/redrive", form)
			if w.Code != http.StatusBadRequest {
				t.Errorf("%s: status = %d, want 400", name, w.Code)
			}
		}
	})
}

func TestConsole_Review(t *testing.T) {
	f := MustOpenFixture(t, testToken)
	op := f.login("Citra")
	opts := fixtures.Options{DocumentNumber: "INV-2026-0042", TransactionID: "7d1f4a52-0c37-4c8f-9a51-1f2f0f3b8e42"}
	id := f.ingest("transaction.sent", opts)
	f.stall("ap", id)
	f.kill("erp", id)

	t.Run("Page", func(t *testing.T) {
		w := f.get(op, "/ui/review")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, "outcome unknown: context deadline exceeded", `href="/ui/events/`+id+`">INV-2026-0042</a>`, "PT Maju Jaya",
			`href="/ui/events/`+id+`/resolve?return=%2Fui%2Freview&amp;sink=ap"`)
		if strings.Contains(w.Body.String(), `name="sel"`) {
			t.Error("the review page offers bulk selection")
		}
		if n := strings.Count(w.Body.String(), "Resolve…"); n != 1 {
			t.Errorf("%d rows, want 1 (the dead erp delivery is not listed)", n)
		}
	})

	t.Run("ConfirmationPage", func(t *testing.T) {
		w := f.get(op, "/ui/events/"+id+"/resolve?sink=ap&return=%2Fui%2Freview")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, "a retry may create a second document", `name="confirm" value="yes" required`,
			`name="document_number" autocomplete="off" placeholder="as shown in AccountingPlus" required`,
			`name="return" value="/ui/review"`, `name="outcome" value="delivered"`, `name="outcome" value="retry"`,
			"context deadline exceeded")
		// A delivery that is not waiting for review has nothing to resolve.
		w = f.get(op, "/ui/events/"+id+"/resolve?sink=erp")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, "there is nothing to resolve")
		if strings.Contains(w.Body.String(), `name="outcome"`) {
			t.Error("resolve forms for a dead delivery")
		}
		wantStatus(t, f.get(op, "/ui/events/"+id+"/resolve?sink=nope"), http.StatusNotFound)
	})

	t.Run("EventPageOffersResolve", func(t *testing.T) {
		w := f.get(op, "/ui/events/"+id)
		wantBody(t, w, `id="resolve-ap"`, "a retry may create a second document", `name="return" value="/ui/events/`+id+`"`,
			"may or may not have created the document")
	})

	t.Run("RetryNeedsConfirmation", func(t *testing.T) {
		w := f.post(op, "/ui/events/"+id+"/resolve", url.Values{"sink": {"ap"}, "outcome": {"retry"}})
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, "a retry may create a second document")
		if got := f.state(id, "ap"); got != relay.StateNeedsReview {
			t.Fatalf("state = %s, want needs_review", got)
		}
	})

	t.Run("DeliveredNeedsDocumentNumber", func(t *testing.T) {
		w := f.post(op, "/ui/events/"+id+"/resolve", url.Values{"sink": {"ap"}, "outcome": {"delivered"}, "document_number": {"  "}})
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, "document number")
	})

	t.Run("BadOutcome", func(t *testing.T) {
		w := f.post(op, "/ui/events/"+id+"/resolve", url.Values{"sink": {"ap"}, "outcome": {"ignore"}})
		wantStatus(t, w, http.StatusBadRequest)
	})

	t.Run("Delivered", func(t *testing.T) {
		w := f.post(op, "/ui/events/"+id+"/resolve", url.Values{"sink": {"ap"}, "outcome": {"delivered"},
			"document_number": {" AP/INV/2026/0042 "}, "return": {"/ui/review"}})
		wantLocation(t, w, "/ui/review?"+url.Values{"done": {"resolve-delivered"}, "to": {"ap"}, "doc": {"AP/INV/2026/0042"}}.Encode())
		d := f.event(id)
		if diff := cmp.Diff([]relay.CreatedDocument{{Sink: "ap", Subject: opts.TransactionID, EventID: id, DocumentNumber: "AP/INV/2026/0042",
			CreatedAt: f.clock.Now()}}, d.Created); diff != "" {
			t.Errorf("created documents (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"console:Citra resolve:delivered ap"}, f.history(id)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		page := f.get(op, w.Header().Get("Location"))
		wantBody(t, page, "Marked delivered to ap with document AP/INV/2026/0042.", "Nothing needs review.")
		page = f.get(op, "/ui/events/"+id)
		wantBody(t, page, `<p class="docnum">AP/INV/2026/0042</p>`, "In AccountingPlus once: console:Citra found it there and recorded it at")
		if strings.Contains(page.Body.String(), "<dt>document_number</dt>") {
			t.Error("the document number is listed twice")
		}

		// Once resolved, a second resolve is a conflict.
		w = f.post(op, "/ui/events/"+id+"/resolve", url.Values{"sink": {"ap"}, "outcome": {"retry"}, "confirm": {"yes"}})
		wantStatus(t, w, http.StatusConflict)
	})

	t.Run("Retry", func(t *testing.T) {
		other := f.ingest("transaction.sent", fixturesOpts("INV-2026-0043"))
		f.stall("ap", other)
		w := f.post(op, "/ui/events/"+other+"/resolve", url.Values{"sink": {"ap"}, "outcome": {"retry"}, "confirm": {"yes"}})
		wantLocation(t, w, "/ui/events/"+other+"?done=resolve-retry&to=ap")
		if got := f.state(other, "ap"); got != relay.StatePending {
			t.Errorf("state = %s after retry, want pending", got)
		}
		if diff := cmp.Diff([]string{"console:Citra resolve:retry ap"}, f.history(other)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})
}
