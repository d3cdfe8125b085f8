package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// markerTTL is how long the purge marker of a removed event stays in the
// events bucket: long enough for every watcher (even one reconnecting) to
// see the removal, short enough that markers do not pile up.
const markerTTL = 24 * time.Hour

// provision creates the buckets and the stream, or binds to them when they
// exist (updating them when the replica count or marker TTL changed), so
// every replica provisions at start and several can start together. A
// JetStream cluster still electing its leaders does not answer at all, and
// neither does it answer the losers of concurrent creates of one stream:
// each attempt is bounded (2 s, growing to 10 s) and retried until ctx ends;
// a retry then finds what the winner created.
func (s *Store) provision(ctx context.Context) error {
	s.rawPre = s.opts.Prefix + ".raw."
	backoff := 50 * time.Millisecond
	attempt := 2 * time.Second
	start := time.Now()
	for {
		err := s.provisionOnce(ctx, attempt)
		if err == nil {
			return nil
		}
		// A server without JetStream says so at once; a cluster still
		// starting may say so for a moment.
		if (errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount)) &&
			time.Since(start) > 2*time.Second {
			return fmt.Errorf("natsstore: JetStream is not enabled on the NATS server (or not for this account): %w", err)
		}
		s.log.Warn("natsstore: provision streams and buckets", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsstore: provision streams and buckets: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
		attempt = min(attempt*2, 10*time.Second)
	}
}

func (s *Store) provisionOnce(ctx context.Context, attempt time.Duration) error {
	evName, crName, rawName := Names(s.opts.Prefix)
	rctx, cancel := context.WithTimeout(ctx, attempt)
	defer cancel()
	if _, err := s.js.AccountInfo(rctx); err != nil {
		return fmt.Errorf("account info: %w", err)
	}
	for _, b := range []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&s.events, jetstream.KeyValueConfig{Bucket: evName, Description: "tagihan-relay events: dedup keys, delivery records, outbox state",
			LimitMarkerTTL: markerTTL}},
		{&s.create, jetstream.KeyValueConfig{Bucket: crName, Description: "tagihan-relay create-once records (sink, subject) → document"}},
		{&s.sources, jetstream.KeyValueConfig{Bucket: SourcesBucket(s.opts.Prefix), Description: "tagihan-relay sources (SPEC 6): name → sealed configuration"}},
	} {
		if *b.kv != nil {
			continue
		}
		b.cfg.History, b.cfg.Replicas, b.cfg.Storage = 1, s.opts.Replicas, jetstream.FileStorage
		kv, err := s.ensureBucket(rctx, b.cfg)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", b.cfg.Bucket, err)
		}
		*b.kv = kv
	}
	if s.raw == nil {
		st, err := s.ensureStream(rctx, jetstream.StreamConfig{
			Name: rawName, Description: "tagihan-relay raw deliveries (headers, body, CloudEvent), one per event id",
			Subjects: []string{s.rawPre + ">"}, Storage: jetstream.FileStorage, Replicas: s.opts.Replicas,
			MaxMsgsPerSubject: 1, MaxMsgs: -1, MaxBytes: -1, MaxConsumers: -1, Discard: jetstream.DiscardOld,
			Duplicates: 2 * time.Minute, AllowDirect: true,
		})
		if err != nil {
			return fmt.Errorf("stream %s: %w", rawName, err)
		}
		s.raw = st
	}
	return nil
}

func (s *Store) ensureBucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := s.js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = s.js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			return s.js.KeyValue(ctx, cfg.Bucket)
		}
		return kv, err
	}
	if err != nil {
		return nil, err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, err
	}
	if have := st.Config(); have.Replicas != cfg.Replicas || have.LimitMarkerTTL != cfg.LimitMarkerTTL {
		return s.js.UpdateKeyValue(ctx, cfg)
	}
	return kv, nil
}

func (s *Store) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := s.js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = s.js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return s.js.Stream(ctx, cfg.Name)
		}
		return st, err
	}
	if err != nil {
		return nil, err
	}
	have := st.CachedInfo().Config
	if have.Replicas != cfg.Replicas || have.MaxMsgsPerSubject != cfg.MaxMsgsPerSubject || !have.AllowDirect ||
		len(have.Subjects) != 1 || have.Subjects[0] != cfg.Subjects[0] {
		return s.js.UpdateStream(ctx, cfg)
	}
	return st, nil
}
