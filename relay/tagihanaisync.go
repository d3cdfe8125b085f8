package relay

import (
	"context"
	"time"
)

// Connecting a source to TagihanAI and reconciling with it (SPEC 7): the
// shapes the admin API, the CLI and the console share.

// ConnectRequest is what `connect` and POST /v1/sources/{name}/connect
// take (SPEC 7).
type ConnectRequest struct {
	APIKey string `json:"api_key"`
	// PublicURL is where TagihanAI reaches this relay's public listener
	// (https://relay.example); the subscription is for
	// PublicURL/webhooks/tagihanai/<source>.
	PublicURL string   `json:"public_url"`
	Events    []string `json:"events,omitempty"`
	// APIBaseURL is the TagihanAI API base; "" is TAGIHANAI_API_BASE_URL.
	APIBaseURL string `json:"api_base_url,omitempty"`
}

// ConnectResult says what connect did.
type ConnectResult struct {
	Source     string `json:"source"`
	WebhookID  string `json:"webhook_id"`
	URL        string `json:"url"`
	Subscribed string `json:"subscription"` // created, reused or replaced
	// Replaced is the subscription deleted after the new one's test passed.
	Replaced string `json:"replaced,omitempty"`
	// Test is what TagihanAI reported for its test event, and whether the
	// relay received and verified it.
	Test struct {
		Received   bool      `json:"received"`
		StatusCode int       `json:"status_code"`
		Success    bool      `json:"success"`
		ResponseMS int       `json:"response_time_ms"`
		At         time.Time `json:"at"`
	} `json:"test"`
	SecretID string `json:"secret_id"`
}

// The kinds of gap reconcile reports (SPEC 7).
const (
	GapUndelivered     = "undelivered_by_tagihanai"
	GapMissingDocument = "missing_document"
)

// DefaultReconcileWindow is how far back reconcile looks without --since.
const DefaultReconcileWindow = 168 * time.Hour

// ReconcileReport is what one reconcile of a source found and did (SPEC 7's JSON).
type ReconcileReport struct {
	Source  string    `json:"source"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Checked struct {
		Transactions int `json:"transactions"`
		Deliveries   int `json:"deliveries"`
	} `json:"checked"`
	Gaps       []Gap `json:"gaps"`
	Backfilled int   `json:"backfilled"`
	Fix        bool  `json:"fix"`
}

// Gap is one thing TagihanAI shows that the relay does not hold.
type Gap struct {
	Kind          string `json:"kind"`
	TransactionID string `json:"transaction_id,omitempty"`
	// EventID and EventType name the event TagihanAI gave up on
	// (undelivered_by_tagihanai), when its log says.
	EventID        string `json:"event_id,omitempty"`
	EventType      string `json:"event_type,omitempty"`
	DocumentNumber string `json:"document_number,omitempty"`
	Status         string `json:"status,omitempty"`
	// Sink is the sink of the source that lacks the document (its name in
	// the source).
	Sink   string `json:"sink,omitempty"`
	Detail string `json:"detail"`
	// Fixed: --fix queued the backfill that closes it.
	Fixed bool `json:"fixed,omitempty"`
}

// Open reports how many gaps are left (not fixed).
func (r *ReconcileReport) Open() int {
	n := 0
	for _, g := range r.Gaps {
		if !g.Fixed {
			n++
		}
	}
	return n
}

// SourceSync connects sources to TagihanAI and reconciles them (SPEC 7).
type SourceSync interface {
	Connect(ctx context.Context, name string, req ConnectRequest) (ConnectResult, error)
	// Disconnect deletes the source's subscription and returns its id.
	Disconnect(ctx context.Context, name string) (string, error)
	Reconcile(ctx context.Context, name string, window time.Duration, fix bool) (ReconcileReport, error)
	// LastReport is the last reconcile of the source (background or not).
	LastReport(name string) (ReconcileReport, bool)
}
