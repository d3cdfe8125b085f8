package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

var (
	bktEvents     = []byte("events")
	bktBodies     = []byte("bodies")
	bktByTime     = []byte("by_time")
	bktBySubject  = []byte("by_subject")
	bktSearch     = []byte("search")
	bktDead       = []byte("dead")
	bktCreated    = []byte("created")
	bktOperations = []byte("operations")
	bktCounts     = []byte("counts")
	bktOutbox     = []byte("outbox")

	subDue      = []byte("due")
	subInflight = []byte("inflight")
	subOpen     = []byte("open")
	subCounts   = []byte("counts")
)

func createBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bktEvents, bktBodies, bktByTime, bktBySubject, bktSearch,
		bktDead, bktCreated, bktOperations, bktCounts, bktOutbox} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return migrateQueues(tx)
}

// eventMeta is the per-event record: what the listing, search and status
// need, and the event's delivery record at every sink. The body and the
// CloudEvent live in bodies, so state changes rewrite only this. Keeping the
// deliveries here means a new event dirties one random page (its id), not
// one per sink.
type eventMeta struct {
	// Source is the relay source (relay.StoredSource: "" for the
	// environment's, as in every record written before sources existed).
	Source         string `json:"src,omitempty"`
	Type           string `json:"t,omitempty"`
	Subject        string `json:"s,omitempty"`
	Test           bool   `json:"x,omitempty"`
	ReceivedAt     int64  `json:"r"`
	LastReceivedAt int64  `json:"lr,omitempty"`
	Duplicates     int    `json:"d,omitempty"`
	Unparsed       bool   `json:"u,omitempty"`
	ParseError     string `json:"pe,omitempty"`
	Doc            string `json:"dn,omitempty"`
	Counterparty   string `json:"cp,omitempty"`
	// Txn is the transaction a payment (or other resource) belongs to.
	Txn string `json:"tx,omitempty"`
	// DataOffset is where the CloudEvent's data starts (0: no data), so a
	// claim slices it out instead of parsing the event.
	DataOffset int                        `json:"do,omitempty"`
	Deliveries map[string]*deliveryRecord `json:"dl,omitempty"`
}

func (m *eventMeta) status() string { return relay.EventStatus(m.Unparsed, m.states()) }

// states are the event's delivery states, one per sink.
func (m *eventMeta) states() []string {
	states := make([]string, 0, len(m.Deliveries))
	for _, d := range m.Deliveries {
		states = append(states, d.State)
	}
	return states
}

// deliveries returns the event's delivery records by sink name.
func (m *eventMeta) deliveries() []*deliveryRecord {
	out := make([]*deliveryRecord, 0, len(m.Deliveries))
	for _, d := range m.Deliveries {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Sink < out[j].Sink })
	return out
}

func (m *eventMeta) summary(id string) relay.EventSummary {
	states := m.states()
	return relay.EventSummary{
		ID: id, Source: relay.EventSource(m.Source), Type: m.Type, Subject: m.Subject,
		Status: relay.EventStatus(m.Unparsed, states), Skipped: relay.AllSkipped(states), Test: m.Test,
		ReceivedAt: time.Unix(0, m.ReceivedAt).UTC(), DocumentNumber: m.Doc, Counterparty: m.Counterparty,
	}
}

// deliveryRecord is an event's delivery record at one sink (the state
// machine's relay.DeliveryRecord) plus the keys that place it in the outbox
// indexes.
type deliveryRecord struct {
	relay.DeliveryRecord
	Seq     uint64 `json:"seq"`
	DueKey  []byte `json:"due_key,omitempty"`
	OpenKey []byte `json:"open_key,omitempty"`
	DeadKey []byte `json:"dead_key,omitempty"`
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func tsKey(t int64, rest ...[]byte) []byte {
	n := 8
	for _, r := range rest {
		n += len(r)
	}
	k := make([]byte, 0, n)
	// A time before 1970 (a zero time.Time: a Transition without NextAt, an
	// Attempt without At) counts as the epoch, i.e. due at once; as uint64
	// it would sort after every real time.
	k = append(k, u64(uint64(max(t, 0)))...)
	for _, r := range rest {
		k = append(k, r...)
	}
	return k
}

func join(parts ...[]byte) []byte {
	return bytes.Join(parts, []byte{0})
}

func getMeta(tx *bolt.Tx, id string) (*eventMeta, error) {
	v := tx.Bucket(bktEvents).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var m eventMeta
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("store: decode event %s: %w", id, err)
	}
	return &m, nil
}

// putMeta writes m, keeping the per-status counts right; oldStatus is the
// event's status before the change ("" for a new event).
func putMeta(tx *bolt.Tx, id string, oldStatus string, m *eventMeta) error {
	buf, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bktEvents).Put([]byte(id), buf); err != nil {
		return err
	}
	newStatus := m.status()
	if oldStatus == newStatus {
		return nil
	}
	if oldStatus != "" {
		addCount(tx.Bucket(bktCounts), oldStatus, -1)
	}
	addCount(tx.Bucket(bktCounts), newStatus, 1)
	return nil
}

func addCount(b *bolt.Bucket, name string, delta int64) {
	k := []byte(name)
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	_ = b.Put(k, u64(uint64(n)))
}

func getCount(b *bolt.Bucket, name string) int64 {
	if v := b.Get([]byte(name)); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// getDelivery returns an event's delivery record at sink (nil when none).
func getDelivery(tx *bolt.Tx, id, sink string) (*deliveryRecord, error) {
	m, err := getMeta(tx, id)
	if err != nil || m == nil {
		return nil, err
	}
	return m.Deliveries[sink], nil
}

// putDelivery writes a delivery record into its event, keeping the status
// counts right.
func putDelivery(tx *bolt.Tx, id string, r *deliveryRecord) error {
	e, err := loadEvent(tx, id)
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("store: event %s missing", id)
	}
	if e.meta.Deliveries == nil {
		e.meta.Deliveries = map[string]*deliveryRecord{}
	}
	e.meta.Deliveries[r.Sink] = r
	return e.save(tx, id)
}

// loadedEvent is an event record decoded for a change, with its status and
// search texts as stored: save writes it back keeping the counts and the
// search index right, without decoding it again (a decode is most of a
// Finish's cost).
type loadedEvent struct {
	meta   *eventMeta
	status string
	texts  map[string]bool
}

// loadEvent decodes event id's record (nil when there is none).
func loadEvent(tx *bolt.Tx, id string) (*loadedEvent, error) {
	m, err := getMeta(tx, id)
	if err != nil || m == nil {
		return nil, err
	}
	return &loadedEvent{meta: m, status: m.status(), texts: m.searchTexts()}, nil
}

// delivery returns the event's delivery record at sink, which save writes
// back with the event (nil when the event or the delivery is missing).
func (e *loadedEvent) delivery(sink string) *deliveryRecord {
	if e == nil {
		return nil
	}
	return e.meta.Deliveries[sink]
}

// save writes the changed record back: its search keys moved from the
// texts it had when loaded, and the status counts.
func (e *loadedEvent) save(tx *bolt.Tx, id string) error {
	if err := updateSearch(tx, id, e.texts, e.meta.searchTexts()); err != nil {
		return err
	}
	return putMeta(tx, id, e.status, e.meta)
}

// searchTexts returns every text the search bucket holds for the event:
// its document number, counterparty and parent transaction, and the
// document numbers its sinks returned (relay.ReturnedNumbers), lower case
// (as searchKey stores them), without repeats.
func (m *eventMeta) searchTexts() map[string]bool {
	out := map[string]bool{}
	for _, text := range []string{m.Doc, m.Counterparty, m.Txn} {
		if text != "" {
			out[strings.ToLower(text)] = true
		}
	}
	for _, d := range m.Deliveries {
		for _, n := range relay.ReturnedNumbers(d.Result) {
			out[strings.ToLower(n)] = true
		}
	}
	return out
}

// updateSearch moves the event's search keys from the texts before to the
// texts after a change.
func updateSearch(tx *bolt.Tx, id string, before, after map[string]bool) error {
	b := tx.Bucket(bktSearch)
	for text := range before {
		if !after[text] {
			if err := b.Delete(searchKey(text, id)); err != nil {
				return err
			}
		}
	}
	for text := range after {
		if !before[text] {
			if err := b.Put(searchKey(text, id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// deliveriesOf returns every delivery record of an event, by sink name.
func deliveriesOf(tx *bolt.Tx, id string) ([]*deliveryRecord, error) {
	m, err := getMeta(tx, id)
	if err != nil || m == nil {
		return nil, err
	}
	return m.deliveries(), nil
}

func sinkBucket(tx *bolt.Tx, sink string) (*bolt.Bucket, error) {
	ob := tx.Bucket(bktOutbox)
	if b := ob.Bucket([]byte(sink)); b != nil {
		return b, nil
	}
	if !tx.Writable() {
		return nil, nil
	}
	b, err := ob.CreateBucket([]byte(sink))
	if err != nil {
		return nil, err
	}
	for _, sub := range [][]byte{subDue, subInflight, subOpen, subCounts, subHeads, subWaiting} {
		if _, err := b.CreateBucket(sub); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// putBody stores the delivery and its CloudEvent under the event's time key
// (received(8) id). Keys in receive order make ingest append at the right
// edge of the tree: a batch of deliveries fills a few dense pages instead of
// dirtying one random page each, which is most of a commit's cost.
func putBody(tx *bolt.Tx, timeKey []byte, d *relay.Delivery, event []byte) error {
	raw := encodeRaw(d)
	v := make([]byte, 0, binary.MaxVarintLen64+len(raw)+len(event))
	v = binary.AppendUvarint(v, uint64(len(raw)))
	v = append(v, raw...)
	v = append(v, event...)
	b := tx.Bucket(bktBodies)
	b.FillPercent = 1.0
	return b.Put(timeKey, v)
}

// getBody returns an event's headers, body and CloudEvent (copies).
func getBody(tx *bolt.Tx, id string, m *eventMeta) (map[string]string, []byte, []byte, error) {
	v := tx.Bucket(bktBodies).Get(tsKey(m.ReceivedAt, []byte(id)))
	n, w := binary.Uvarint(v)
	if w <= 0 || uint64(len(v)-w) < n {
		return nil, nil, nil, fmt.Errorf("store: body of %s missing or corrupt", id)
	}
	headers, body, err := decodeRaw(v[w : w+int(n)])
	if err != nil {
		return nil, nil, nil, err
	}
	var event []byte
	if rest := v[w+int(n):]; len(rest) > 0 {
		event = append([]byte(nil), rest...)
	}
	return headers, body, event, nil
}

// encodeRaw stores a delivery's headers and body: uvarint header count,
// then length-prefixed names and values, then the body.
func encodeRaw(d *relay.Delivery) []byte {
	n := 16 + len(d.Body)
	keys := make([]string, 0, len(d.Headers))
	for k, v := range d.Headers {
		keys = append(keys, k)
		n += len(k) + len(v) + 8
	}
	sort.Strings(keys)
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		v := d.Headers[k]
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return append(b, d.Body...)
}

func decodeRaw(b []byte) (map[string]string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, nil, fmt.Errorf("store: corrupt raw delivery")
	}
	b = b[w:]
	h := make(map[string]string, n)
	read := func() (string, error) {
		l, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < l {
			return "", fmt.Errorf("store: corrupt raw delivery")
		}
		s := string(b[w : w+int(l)])
		b = b[w+int(l):]
		return s, nil
	}
	for i := uint64(0); i < n; i++ {
		k, err := read()
		if err != nil {
			return nil, nil, err
		}
		v, err := read()
		if err != nil {
			return nil, nil, err
		}
		h[k] = v
	}
	body := make([]byte, len(b))
	copy(body, b)
	return h, body, nil
}
