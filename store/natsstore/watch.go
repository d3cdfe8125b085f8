package natsstore

import (
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watch keeps the view in step with the events bucket through an ordered
// consumer on the bucket's stream: first the latest value of every key,
// then every change in revision order. The consumer heartbeats every
// second, so when the node serving it dies it is recreated (from the next
// revision) within seconds, not the tens of seconds of a KV watch. If it
// ends for good while the store is open, the view is rebuilt from scratch.
func (s *Store) watch() {
	defer s.wg.Done()
	backoff := 100 * time.Millisecond
	for first := true; s.ctx.Err() == nil; first = false {
		if !first {
			s.log.Warn("natsstore: watch of the events bucket ended; rebuilding the index")
			s.view.reset()
		}
		started := time.Now()
		err := s.follow()
		if s.ctx.Err() != nil {
			return
		}
		if time.Since(started) > 30*time.Second {
			backoff = 100 * time.Millisecond // it ran fine for a while
		}
		if err != nil {
			s.log.Warn("natsstore: watch events bucket", "error", err, "retry_in", backoff)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// follow runs one ordered consumer until the store closes or the consumer
// ends.
func (s *Store) follow() error {
	cons, err := s.js.OrderedConsumer(s.ctx, "KV_"+s.events.Bucket(), jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return err
	}
	pre := "$KV." + s.events.Bucket() + "."
	handle := func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil || !strings.HasPrefix(m.Subject(), pre) {
			return
		}
		deleted := false
		if h := m.Headers(); h != nil {
			switch {
			case h.Get("KV-Operation") == "DEL" || h.Get("KV-Operation") == "PURGE":
				deleted = true
			case h.Get(jetstream.MarkerReasonHeader) != "":
				deleted = true
			}
		}
		woke, err := s.view.apply(m.Subject()[len(pre):], meta.Sequence.Stream, deleted, m.Data())
		if err != nil {
			s.log.Error("natsstore: apply event record", "subject", m.Subject(), "error", err)
		}
		if meta.NumPending == 0 {
			s.view.markLoaded()
		}
		if len(woke) > 0 {
			if fn := s.notify.Load(); fn != nil {
				(*fn)(woke)
			}
		}
	}
	cc, err := cons.Consume(handle,
		jetstream.PullExpiry(4*time.Second), jetstream.PullHeartbeat(time.Second),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if s.ctx.Err() == nil {
				s.log.Debug("natsstore: events watch", "error", err)
			}
		}))
	if err != nil {
		return err
	}
	defer cc.Stop()
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 && info.Delivered.Stream == 0 {
		s.view.markLoaded() // an empty bucket
	}
	select {
	case <-s.ctx.Done():
		return nil
	case <-cc.Closed():
		return errors.New("consumer closed")
	}
}
