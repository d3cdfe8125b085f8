package relay

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// DefaultSource is the source the environment configuration makes: served
// at /webhooks/tagihanai and /webhooks/tagihanai/default, read-only through
// the API (SPEC 6).
const DefaultSource = "default"

// sourceName is SPEC 6's rule for a source's name.
var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// CheckSourceName reports whether name may name a source.
func CheckSourceName(name string) error {
	if !sourceName.MatchString(name) {
		return Errorf(EINVALID, "source name %q: want 1 to 63 of a-z, 0-9 and -, starting with a letter or digit", name)
	}
	return nil
}

// Source is one TagihanAI workspace (or webhook subscription) with its own
// signing secrets and sinks (SPEC 6). In memory its secrets are in plain
// text; a store keeps them sealed (relay/sealed) and shows them only as
// fingerprints.
type Source struct {
	Name    string
	Enabled bool
	// Secrets verify its deliveries; more than one during a rotation.
	Secrets []SourceSecret
	// SecretEncoding is "raw" (the default) or "base64", as
	// TAGIHANAI_SECRET_ENCODING.
	SecretEncoding string
	// Tolerance is the signature replay window; 0 means the relay's.
	Tolerance time.Duration
	// Sinks maps a sink's name to its keys, the SINK_<NAME>_* variables
	// without the prefix ({"KIND": "accountingplus", "CLIENT_ID": …}).
	Sinks map[string]map[string]string
	// TagihanAI is the optional API connection of SPEC 7.
	TagihanAI *SourceTagihanAI

	CreatedAt, UpdatedAt time.Time
}

// SourceSecret is one signing secret of a source.
type SourceSecret struct {
	// ID names the secret for removal: its fingerprint, which the API and
	// CLI show instead of the secret.
	ID        string
	Secret    string
	CreatedAt time.Time
}

// SourceTagihanAI is a source's connection to the TagihanAI API (SPEC 7).
type SourceTagihanAI struct {
	APIKey     string `json:"api_key,omitempty"`
	APIBaseURL string `json:"api_base_url,omitempty"`
	WebhookID  string `json:"webhook_id,omitempty"`
	PublicURL  string `json:"public_url,omitempty"`
	// SecretID is the fingerprint of the signing secret TagihanAI returned
	// for WebhookID (set by connect): the source holds it while it is
	// among its secrets.
	SecretID string `json:"secret_id,omitempty"`
}

// NewSourceSecret makes the record of secret added at now.
func NewSourceSecret(secret string, now time.Time) SourceSecret {
	return SourceSecret{ID: sealed.Fingerprint(secret), Secret: secret, CreatedAt: now.UTC()}
}

// Check validates what the relay itself owns of s: the name, at least one
// secret that decodes under the encoding, no secret twice, a tolerance
// that is not negative, and sink names. Each sink's keys are checked by
// the sinks package (sinks.CheckSource), which knows the kinds. Errors are
// EINVALID and name the source; none holds a secret. Check also normalizes
// s: the encoding lower-cased, secrets trimmed, their ids set to their
// fingerprints.
func (s *Source) Check() error {
	if err := CheckSourceName(s.Name); err != nil {
		return err
	}
	if s.Name == DefaultSource {
		return Errorf(EINVALID, "source %q is the environment configuration and read-only", s.Name)
	}
	bad := func(format string, args ...any) error {
		return Errorf(EINVALID, "source %q: %s", s.Name, fmt.Sprintf(format, args...))
	}
	switch strings.ToLower(s.SecretEncoding) {
	case "", "raw", "base64":
		s.SecretEncoding = strings.ToLower(s.SecretEncoding)
	default:
		return bad("secret_encoding %q: must be raw or base64", s.SecretEncoding)
	}
	if len(s.Secrets) == 0 {
		return bad("secrets: at least one signing secret is required")
	}
	seen := make(map[string]bool, len(s.Secrets))
	for i := range s.Secrets {
		sec := &s.Secrets[i]
		sec.Secret = strings.TrimSpace(sec.Secret)
		if _, err := signature.DecodeSecret(sec.Secret, s.SecretEncoding); err != nil {
			return bad("secret %d: %v", i+1, err)
		}
		sec.ID = sealed.Fingerprint(sec.Secret)
		if seen[sec.ID] {
			return bad("secret %d: the same secret is listed twice (fingerprint %s)", i+1, sec.ID)
		}
		seen[sec.ID] = true
	}
	if s.Tolerance < 0 {
		return bad("tolerance %s: must not be negative", s.Tolerance)
	}
	// No sinks is allowed: `connect` creates a source before its sinks are
	// applied, and its events are stored (unrouted) meanwhile.
	for name := range s.Sinks {
		if !ValidSinkName(name) {
			return bad("sink name %q: %s", name, SinkNameRule)
		}
	}
	return nil
}

// sinkName is the rule for a sink's name, in RELAY_SINKS and in a source.
var sinkName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// SinkNameRule says what ValidSinkName accepts.
const SinkNameRule = "use lower-case letters, digits and _ (starting with a letter)"

// ValidSinkName reports whether name may name a sink.
func ValidSinkName(name string) bool { return sinkName.MatchString(name) }

// SameConfig reports whether s and o configure the same thing: what
// `sources apply` calls unchanged. Secrets compare by value (through their
// fingerprints, order-insensitive); times are ignored.
func (s *Source) SameConfig(o *Source) bool {
	if s.Name != o.Name || s.Enabled != o.Enabled || s.SecretEncoding != o.SecretEncoding || s.Tolerance != o.Tolerance {
		return false
	}
	ids := func(src *Source) []string {
		out := make([]string, len(src.Secrets))
		for i, sec := range src.Secrets {
			out[i] = sealed.Fingerprint(sec.Secret)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(ids(s), ids(o)) {
		return false
	}
	if !maps.EqualFunc(s.Sinks, o.Sinks, maps.Equal[map[string]string]) {
		return false
	}
	switch {
	case s.TagihanAI == nil || o.TagihanAI == nil:
		return s.TagihanAI == nil && o.TagihanAI == nil
	default:
		return *s.TagihanAI == *o.TagihanAI
	}
}

// RemoveSecret removes the secret with id from s, refusing to remove the
// last one (a source always verifies).
func (s *Source) RemoveSecret(id string) error {
	i := slices.IndexFunc(s.Secrets, func(sec SourceSecret) bool { return sec.ID == id })
	if i < 0 {
		return Errorf(ENOTFOUND, "source %q has no secret %q", s.Name, id)
	}
	if len(s.Secrets) == 1 {
		return Errorf(EINVALID, "source %q: secret %s is its last: add the new secret first, then remove this one", s.Name, id)
	}
	s.Secrets = slices.Delete(s.Secrets, i, i+1)
	return nil
}

// AddSecret adds secret to s at now; a secret it already has is refused.
func (s *Source) AddSecret(secret string, now time.Time) error {
	sec := NewSourceSecret(strings.TrimSpace(secret), now)
	if _, err := signature.DecodeSecret(sec.Secret, s.SecretEncoding); err != nil {
		return Errorf(EINVALID, "source %q: secret: %v", s.Name, err)
	}
	if slices.ContainsFunc(s.Secrets, func(x SourceSecret) bool { return x.ID == sec.ID }) {
		return Errorf(ECONFLICT, "source %q already has secret %s", s.Name, sec.ID)
	}
	s.Secrets = append(s.Secrets, sec)
	return nil
}
