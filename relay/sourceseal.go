package relay

import (
	"fmt"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
)

// SealedSource is a Source as a store keeps it (SPEC 6): every secret — the
// signing secrets, each sink key that may hold one (SecretVar: CLIENT_SECRET,
// API_KEY, HEADERS, …) and the TagihanAI API key — sealed under the master
// key for its own field, so the database file, a backup or an export never
// holds one in plain text, and a sealed value moved to another field does
// not open. Fingerprints are kept beside the sealed signing secrets so a
// listing needs no key.
type SealedSource struct {
	Name           string                       `json:"name"`
	Enabled        bool                         `json:"enabled"`
	Secrets        []SealedSecret               `json:"secrets"`
	SecretEncoding string                       `json:"secret_encoding,omitempty"`
	Tolerance      time.Duration                `json:"tolerance,omitempty"`
	Sinks          map[string]map[string]string `json:"sinks"`
	TagihanAI      *SourceTagihanAI             `json:"tagihanai,omitempty"`
	CreatedAt      time.Time                    `json:"created_at"`
	UpdatedAt      time.Time                    `json:"updated_at"`
	// DeletedAt marks a deleted source whose sinks still drain what it had
	// pending: it takes no delivery and is not listed; the record goes when
	// its sinks hold nothing pending or in flight.
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// SealedSecret is a signing secret at rest.
type SealedSecret struct {
	ID        string    `json:"id"` // the fingerprint
	Sealed    string    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
}

// The field names sealed values are bound to.
func secretField(source, id string) string { return "source/" + source + "/secret/" + id }
func sinkField(source, sink, key string) string {
	return "source/" + source + "/sink/" + sink + "/" + key
}
func apiKeyField(source string) string { return "source/" + source + "/tagihanai/api_key" }

// SealSource seals every secret of s under k.
func SealSource(k *sealed.Key, s *Source) (*SealedSource, error) {
	out := &SealedSource{Name: s.Name, Enabled: s.Enabled, SecretEncoding: s.SecretEncoding, Tolerance: s.Tolerance,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	for _, sec := range s.Secrets {
		v, err := k.Seal(secretField(s.Name, sec.ID), sec.Secret)
		if err != nil {
			return nil, err
		}
		out.Secrets = append(out.Secrets, SealedSecret{ID: sec.ID, Sealed: v, CreatedAt: sec.CreatedAt})
	}
	var err error
	if out.Sinks, out.TagihanAI, err = mapSecretSettings(s.Name, s.Sinks, s.TagihanAI, k.Seal); err != nil {
		return nil, err
	}
	return out, nil
}

// Open unseals ss under k. A value that does not open (another master key,
// a value moved between fields, damage) is an error naming the field, so
// the operator knows which source and setting to re-enter; it never holds
// a secret.
func (ss *SealedSource) Open(k *sealed.Key) (*Source, error) {
	s := &Source{Name: ss.Name, Enabled: ss.Enabled, SecretEncoding: ss.SecretEncoding, Tolerance: ss.Tolerance,
		CreatedAt: ss.CreatedAt, UpdatedAt: ss.UpdatedAt}
	open := func(field, v string) (string, error) {
		plain, err := k.Open(field, v)
		if err != nil {
			return "", Errorf(EUNAVAILABLE, "source %q: %s: %v (was RELAY_MASTER_KEY changed?)", ss.Name, field, err)
		}
		return plain, nil
	}
	for _, sec := range ss.Secrets {
		plain, err := open(secretField(ss.Name, sec.ID), sec.Sealed)
		if err != nil {
			return nil, err
		}
		if sealed.Fingerprint(plain) != sec.ID {
			return nil, Errorf(EUNAVAILABLE, "source %q: secret %s does not match its fingerprint", ss.Name, sec.ID)
		}
		s.Secrets = append(s.Secrets, SourceSecret{ID: sec.ID, Secret: plain, CreatedAt: sec.CreatedAt})
	}
	var err error
	if s.Sinks, s.TagihanAI, err = mapSecretSettings(ss.Name, ss.Sinks, ss.TagihanAI, open); err != nil {
		return nil, err
	}
	return s, nil
}

// mapSecretSettings copies a source's sink keys and TagihanAI connection,
// passing each value that may hold a secret (a SecretVar sink key, the API
// key) through f with the field it is bound to: sealing one way, opening
// the other.
func mapSecretSettings(source string, sinks map[string]map[string]string, api *SourceTagihanAI,
	f func(field, v string) (string, error)) (map[string]map[string]string, *SourceTagihanAI, error) {
	out := make(map[string]map[string]string, len(sinks))
	for sink, keys := range sinks {
		m := make(map[string]string, len(keys))
		for key, val := range keys {
			if SecretVar(key) && val != "" {
				v, err := f(sinkField(source, sink, key), val)
				if err != nil {
					return nil, nil, err
				}
				val = v
			}
			m[key] = val
		}
		out[sink] = m
	}
	if api == nil {
		return out, nil, nil
	}
	c := *api
	if c.APIKey != "" {
		v, err := f(apiKeyField(source), c.APIKey)
		if err != nil {
			return nil, nil, err
		}
		c.APIKey = v
	}
	return out, &c, nil
}

// String never shows a sealed value either: only the name and fingerprints.
func (ss *SealedSource) String() string {
	ids := make([]string, len(ss.Secrets))
	for i, s := range ss.Secrets {
		ids[i] = s.ID
	}
	return fmt.Sprintf("source %s (enabled %v, secrets %v, %d sinks)", ss.Name, ss.Enabled, ids, len(ss.Sinks))
}
