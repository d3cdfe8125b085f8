package relay

import (
	"context"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// Intake is what one source's deliveries pass through: the verifier of its
// signing secrets and the receiver that stores and routes them.
type Intake struct {
	Source   string
	Verifier *signature.Verifier
	Receiver *Receiver
}

// SourceInfo is a source as the admin API, the CLI and the console show it
// (SPEC 6): every secret only as its fingerprint.
type SourceInfo struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// ReadOnly marks the environment's source "default".
	ReadOnly       bool                 `json:"read_only,omitempty"`
	Secrets        []SourceSecretInfo   `json:"secrets"`
	SecretEncoding string               `json:"secret_encoding,omitempty"`
	Tolerance      string               `json:"tolerance,omitempty"`
	Sinks          []SourceSinkInfo     `json:"sinks"`
	TagihanAI      *SourceTagihanAIInfo `json:"tagihanai,omitempty"`
	// Path is where TagihanAI posts its deliveries.
	Path      string    `json:"path"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Error says why the relay does not serve a stored source (its sealed
	// values do not open under this master key, a sink no longer builds);
	// empty when it serves it.
	Error string `json:"error,omitempty"`
	// Stats is filled by show, not by list.
	Stats *SourceStats `json:"stats,omitempty"`
}

// SourceSecretInfo is one signing secret: its id is its fingerprint.
type SourceSecretInfo struct {
	ID          string    `json:"id"`
	Fingerprint string    `json:"fingerprint"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

// SourceSinkInfo is one sink of a source: its name in the source, its
// kind and the event types it takes. Outbox is the name its deliveries,
// dead letters and stats go by ("acme/ap").
type SourceSinkInfo struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Events []string `json:"events"`
	Outbox string   `json:"outbox"`
}

// SourceTagihanAIInfo is a source's TagihanAI connection without its API
// key (only the key's fingerprint).
type SourceTagihanAIInfo struct {
	APIKeyFingerprint string `json:"api_key_fingerprint,omitempty"`
	APIBaseURL        string `json:"api_base_url,omitempty"`
	WebhookID         string `json:"webhook_id,omitempty"`
	PublicURL         string `json:"public_url,omitempty"`
}

// SourceStats is what a source's sinks hold, summed over them.
type SourceStats struct {
	// Received counts the source's events stored in the last 24 hours.
	Received24h int64 `json:"received_24h"`
	Pending     int64 `json:"pending"`
	InFlight    int64 `json:"in_flight"`
	Dead        int64 `json:"dead"`
	NeedsReview int64 `json:"needs_review"`
	// Sinks is each sink's own figures, by its name in the source.
	Sinks map[string]SinkStats `json:"sinks"`
}

// SourceApplied is the answer to a PUT of a source: what it now is and
// what the PUT did (created, updated or unchanged).
type SourceApplied struct {
	Action ApplyAction `json:"action"`
	Source SourceInfo  `json:"source"`
}

// SourceAdmin manages the run-time sources (SPEC 6). Every change is
// stored (sealed) before it returns and applies to the next delivery.
type SourceAdmin interface {
	ListSources(ctx context.Context) ([]SourceInfo, error)
	ShowSource(ctx context.Context, name string) (SourceInfo, error)
	// ApplySource creates, replaces or leaves alone the source spec
	// describes.
	ApplySource(ctx context.Context, spec SourceSpec) (SourceApplied, error)
	AddSourceSecret(ctx context.Context, name, secret string) (SourceInfo, error)
	RemoveSourceSecret(ctx context.Context, name, id string) (SourceInfo, error)
	SetSourceEnabled(ctx context.Context, name string, enabled bool) (SourceInfo, error)
	// DeleteSource stops intake at once; what the source had pending still
	// drains.
	DeleteSource(ctx context.Context, name string) error
}

// SourcePath is where TagihanAI posts a source's deliveries.
func SourcePath(name string) string { return "/webhooks/tagihanai/" + name }
