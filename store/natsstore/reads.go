package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reads that decide a delivery (SPEC 5, "Read your writes").
//
// The raw stream and both buckets allow direct gets, and nats.go sends
// every Get of a stream or bucket that allows them as a direct get, which
// any replica of the stream answers, the nearest first. A follower applies
// a write only once it learns that the write was committed, which it
// learns from the leader's next append or heartbeat: right after an
// acknowledged write, and the longer the lighter the load, a follower still
// answers "not found" or the value before it. The server (2.15) has no
// sequence floor for direct gets, so the reads below ask the stream leader
// through the stream's message-get API ($JS.API.STREAM.MSG.GET), which
// only the leader answers, from state that holds every acknowledged write
// (the leader acknowledges a write after applying it, and a newly elected
// leader announces itself only once it has applied its first entry, so
// everything committed before it).
// Every read that decides what happens to a delivery goes through them: the
// raw copy a claim sends, the event record a compare-and-set starts from,
// the create-once record that stops a second document, and ingest's checks
// of a copy another replica is storing.

// leaderTimeout bounds one leader read when ctx has no deadline (the
// JetStream client's default API timeout).
const leaderTimeout = 5 * time.Second

// leaderMsg returns the last message of subject in stream, read from the
// stream leader. It returns jetstream.ErrMsgNotFound when there is none.
func (s *Store) leaderMsg(ctx context.Context, stream, subject string) (*jetstream.RawStreamMsg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaderTimeout)
		defer cancel()
	}
	req, err := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{subject})
	if err != nil {
		return nil, err
	}
	m, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("stream %s: no leader answers: %w", stream, err)
	}
	if err != nil {
		return nil, err
	}
	var resp struct {
		Error   *jetstream.APIError `json:"error"`
		Message *struct {
			Subject  string    `json:"subject"`
			Sequence uint64    `json:"seq"`
			Header   []byte    `json:"hdrs"`
			Data     []byte    `json:"data"`
			Time     time.Time `json:"time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return nil, fmt.Errorf("stream %s: decode message get answer: %w", stream, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, jetstream.ErrMsgNotFound
		}
		return nil, resp.Error
	}
	if resp.Message == nil {
		return nil, jetstream.ErrInvalidJetStreamResponse
	}
	msg := &jetstream.RawStreamMsg{Subject: resp.Message.Subject, Sequence: resp.Message.Sequence, Data: resp.Message.Data, Time: resp.Message.Time}
	if len(resp.Message.Header) > 0 {
		if msg.Header, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
			return nil, fmt.Errorf("stream %s: decode headers: %w", stream, err)
		}
	}
	return msg, nil
}

// leaderKV returns the current value of key in kv, read from the leader of
// the bucket's stream. A key never written, deleted, purged or removed by a
// purge marker is jetstream.ErrKeyNotFound; for a deleted one the entry is
// returned too (its revision is the delete's, for a create over it).
func (s *Store) leaderKV(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyValueEntry, error) {
	bucket := kv.Bucket()
	m, err := s.leaderMsg(ctx, "KV_"+bucket, "$KV."+bucket+"."+key)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, jetstream.ErrKeyNotFound
	}
	if err != nil {
		return nil, err
	}
	e := &leaderEntry{bucket: bucket, key: key, value: m.Data, rev: m.Sequence, created: m.Time, op: jetstream.KeyValuePut}
	switch {
	case m.Header.Get("KV-Operation") == "DEL":
		e.op = jetstream.KeyValueDelete
	case m.Header.Get("KV-Operation") == "PURGE", m.Header.Get(jetstream.MarkerReasonHeader) != "":
		e.op = jetstream.KeyValuePurge
	}
	if e.op != jetstream.KeyValuePut {
		return e, jetstream.ErrKeyNotFound
	}
	return e, nil
}

// leaderEntry is a jetstream.KeyValueEntry read by leaderKV.
type leaderEntry struct {
	bucket, key string
	value       []byte
	rev         uint64
	created     time.Time
	op          jetstream.KeyValueOp
}

func (e *leaderEntry) Bucket() string                  { return e.bucket }
func (e *leaderEntry) Key() string                     { return e.key }
func (e *leaderEntry) Value() []byte                   { return e.value }
func (e *leaderEntry) Revision() uint64                { return e.rev }
func (e *leaderEntry) Created() time.Time              { return e.created }
func (e *leaderEntry) Delta() uint64                   { return 0 }
func (e *leaderEntry) Operation() jetstream.KeyValueOp { return e.op }
