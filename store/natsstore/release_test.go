package natsstore_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/store/natsstore"
	"github.com/tagihan-relay/tagihan-relay/store/storetest"
)

// TestClaimDue_UnloadableEventBackToPending claims an entry whose raw copy
// cannot be read (here: removed from the stream; in a cluster: a lagging
// read). SPEC 5: the claim goes back to pending without an attempt, even
// at a sink that reviews unknown outcomes, instead of waiting in flight
// for its lease to expire and landing in needs_review with 0 attempts; once
// the copy is readable it is claimed as a first attempt.
func TestClaimDue_UnloadableEventBackToPending(t *testing.T) {
	url := shared.ClientURL()
	prefix := freshPrefix(t, url)
	s := MustOpenStore(t, natsstore.Options{URLs: url, Prefix: prefix, AckWait: func(string) time.Duration { return 300 * time.Millisecond }})
	ctx := context.Background()
	if _, err := s.ResumeInFlight(ctx, "ap", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(ctx, storetest.NewEvent("evt_1", time.Now(), relay.OutboxTarget{Sink: "ap"})); err != nil {
		t.Fatal(err)
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	_, _, rawName := natsstore.Names(prefix)
	raw, err := js.Stream(ctx, rawName)
	if err != nil {
		t.Fatal(err)
	}
	subj := prefix + ".raw." + base64.RawURLEncoding.EncodeToString([]byte("evt_1"))
	saved, err := raw.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		t.Fatal(err)
	}

	claims, _, err := s.ClaimDue(ctx, "ap", time.Now(), 1)
	if err == nil || len(claims) != 0 {
		t.Fatalf("ClaimDue without the raw copy = %v, %v; want an error and no claim", claims, err)
	}
	st, err := s.Stats(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Sinks["ap"]; got.Pending != 1 || got.InFlight != 0 || got.NeedsReview != 0 {
		t.Fatalf("ap after the failed claim: %+v; want it pending again (not in flight, not needs_review)", got)
	}

	if _, err := js.Publish(ctx, subj, saved.Data); err != nil {
		t.Fatal(err)
	}
	// The released entry is due again shortly; claim as of a moment later
	// instead of waiting for it.
	claims, _, err = s.ClaimDue(ctx, "ap", time.Now().Add(time.Minute), 1)
	if err != nil || len(claims) != 1 {
		t.Fatalf("ClaimDue with the raw copy back = %v, %v; want evt_1", claims, err)
	}
	if c := claims[0]; c.EventID != "evt_1" || c.Attempt != 1 || c.PriorUnknown || len(c.Delivery.Body) == 0 {
		t.Errorf("claim = %s attempt %d prior unknown %v body %d bytes; want evt_1, attempt 1, not unknown, the body",
			c.EventID, c.Attempt, c.PriorUnknown, len(c.Delivery.Body))
	}
	d, err := s.GetEvent(ctx, "evt_1")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Deliveries[0]; got.State != relay.StateInFlight || got.Attempts != 0 {
		t.Errorf("delivery = %s after %d attempts, want in_flight after 0", got.State, got.Attempts)
	}
}

// TestClaimDue_CorruptEventDead claims an entry whose raw copy is stored
// but cannot be decoded: retrying would not help, and nothing was sent, so
// the entry is dead after 0 attempts (for an operator), not needs_review
// and not left in flight.
func TestClaimDue_CorruptEventDead(t *testing.T) {
	url := shared.ClientURL()
	prefix := freshPrefix(t, url)
	s := MustOpenStore(t, natsstore.Options{URLs: url, Prefix: prefix})
	ctx := context.Background()
	if _, err := s.ResumeInFlight(ctx, "ap", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(ctx, storetest.NewEvent("evt_1", time.Now(), relay.OutboxTarget{Sink: "ap"})); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	_, _, rawName := natsstore.Names(prefix)
	raw, err := js.Stream(ctx, rawName)
	if err != nil {
		t.Fatal(err)
	}
	subj := prefix + ".raw." + base64.RawURLEncoding.EncodeToString([]byte("evt_1"))
	if err := raw.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subj, []byte{9, 9, 9}); err != nil {
		t.Fatal(err)
	}
	claims, _, err := s.ClaimDue(ctx, "ap", time.Now(), 1)
	if err == nil || len(claims) != 0 {
		t.Fatalf("ClaimDue of a corrupt copy = %v, %v; want an error and no claim", claims, err)
	}
	page, err := s.ListDeadLetters(ctx, relay.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.DeadLetters) != 1 {
		t.Fatalf("dead letters = %+v, want evt_1", page.DeadLetters)
	}
	if dl := page.DeadLetters[0]; dl.EventID != "evt_1" || dl.State != relay.StateDead || dl.Attempts != 0 || !strings.Contains(dl.Reason, "cannot be read") {
		t.Errorf("dead letter = %+v; want evt_1 dead after 0 attempts, the event cannot be read", dl)
	}
}
