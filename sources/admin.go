package sources

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/sinks"
)

var _ relay.SourceAdmin = (*Manager)(nil)

// SetDefault sets what the read-only source "default" (the environment
// configuration) shows in listings.
func (m *Manager) SetDefault(info relay.SourceInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info.Name, info.ReadOnly, info.Enabled = relay.DefaultSource, true, true
	m.def = &info
}

// ListSources lists the default source and every stored one (not the
// deleted ones still draining), by name.
func (m *Manager) ListSources(ctx context.Context) ([]relay.SourceInfo, error) {
	list, err := m.store.ListSources(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]relay.SourceInfo, 0, len(list)+1)
	if m.def != nil {
		out = append(out, *m.def)
	}
	for _, ss := range list {
		if ss.DeletedAt != nil {
			continue
		}
		out = append(out, m.info(ss))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ShowSource returns one source with its figures.
func (m *Manager) ShowSource(ctx context.Context, name string) (relay.SourceInfo, error) {
	var info relay.SourceInfo
	if name == relay.DefaultSource {
		m.mu.Lock()
		def := m.def
		m.mu.Unlock()
		if def == nil {
			return info, relay.Errorf(relay.ENOTFOUND, "no source %q", name)
		}
		info = *def
	} else {
		ss, err := m.get(ctx, name)
		if err != nil {
			return info, err
		}
		m.mu.Lock()
		info = m.info(ss)
		m.mu.Unlock()
	}
	st, err := m.store.Stats(ctx, m.opts.Now())
	if err != nil {
		return info, err
	}
	stats := &relay.SourceStats{Sinks: map[string]relay.SinkStats{}}
	for _, s := range info.Sinks {
		ss := st.Sinks[s.Outbox]
		stats.Sinks[s.Name] = ss
		stats.Pending += ss.Pending
		stats.InFlight += ss.InFlight
		stats.Dead += ss.Dead
		stats.NeedsReview += ss.NeedsReview
	}
	if m.opts.Received != nil {
		if stats.Received24h, err = m.opts.Received(ctx, name, m.opts.Now().Add(-24*time.Hour)); err != nil {
			return info, err
		}
	}
	info.Stats = stats
	return info, nil
}

// get returns the stored source called name (not a deleted one).
func (m *Manager) get(ctx context.Context, name string) (*relay.SealedSource, error) {
	if name == relay.DefaultSource {
		return nil, relay.Errorf(relay.EINVALID, "source %q is the environment configuration and read-only: change its environment variables", name)
	}
	if err := relay.CheckSourceName(name); err != nil {
		return nil, err
	}
	ss, err := m.store.GetSource(ctx, name)
	if err == nil && ss.DeletedAt != nil {
		err = relay.Errorf(relay.ENOTFOUND, "no source %q (deleted; its sinks are draining what it had pending)", name)
	}
	return ss, err
}

// info is what the API shows of ss (called with mu held).
func (m *Manager) info(ss *relay.SealedSource) relay.SourceInfo {
	info := relay.SourceInfo{Name: ss.Name, Enabled: ss.Enabled, SecretEncoding: ss.SecretEncoding,
		Path: relay.SourcePath(ss.Name), CreatedAt: ss.CreatedAt, UpdatedAt: ss.UpdatedAt, Error: m.broken[ss.Name]}
	if ss.Tolerance > 0 {
		info.Tolerance = ss.Tolerance.String()
	}
	for _, sec := range ss.Secrets {
		info.Secrets = append(info.Secrets, relay.SourceSecretInfo{ID: sec.ID, Fingerprint: sec.ID, CreatedAt: sec.CreatedAt})
	}
	names := make([]string, 0, len(ss.Sinks))
	for name := range ss.Sinks {
		names = append(names, name)
	}
	sort.Strings(names)
	r := m.running[ss.Name]
	for _, name := range names {
		si := relay.SourceSinkInfo{Name: name, Kind: strings.ToLower(ss.Sinks[name]["KIND"]), Outbox: relay.SourceSinkName(ss.Name, name)}
		if r != nil {
			if i := slices.IndexFunc(r.specs, func(s *relay.SinkSpec) bool { return s.Name == si.Outbox }); i >= 0 {
				si.Events = r.specs[i].Route.Events
			}
		}
		if si.Events == nil {
			si.Events = []string{}
		}
		info.Sinks = append(info.Sinks, si)
	}
	if t := ss.TagihanAI; t != nil {
		ti := &relay.SourceTagihanAIInfo{APIBaseURL: t.APIBaseURL, WebhookID: t.WebhookID, PublicURL: t.PublicURL}
		if r != nil && r.src.TagihanAI != nil && r.src.TagihanAI.APIKey != "" {
			ti.APIKeyFingerprint = sealed.Fingerprint(r.src.TagihanAI.APIKey)
		}
		info.TagihanAI = ti
	}
	if info.Secrets == nil {
		info.Secrets = []relay.SourceSecretInfo{}
	}
	if info.Sinks == nil {
		info.Sinks = []relay.SourceSinkInfo{}
	}
	return info
}

// ApplySource creates, replaces or leaves alone the source spec describes
// (PUT /v1/sources/{name}, `sources apply`). The spec is checked whole —
// the name, the secrets, every sink's keys — before anything is stored; a
// refusal leaves the running configuration as it was. Unchanged writes
// nothing.
func (m *Manager) ApplySource(ctx context.Context, spec relay.SourceSpec) (relay.SourceApplied, error) {
	now := m.opts.Now().UTC()
	if spec.Name == relay.DefaultSource {
		return relay.SourceApplied{}, relay.Errorf(relay.EINVALID, "source %q is the environment configuration and read-only: change its environment variables", spec.Name)
	}
	src, err := spec.Unchecked(now)
	if err != nil {
		return relay.SourceApplied{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.current(ctx, src.Name)
	if err != nil {
		return relay.SourceApplied{}, err
	}
	keepConnection(cur, src)
	if err := src.Check(); err != nil {
		return relay.SourceApplied{}, err
	}
	if _, err := sinks.CheckSource(src); err != nil {
		return relay.SourceApplied{}, err
	}
	action := relay.PlanApply(cur, src)
	if r := m.running[src.Name]; action == relay.ApplyUnchanged && r != nil {
		return relay.SourceApplied{Action: action, Source: m.info(r.sealed)}, nil
	}
	if action == relay.ApplyUnchanged {
		action = relay.ApplyUpdated // stored but not served (m.broken): store and run it again
	}
	src.CreatedAt, src.UpdatedAt = now, now
	if cur != nil {
		src.CreatedAt = cur.CreatedAt
		for i := range src.Secrets { // a secret kept keeps when it was added
			if j := slices.IndexFunc(cur.Secrets, func(s relay.SourceSecret) bool { return s.ID == src.Secrets[i].ID }); j >= 0 {
				src.Secrets[i].CreatedAt = cur.Secrets[j].CreatedAt
			}
		}
	}
	ss, err := m.save(ctx, src)
	if err != nil {
		return relay.SourceApplied{}, err
	}
	return relay.SourceApplied{Action: action, Source: m.info(ss)}, nil
}

// keepConnection carries over what `connect` manages and a sources file
// does not say: the subscription's id and the signing secret TagihanAI
// gave it (without it, TagihanAI's deliveries would be refused after an
// apply). The file's own TagihanAI settings win.
func keepConnection(cur, next *relay.Source) {
	if cur == nil || cur.TagihanAI == nil || cur.TagihanAI.WebhookID == "" {
		return
	}
	c := *cur.TagihanAI
	if t := next.TagihanAI; t != nil {
		if t.APIKey != "" {
			c.APIKey = t.APIKey
		}
		if t.APIBaseURL != "" {
			c.APIBaseURL = t.APIBaseURL
		}
		if t.PublicURL != "" {
			c.PublicURL = t.PublicURL
		}
		if t.WebhookID != "" && t.WebhookID != c.WebhookID {
			c.WebhookID, c.SecretID = t.WebhookID, ""
		}
	}
	next.TagihanAI = &c
	if c.SecretID == "" || slices.ContainsFunc(next.Secrets, func(s relay.SourceSecret) bool { return s.ID == c.SecretID }) {
		return
	}
	if i := slices.IndexFunc(cur.Secrets, func(s relay.SourceSecret) bool { return s.ID == c.SecretID }); i >= 0 {
		next.Secrets = append(next.Secrets, cur.Secrets[i])
	}
}

// current opens the stored source called name: nil when there is none
// (or it was deleted). Called with mu held.
func (m *Manager) current(ctx context.Context, name string) (*relay.Source, error) {
	if r := m.running[name]; r != nil {
		if r.sealed.DeletedAt != nil {
			return nil, nil
		}
		return r.src, nil
	}
	ss, err := m.store.GetSource(ctx, name)
	if errors.Is(err, relay.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ss.DeletedAt != nil {
		return nil, nil
	}
	key, err := m.key()
	if err != nil {
		return nil, err
	}
	return ss.Open(key)
}

// save seals src, stores it and runs it. Called with mu held.
func (m *Manager) save(ctx context.Context, src *relay.Source) (*relay.SealedSource, error) {
	key, err := m.key()
	if err != nil {
		return nil, err
	}
	ss, err := relay.SealSource(key, src)
	if err != nil {
		return nil, err
	}
	if _, err := m.store.PutSource(ctx, ss); err != nil {
		return nil, err
	}
	if err := m.install(ctx, src.Name, ss); err != nil {
		return ss, err
	}
	m.opts.Log.Info("source changed", "source", src.Name, "enabled", src.Enabled, "secrets", len(src.Secrets), "sinks", len(src.Sinks))
	return ss, nil
}

// change applies f to the stored source called name and saves it.
func (m *Manager) change(ctx context.Context, name string, f func(*relay.Source) error) (relay.SourceInfo, error) {
	if _, err := m.get(ctx, name); err != nil {
		return relay.SourceInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.current(ctx, name)
	if err != nil {
		return relay.SourceInfo{}, err
	}
	if cur == nil {
		return relay.SourceInfo{}, relay.Errorf(relay.ENOTFOUND, "no source %q", name)
	}
	next := *cur
	next.Secrets = slices.Clone(cur.Secrets)
	if err := f(&next); err != nil {
		return relay.SourceInfo{}, err
	}
	next.UpdatedAt = m.opts.Now().UTC()
	ss, err := m.save(ctx, &next)
	if err != nil {
		return relay.SourceInfo{}, err
	}
	return m.info(ss), nil
}

// AddSourceSecret adds a signing secret (the first step of a rotation).
func (m *Manager) AddSourceSecret(ctx context.Context, name, secret string) (relay.SourceInfo, error) {
	if strings.TrimSpace(secret) == "" {
		return relay.SourceInfo{}, relay.Errorf(relay.EINVALID, "secret: required")
	}
	return m.change(ctx, name, func(s *relay.Source) error { return s.AddSecret(secret, m.opts.Now()) })
}

// RemoveSourceSecret removes a signing secret by id (its fingerprint),
// never the last one.
func (m *Manager) RemoveSourceSecret(ctx context.Context, name, id string) (relay.SourceInfo, error) {
	return m.change(ctx, name, func(s *relay.Source) error { return s.RemoveSecret(id) })
}

// SetSourceEnabled enables or disables a source. A disabled source takes
// no delivery (404 unknown_source); its sinks still drain what it has.
func (m *Manager) SetSourceEnabled(ctx context.Context, name string, enabled bool) (relay.SourceInfo, error) {
	return m.change(ctx, name, func(s *relay.Source) error {
		s.Enabled = enabled
		return nil
	})
}

// DeleteSource stops the source's intake at once and keeps its sinks
// running until they hold nothing pending or in flight; then the record
// goes (Sweep).
func (m *Manager) DeleteSource(ctx context.Context, name string) error {
	ss, err := m.get(ctx, name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now().UTC()
	ss.DeletedAt, ss.Enabled, ss.UpdatedAt = &now, false, now
	if _, err := m.store.PutSource(ctx, ss); err != nil {
		return err
	}
	if err := m.install(ctx, name, ss); err != nil {
		return err
	}
	m.opts.Log.Info("source deleted; its sinks drain what it had pending", "source", name)
	return m.sweep(ctx)
}

// Sweep removes the deleted sources whose sinks hold nothing pending or
// in flight any more (and were deleted DrainGrace ago at least).
func (m *Manager) Sweep(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sweep(ctx)
}

func (m *Manager) sweep(ctx context.Context) error {
	var deleted []*running
	now := m.opts.Now()
	for _, r := range m.running {
		if at := r.sealed.DeletedAt; at != nil && now.Sub(*at) >= m.opts.DrainGrace {
			deleted = append(deleted, r)
		}
	}
	if len(deleted) == 0 {
		return nil
	}
	st, err := m.store.Stats(ctx, now)
	if err != nil {
		return err
	}
	for _, r := range deleted {
		busy := false
		for _, s := range r.specs {
			if ss := st.Sinks[s.Name]; ss.Pending > 0 || ss.InFlight > 0 {
				busy = true
			}
		}
		if busy {
			continue
		}
		if err := m.store.DeleteSource(ctx, r.src.Name); err != nil && !errors.Is(err, relay.ErrNotFound) {
			return err
		}
		if err := m.install(ctx, r.src.Name, nil); err != nil {
			return err
		}
		m.opts.Log.Info("deleted source drained and removed", "source", r.src.Name)
	}
	return nil
}
