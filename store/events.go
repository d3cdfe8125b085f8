package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

const (
	// maxSearchHits bounds the candidates a free-text search collects.
	maxSearchHits = 10000
)

// encodeCursor and decodeCursor turn a by_time key into an opaque token.
func encodeCursor(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

func decodeCursor(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	k, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(k) < 8 {
		return nil, relay.Errorf(relay.EINVALID, "cursor: not a cursor this server issued")
	}
	return k, nil
}

// matchesFilter applies the filters that need the event's meta.
func matchesFilter(f *relay.EventFilter, m *eventMeta) bool {
	if f.Type != "" && !relay.MatchGlob(f.Type, m.Type) {
		return false
	}
	if f.Status != "" && m.status() != f.Status {
		return false
	}
	if f.Subject != "" && m.Subject != f.Subject {
		return false
	}
	if f.Source != "" && relay.EventSource(m.Source) != f.Source {
		return false
	}
	if !f.Since.IsZero() && m.ReceivedAt < f.Since.UnixNano() {
		return false
	}
	if !f.Until.IsZero() && m.ReceivedAt > f.Until.UnixNano() {
		return false
	}
	return true
}

// ListEvents returns events newest first. With Q it looks up the event id,
// the subject, and document numbers and counterparty names (prefix via the
// index, then case-insensitive substring over the index keys).
func (s *Store) ListEvents(ctx context.Context, f relay.EventFilter) (relay.EventPage, error) {
	page := relay.EventPage{Events: []relay.EventSummary{}}
	limit := relay.ClampLimit(f.Limit)
	after, err := decodeCursor(f.Cursor)
	if err != nil {
		return page, err
	}
	var lastKey []byte
	err = s.view(func(tx *bolt.Tx) error {
		events := tx.Bucket(bktEvents)
		emit := func(timeKey []byte) (bool, error) {
			id := timeKey[8:]
			v := events.Get(id)
			if v == nil {
				return true, nil
			}
			var m eventMeta
			if err := json.Unmarshal(v, &m); err != nil {
				return false, err
			}
			if !matchesFilter(&f, &m) {
				return true, nil
			}
			if len(page.Events) == limit {
				page.NextCursor = encodeCursor(lastKey)
				return false, nil
			}
			lastKey = append(lastKey[:0], timeKey...)
			page.Events = append(page.Events, m.summary(string(id)))
			return true, nil
		}
		switch {
		case strings.TrimSpace(f.Q) != "":
			keys := searchCandidates(tx, strings.TrimSpace(f.Q))
			for _, k := range keys {
				if after != nil && bytes.Compare(k, after) >= 0 {
					continue
				}
				if ok, err := emit(k); err != nil || !ok {
					return err
				}
			}
		case f.Subject != "":
			prefix := append([]byte(f.Subject), 0)
			c := tx.Bucket(bktBySubject).Cursor()
			k := seekLastWithPrefix(c, prefix)
			for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
				tk := k[len(prefix):]
				if after != nil && bytes.Compare(tk, after) >= 0 {
					continue
				}
				if ok, err := emit(tk); err != nil || !ok {
					return err
				}
			}
		default:
			c := tx.Bucket(bktByTime).Cursor()
			var k []byte
			if after != nil {
				k = lastBefore(c, after)
			} else if !f.Until.IsZero() {
				k, _ = c.Seek(u64(uint64(f.Until.UnixNano() + 1)))
				if k == nil {
					k, _ = c.Last()
				} else {
					k, _ = c.Prev()
				}
			} else {
				k, _ = c.Last()
			}
			sinceNanos := f.Since.UnixNano()
			for ; k != nil; k, _ = c.Prev() {
				if !f.Since.IsZero() && int64(binary.BigEndian.Uint64(k[:8])) < sinceNanos {
					break
				}
				if ok, err := emit(k); err != nil || !ok {
					return err
				}
			}
		}
		return nil
	})
	return page, err
}

// seekLastWithPrefix positions c on the last key with prefix.
func seekLastWithPrefix(c *bolt.Cursor, prefix []byte) []byte {
	end := append(append([]byte(nil), prefix[:len(prefix)-1]...), 1) // prefix with 0x00 → 0x01
	k, _ := c.Seek(end)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	return k
}

// searchCandidates returns by_time keys of events matching q, newest first:
// by event id, subject, or a substring of a document number, counterparty
// name or parent transaction id; then the events that belong to a
// transaction found so (its payments, indexed under their
// data.transaction_id).
func searchCandidates(tx *bolt.Tx, q string) [][]byte {
	seen := map[string]bool{}
	var keys [][]byte
	var transactions []string // subjects of transaction events found
	add := func(id []byte) {
		if seen[string(id)] || len(keys) >= maxSearchHits {
			return
		}
		v := tx.Bucket(bktEvents).Get(id)
		if v == nil {
			return
		}
		var m struct {
			R int64  `json:"r"`
			T string `json:"t"`
			S string `json:"s"`
		}
		if json.Unmarshal(v, &m) != nil {
			return
		}
		seen[string(id)] = true
		keys = append(keys, tsKey(m.R, id))
		if strings.HasPrefix(m.T, "transaction.") && m.S != "" && !slices.Contains(transactions, m.S) {
			transactions = append(transactions, m.S)
		}
	}
	add([]byte(q))
	if len(keys) == 1 {
		// q is an event id, which is unique: nothing else to look for.
		return keys
	}
	prefix := append([]byte(q), 0)
	c := tx.Bucket(bktBySubject).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		add(k[len(prefix)+8:])
	}
	// Case-insensitive substring over the index keys (keys only, no
	// values read): about 100 ms per million events on this machine.
	needle := []byte(strings.ToLower(q))
	sc := tx.Bucket(bktSearch).Cursor()
	for k, _ := sc.First(); k != nil && len(keys) < maxSearchHits; k, _ = sc.Next() {
		i := bytes.LastIndexByte(k, 0)
		if i < 0 {
			continue
		}
		if bytes.Contains(k[:i], needle) {
			add(k[i+1:])
		}
	}
	// The payments (and other resources) of the transactions found: their
	// parent's id is a search key of theirs.
	for i := 0; i < len(transactions) && len(keys) < maxSearchHits; i++ {
		prefix := append([]byte(strings.ToLower(transactions[i])), 0)
		for k, _ := sc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = sc.Next() {
			add(k[len(prefix):])
		}
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) > 0 })
	return keys
}

// GetEvent returns everything stored about one event.
func (s *Store) GetEvent(ctx context.Context, id string) (*relay.EventDetail, error) {
	var d *relay.EventDetail
	err := s.view(func(tx *bolt.Tx) error {
		m, err := getMeta(tx, id)
		if err != nil {
			return err
		}
		if m == nil {
			return relay.Errorf(relay.ENOTFOUND, "event %s not found", id)
		}
		headers, body, event, err := getBody(tx, id, m)
		if err != nil {
			return err
		}
		d = &relay.EventDetail{
			EventSummary:   m.summary(id),
			Duplicates:     m.Duplicates,
			LastReceivedAt: time.Unix(0, m.LastReceivedAt).UTC(),
			ParseError:     m.ParseError,
			Raw:            relay.RawDelivery{Headers: headers, BodyBase64: body},
			Event:          event,
			Deliveries:     []relay.DeliveryState{},
		}
		if json.Valid(body) {
			d.Raw.Body = body
		}
		if len(d.Event) == 0 {
			d.Event = nil
		}
		recs, err := deliveriesOf(tx, id)
		if err != nil {
			return err
		}
		for _, r := range recs {
			claimed := inFlight(tx, r.Sink, id)
			var waitingFor, waitingState string
			if !claimed && r.State == relay.StatePending && r.DueKey == nil && r.OrderKey != "" {
				if waitingFor, waitingState, err = blocker(tx, r.OrderKey, r.Sink, id); err != nil {
					return err
				}
			}
			d.Deliveries = append(d.Deliveries, r.Display(claimed, waitingFor, waitingState))
			if m.Subject != "" {
				cd, err := getCreated(tx, r.Sink, m.Subject)
				if err != nil {
					return err
				}
				if cd != nil {
					d.Created = append(d.Created, *cd)
				}
			}
		}
		prefix := append([]byte(id), 0)
		c := tx.Bucket(bktOperations).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var h relay.HistoryEntry
			if json.Unmarshal(v, &h) == nil {
				d.Operations = append(d.Operations, h)
			}
		}
		return nil
	})
	return d, err
}

// Stats counts events by status and each sink's deliveries by state.
func (s *Store) Stats(ctx context.Context, now time.Time) (relay.Stats, error) {
	st := relay.Stats{Events: map[string]int64{}, Sinks: map[string]relay.SinkStats{}}
	err := s.view(func(tx *bolt.Tx) error {
		_ = tx.Bucket(bktCounts).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				if n := int64(binary.BigEndian.Uint64(v)); n != 0 {
					st.Events[string(k)] = n
				}
			}
			return nil
		})
		return tx.Bucket(bktOutbox).ForEachBucket(func(name []byte) error {
			sb := tx.Bucket(bktOutbox).Bucket(name)
			c := sb.Bucket(subCounts)
			ss := relay.SinkStats{
				Pending:     getCount(c, relay.StatePending),
				InFlight:    getCount(c, relay.StateInFlight),
				Delivered:   getCount(c, relay.StateDelivered),
				Skipped:     getCount(c, relay.StateSkipped),
				Dead:        getCount(c, relay.StateDead),
				NeedsReview: getCount(c, relay.StateNeedsReview),
			}
			ss.DeliveredLastHour, ss.FailedLastHour = lastHour(sb, now)
			if k, _ := sb.Bucket(subOpen).Cursor().First(); k != nil {
				since := time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
				if age := now.Sub(since).Seconds(); age > 0 {
					ss.OldestPendingAge = age
				}
			}
			st.Sinks[string(name)] = ss
			return nil
		})
	})
	return st, err
}

// inFlight reports whether a delivery is claimed by a worker right now (the
// sink's inflight bucket is the record of that; the event keeps "pending").
func inFlight(tx *bolt.Tx, sink, id string) bool {
	sb := tx.Bucket(bktOutbox).Bucket([]byte(sink))
	return sb != nil && sb.Bucket(subInflight).Get([]byte(id)) != nil
}
