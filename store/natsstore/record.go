package natsstore

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// record is one event's value in the events bucket: what was received (but
// not the body, which lives in the raw stream), its per-sink delivery
// records and the operator's actions. It is the unit of atomicity: the
// create of this key is ingest's commit point (the dedup key and every
// outbox entry at once) and every state change is a compare-and-set on its
// revision.
type record struct {
	ID             string               `json:"id"`
	Source         string               `json:"src,omitempty"` // relay.StoredSource: "" for the environment's (and older records)
	Type           string               `json:"t,omitempty"`
	Subject        string               `json:"s,omitempty"`
	Test           bool                 `json:"x,omitempty"`
	ReceivedAt     int64                `json:"r"`
	LastReceivedAt int64                `json:"lr,omitempty"`
	Duplicates     int                  `json:"d,omitempty"`
	Unparsed       bool                 `json:"u,omitempty"`
	ParseError     string               `json:"pe,omitempty"`
	Doc            string               `json:"dn,omitempty"`
	Counterparty   string               `json:"cp,omitempty"`
	Txn            string               `json:"tx,omitempty"` // the transaction a payment belongs to
	DataOffset     int                  `json:"do,omitempty"`
	Deliveries     []*delivery          `json:"dl,omitempty"`
	Ops            []relay.HistoryEntry `json:"ops,omitempty"`
}

// delivery is the event's delivery record at one sink (the state
// machine's relay.DeliveryRecord) plus what places it in the outbox.
type delivery struct {
	relay.DeliveryRecord
	// Seq orders the entries of one (sink, order key) queue. 0 in a written
	// value means "the revision of this write": an entry enqueued by a write
	// takes that write's revision, which is unique and grows with time, and
	// keeps it until it is enqueued again (redrive, replay).
	Seq uint64 `json:"seq,omitempty"`
	// Due is when a pending entry may be claimed (unix ns).
	Due int64 `json:"due,omitempty"`
	// Since is when the entry last became open (pending or in flight), for
	// the oldest-pending age; 0 when it is not open.
	Since int64 `json:"since,omitempty"`
	// DeadAt is when it became dead or needs_review.
	DeadAt int64 `json:"dead_at,omitempty"`
	// Owner and Lease say who holds an in-flight claim and until when (wall
	// clock, unix ns). Another replica takes over an expired lease.
	Owner string `json:"owner,omitempty"`
	Lease int64  `json:"lease,omitempty"`
}

// maxOps bounds the operator actions kept per event, which keeps the value
// that every state change rewrites small.
const maxOps = 100

func decodeRecord(b []byte, rev uint64) (*record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("natsstore: decode event record: %w", err)
	}
	for _, d := range r.Deliveries {
		if d.Seq == 0 {
			d.Seq = rev
		}
	}
	return &r, nil
}

func (r *record) encode() ([]byte, error) {
	sort.Slice(r.Deliveries, func(i, j int) bool { return r.Deliveries[i].Sink < r.Deliveries[j].Sink })
	return json.Marshal(r)
}

func (r *record) delivery(sink string) *delivery {
	for _, d := range r.Deliveries {
		if d.Sink == sink {
			return d
		}
	}
	return nil
}

func (r *record) status() string { return relay.EventStatus(r.Unparsed, r.states()) }

// states are the event's delivery states, one per sink.
func (r *record) states() []string {
	states := make([]string, len(r.Deliveries))
	for i, d := range r.Deliveries {
		states[i] = d.State
	}
	return states
}

func (r *record) addOp(h relay.HistoryEntry) {
	r.Ops = append(r.Ops, h)
	if len(r.Ops) > maxOps {
		r.Ops = append(r.Ops[:0:0], r.Ops[len(r.Ops)-maxOps:]...)
	}
}

func (r *record) summary() relay.EventSummary {
	states := r.states()
	return relay.EventSummary{
		ID: r.ID, Source: relay.EventSource(r.Source), Type: r.Type, Subject: r.Subject,
		Status: relay.EventStatus(r.Unparsed, states), Skipped: relay.AllSkipped(states), Test: r.Test,
		ReceivedAt: fromNanos(r.ReceivedAt), DocumentNumber: r.Doc, Counterparty: r.Counterparty,
	}
}

// newRecord is the record ingest creates for e: every target pending, due
// at the receive time.
func newRecord(e *relay.NewEvent) *record {
	received := nanos(e.Delivery.ReceivedAt)
	r := &record{
		ID: e.ID, Source: relay.StoredSource(e.Source), Type: e.Type, Subject: e.Subject, Test: e.Test,
		ReceivedAt: received, LastReceivedAt: received,
		Unparsed: e.Unparsed, ParseError: e.ParseError, Doc: e.DocumentNumber, Counterparty: e.Counterparty,
		Txn: e.TransactionID, DataOffset: e.EventDataOffset,
	}
	seen := map[string]bool{}
	for _, t := range e.Targets {
		if seen[t.Sink] {
			continue
		}
		seen[t.Sink] = true
		r.Deliveries = append(r.Deliveries, newDelivery(t, e.Delivery.ReceivedAt))
	}
	return r
}

func newDelivery(t relay.OutboxTarget, now time.Time) *delivery {
	rec, ch := relay.NewDeliveryRecord(t, now)
	d := &delivery{DeliveryRecord: *rec}
	d.apply(ch)
	return d
}

// apply sets d's outbox fields for ch, a change the state machine made to
// d's record. The create-once record (ch.Created) is the caller's: it is
// written before the record is.
func (d *delivery) apply(ch relay.Change) {
	d.Owner, d.Lease = "", 0
	if ch.Enqueue {
		d.Seq = 0 // the back of its queue: this write's revision
	}
	switch {
	case ch.To == relay.StatePending:
		d.setDue(ch.Due)
		if ch.Enqueue || d.Since == 0 {
			d.Since = nanos(ch.At)
		}
		d.DeadAt = 0
	case ch.DeadLetter:
		d.Due, d.Since = 0, 0
		d.DeadAt = nanos(ch.At)
	default:
		d.Due, d.Since, d.DeadAt = 0, 0, 0
	}
}

func (d *delivery) setDue(t time.Time) {
	d.Due = nanos(t)
	at := t.UTC()
	d.NextAttemptAt = &at
}

// nanos converts t to unix nanoseconds; times before 1970 (a zero
// time.Time: a transition without NextAt) count as the epoch, due at once.
func nanos(t time.Time) int64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// Keys and subjects. Event ids are arbitrary text (sha256:..., dots,
// spaces), so every id and sink name is base64url-encoded into one token,
// which NATS keys and subjects both accept.
func token(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func untoken(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err
}

const (
	eventKeyPrefix = "e."
	syncKey        = "sync"
)

func eventKey(id string) string { return eventKeyPrefix + token(id) }

func createdKey(sink, subject string) string { return "c." + token(sink) + "." + token(subject) }

// encodeRaw stores a delivery's headers, body and CloudEvent: a version
// byte, uvarint header count, length-prefixed names and values, the
// length-prefixed body, then the CloudEvent to the end.
func encodeRaw(d *relay.Delivery, ce []byte) []byte {
	keys := make([]string, 0, len(d.Headers))
	n := 24 + len(d.Body) + len(ce)
	for k, v := range d.Headers {
		keys = append(keys, k)
		n += len(k) + len(v) + 8
	}
	sort.Strings(keys)
	b := make([]byte, 0, n)
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		v := d.Headers[k]
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = binary.AppendUvarint(b, uint64(len(d.Body)))
	b = append(b, d.Body...)
	return append(b, ce...)
}

var errCorruptRaw = errors.New("natsstore: corrupt raw delivery")

// decodeRaw returns the headers, body and CloudEvent (nil when none) of an
// encoded raw delivery; the slices are copies.
func decodeRaw(b []byte) (map[string]string, []byte, json.RawMessage, error) {
	if len(b) == 0 || b[0] != 1 {
		return nil, nil, nil, errCorruptRaw
	}
	b = b[1:]
	readLen := func() (int, error) {
		l, w := binary.Uvarint(b)
		if w <= 0 || l > uint64(len(b)-w) {
			return 0, errCorruptRaw
		}
		b = b[w:]
		return int(l), nil
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, nil, nil, errCorruptRaw
	}
	b = b[w:]
	h := make(map[string]string, n)
	for i := uint64(0); i < n; i++ {
		kl, err := readLen()
		if err != nil {
			return nil, nil, nil, err
		}
		k := string(b[:kl])
		b = b[kl:]
		vl, err := readLen()
		if err != nil {
			return nil, nil, nil, err
		}
		h[k] = string(b[:vl])
		b = b[vl:]
	}
	bl, err := readLen()
	if err != nil {
		return nil, nil, nil, err
	}
	body := append([]byte{}, b[:bl]...)
	var ce json.RawMessage
	if rest := b[bl:]; len(rest) > 0 {
		ce = append(json.RawMessage(nil), rest...)
	}
	return h, body, ce, nil
}
