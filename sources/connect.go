package sources

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/fixtures"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/tagihanai"
)

// TestWait bounds how long connect waits for TagihanAI's test event.
const TestWait = 30 * time.Second

// defaultEvents is what a subscription gets without --events.
var defaultEvents = []string{"*"}

// client returns the TagihanAI API client of src's connection (or of
// apiKey/base when given), paced by the relay's shared limiter.
func (m *Manager) client(apiKey, base string) *tagihanai.Client {
	if base == "" {
		base = m.opts.TagihanAIAPIURL
	}
	return tagihanai.NewClient(base, apiKey, m.opts.Deps.HTTP).WithLimiter(m.opts.Limiter)
}

// Connect makes TagihanAI deliver the source's events to this relay (SPEC
// 7): it creates (or reuses) the webhook subscription for the source's
// endpoint, stores its signing secret in the source (creating the source
// when needed, without sinks), sends TagihanAI's test event and waits for
// the relay to have received and verified it. A subscription for the URL
// whose secret the source holds is reused; one it cannot verify is
// replaced — the new one created first, the old deleted once the test
// passed. The error, when the test did not arrive, says what TagihanAI
// reported.
func (m *Manager) Connect(ctx context.Context, name string, req relay.ConnectRequest) (relay.ConnectResult, error) {
	res := relay.ConnectResult{Source: name}
	if err := relay.CheckSourceName(name); err != nil {
		return res, err
	}
	if name == relay.DefaultSource {
		return res, relay.Errorf(relay.EINVALID, "connect: the source %q is the environment's; connect a run-time source", name)
	}
	if strings.TrimSpace(req.APIKey) == "" {
		return res, relay.Errorf(relay.EINVALID, "api_key: required")
	}
	endpoint, err := sourceEndpoint(req.PublicURL, name)
	if err != nil {
		return res, err
	}
	res.URL = endpoint
	events := req.Events
	if len(events) == 0 {
		events = defaultEvents
	}
	events, err = subscribedTypes(events)
	if err != nil {
		return res, err
	}
	api := m.client(req.APIKey, req.APIBaseURL)
	cur, err := m.openCurrent(ctx, name)
	if err != nil {
		return res, err
	}
	conn := relay.SourceTagihanAI{APIKey: req.APIKey, APIBaseURL: req.APIBaseURL, PublicURL: strings.TrimRight(req.PublicURL, "/")}
	newSecret, stale, err := m.subscribe(ctx, api, cur, endpoint, events, &conn, &res)
	if err != nil {
		return res, err
	}
	res.WebhookID, res.SecretID = conn.WebhookID, conn.SecretID
	// Store the connection (and the new secret) before the test: the test
	// event is verified with it, on whichever replica TagihanAI reaches.
	if _, err := m.changeOrCreate(ctx, name, func(s *relay.Source) error {
		if newSecret != "" && !slices.ContainsFunc(s.Secrets, func(x relay.SourceSecret) bool { return x.ID == conn.SecretID }) {
			s.Secrets = append(s.Secrets, relay.NewSourceSecret(newSecret, m.opts.Now()))
		}
		s.TagihanAI = &conn
		return nil
	}); err != nil {
		return res, err
	}
	known, err := m.testEvents(ctx, name)
	if err != nil {
		return res, err
	}
	tr, err := api.TestWebhook(ctx, conn.WebhookID)
	res.Test.At, res.Test.StatusCode, res.Test.Success, res.Test.ResponseMS = m.opts.Now().UTC(), tr.StatusCode, tr.Success, tr.ResponseTimeMS
	if err != nil {
		return res, apiError(name, "send the test event", err)
	}
	// TagihanAI saw the relay answer 2xx: the event is stored, allow for
	// another replica's view to catch up. It saw a failure: look briefly
	// (the answer may have been slow) and report.
	wait := m.opts.TestWait
	if !tr.Success {
		wait = min(wait, 2*time.Second)
	}
	res.Test.Received, err = m.waitTestEvent(ctx, name, known, wait)
	if err != nil {
		return res, err
	}
	if !res.Test.Received {
		return res, relay.Errorf(relay.EUNAVAILABLE, "source %q: TagihanAI's test event did not arrive within %s (TagihanAI reported HTTP %d, success %v, %d ms, at %s): is %s reachable from the internet?",
			name, wait, tr.StatusCode, tr.Success, tr.ResponseTimeMS, res.Test.At.Format(time.RFC3339), endpoint)
	}
	for _, id := range stale {
		if err := api.DeleteWebhook(ctx, id); err != nil && !errors.Is(err, tagihanai.ErrNotFound) {
			return res, apiError(name, "delete the replaced subscription "+id, err)
		}
		res.Replaced = id
	}
	m.opts.Log.Info("source connected to TagihanAI", "source", name, "webhook_id", conn.WebhookID, "subscription", res.Subscribed,
		"replaced", res.Replaced)
	return res, nil
}

// subscribe finds the subscription for endpoint that cur holds the secret
// of, or creates one (its signing secret returned as newSecret); conn gets
// its id and secret id. stale are the other subscriptions for endpoint,
// to delete once the new one's test passed.
func (m *Manager) subscribe(ctx context.Context, api *tagihanai.Client, cur *relay.Source, endpoint string, events []string,
	conn *relay.SourceTagihanAI, res *relay.ConnectResult) (newSecret string, stale []string, err error) {
	subs, err := api.ListWebhooks(ctx)
	if err != nil {
		return "", nil, apiError(res.Source, "list webhook subscriptions", err)
	}
	var reuse *tagihanai.Webhook
	for i := range subs {
		if subs[i].URL != endpoint {
			continue
		}
		if holds(cur, subs[i].ID) && reuse == nil {
			reuse = &subs[i]
			continue
		}
		stale = append(stale, subs[i].ID)
	}
	if reuse != nil {
		res.Subscribed, conn.WebhookID, conn.SecretID = "reused", reuse.ID, cur.TagihanAI.SecretID
		return "", stale, nil
	}
	sub, err := api.CreateWebhook(ctx, endpoint, events, "tagihan-relay source "+res.Source)
	if err != nil {
		return "", nil, apiError(res.Source, "create the webhook subscription", err)
	}
	if sub.SigningSecret == "" {
		return "", nil, relay.Errorf(relay.EUNAVAILABLE, "source %q: TagihanAI created subscription %s without a signing_secret", res.Source, sub.ID)
	}
	res.Subscribed, conn.WebhookID, conn.SecretID = "created", sub.ID, sealed.Fingerprint(sub.SigningSecret)
	if len(stale) > 0 {
		res.Subscribed = "replaced"
	}
	return sub.SigningSecret, stale, nil
}

// Disconnect deletes the source's TagihanAI subscription and forgets it
// (the API key and the signing secrets stay, for reconcile and for
// deliveries still on their way).
func (m *Manager) Disconnect(ctx context.Context, name string) (string, error) {
	cur, err := m.openCurrent(ctx, name)
	if err != nil {
		return "", err
	}
	if cur == nil {
		return "", relay.Errorf(relay.ENOTFOUND, "no source %q", name)
	}
	if cur.TagihanAI == nil || cur.TagihanAI.WebhookID == "" || cur.TagihanAI.APIKey == "" {
		return "", relay.Errorf(relay.EINVALID, "source %q is not connected to TagihanAI (run connect first)", name)
	}
	id := cur.TagihanAI.WebhookID
	err = m.client(cur.TagihanAI.APIKey, cur.TagihanAI.APIBaseURL).DeleteWebhook(ctx, id)
	if err != nil && !errors.Is(err, tagihanai.ErrNotFound) {
		return "", apiError(name, "delete the webhook subscription", err)
	}
	_, err = m.change(ctx, name, func(s *relay.Source) error {
		c := *s.TagihanAI
		c.WebhookID, c.SecretID = "", ""
		s.TagihanAI = &c
		return nil
	})
	return id, err
}

// subscribedTypes turns --events into what POST /webhooks takes: "*", or
// exact event types (TagihanAI knows no globs, so "transaction.*" becomes
// every transaction type).
func subscribedTypes(events []string) ([]string, error) {
	var out []string
	for _, g := range events {
		g = strings.TrimSpace(g)
		if g == "*" {
			return []string{"*"}, nil
		}
		if !relay.ValidGlob(g) {
			return nil, relay.Errorf(relay.EINVALID, "events: %q is not a valid event type or glob", g)
		}
		n := len(out)
		for _, t := range fixtures.Types() {
			if relay.MatchGlob(g, t) && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		if len(out) == n && !slices.Contains(out, g) {
			return nil, relay.Errorf(relay.EINVALID, "events: %q matches no TagihanAI event type (tagihan-relay send --list shows them)", g)
		}
	}
	return out, nil
}

// holds reports whether src is connected to subscription id and still has
// the signing secret that connection stored.
func holds(src *relay.Source, id string) bool {
	if src == nil || src.TagihanAI == nil || src.TagihanAI.WebhookID != id || src.TagihanAI.SecretID == "" {
		return false
	}
	return slices.ContainsFunc(src.Secrets, func(s relay.SourceSecret) bool { return s.ID == src.TagihanAI.SecretID })
}

// testEvents returns the ids of the source's newest stored test events.
func (m *Manager) testEvents(ctx context.Context, name string) (map[string]bool, error) {
	page, err := m.opts.Events.ListEvents(ctx, relay.EventFilter{Source: name, Limit: 100})
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, e := range page.Events {
		if e.Test {
			ids[e.ID] = true
		}
	}
	return ids, nil
}

// waitTestEvent polls the store (which every replica writes) until a
// verified test event of the source that was not there before (known) is,
// for up to wait. It goes by ids, not by times, so no clock can make it
// miss the event or take an old one.
func (m *Manager) waitTestEvent(ctx context.Context, name string, known map[string]bool, wait time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		ids, err := m.testEvents(ctx, name)
		if err != nil && ctx.Err() == nil {
			return false, err
		}
		for id := range ids {
			if !known[id] {
				return true, nil
			}
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-t.C:
		}
	}
}

// sourceEndpoint is the URL TagihanAI posts the source's deliveries to.
func sourceEndpoint(public, name string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(public))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", relay.Errorf(relay.EINVALID, "public_url: want the relay's public base URL, e.g. https://relay.example.com (no query, user or fragment)")
	}
	return strings.TrimRight(u.String(), "/") + relay.SourcePath(name), nil
}

// apiError turns a TagihanAI API error into the relay's: a key TagihanAI
// refuses is a clear error naming the source (never the key), not a
// retry.
func apiError(source, what string, err error) error {
	if errors.Is(err, tagihanai.ErrUnauthorized) {
		return relay.Errorf(relay.EINVALID, "source %q: TagihanAI refused the API key (%s): %v", source, what, err)
	}
	return relay.Errorf(relay.EUNAVAILABLE, "source %q: TagihanAI API: %s: %v", source, what, err)
}

// openCurrent returns the stored source called name opened, nil when there
// is none (or it was deleted).
func (m *Manager) openCurrent(ctx context.Context, name string) (*relay.Source, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.current(ctx, name)
}

// changeOrCreate is change, creating the source (enabled, no sinks) when
// it does not exist.
func (m *Manager) changeOrCreate(ctx context.Context, name string, f func(*relay.Source) error) (relay.SourceInfo, error) {
	m.mu.Lock()
	cur, err := m.current(ctx, name)
	if err != nil {
		m.mu.Unlock()
		return relay.SourceInfo{}, err
	}
	if cur == nil {
		now := m.opts.Now().UTC()
		src := &relay.Source{Name: name, Enabled: true, Sinks: map[string]map[string]string{}, CreatedAt: now, UpdatedAt: now}
		if err := f(src); err != nil {
			m.mu.Unlock()
			return relay.SourceInfo{}, err
		}
		if err := src.Check(); err != nil {
			m.mu.Unlock()
			return relay.SourceInfo{}, err
		}
		ss, err := m.save(ctx, src)
		m.mu.Unlock()
		if err != nil {
			return relay.SourceInfo{}, err
		}
		return m.infoLocked(ss), nil
	}
	m.mu.Unlock()
	return m.change(ctx, name, f)
}

// infoLocked is info taking the lock.
func (m *Manager) infoLocked(ss *relay.SealedSource) relay.SourceInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.info(ss)
}
