package onlinepajak

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/internal/decimal"
)

// DefaultBaseURL is the API host used when BASE_URL is unset: the staging
// host, the only one the reference gives complete request URLs for.
// Production (https://api.online-pajak.com) must be chosen explicitly.
const DefaultBaseURL = "http://api.staging-achilles.systems"

// DefaultLookupTimeout bounds one look-up of an invoice by invoiceNumber.
const DefaultLookupTimeout = 10 * time.Second

// DefaultLookupGrace is how long after an attempt with an unknown outcome
// began a look-up that finds nothing still proves nothing (LOOKUP_GRACE).
const DefaultLookupGrace = 2 * time.Minute

// Config is the sink's configuration, parsed by the caller with
// caarlos0/env and the prefix SINK_<NAME>_.
type Config struct {
	// BaseURL is scheme and host (and an optional path prefix) of the API.
	BaseURL string `env:"BASE_URL" envDefault:"http://api.staging-achilles.systems"`
	// APIKey is the marketplace's client API key, sent as the api_key query
	// parameter. Secret: it never appears in errors, reasons or logs.
	APIKey string `env:"API_KEY"`
	// UserID is the OnlinePajak user the invoices are created for.
	UserID string `env:"USER_ID"`
	// VATRate is sent as vatRate (a JSON number); a plain decimal.
	VATRate string `env:"VAT_RATE" envDefault:"12"`
	// TransactionType, TransactionDetail and DocumentType are the tax codes
	// used when the transaction's metadata has none.
	TransactionType   string `env:"TRANSACTION_TYPE"`
	TransactionDetail string `env:"TRANSACTION_DETAIL"`
	DocumentType      string `env:"DOCUMENT_TYPE"`
	// NPWPKey is the metadata key of the counterparty's NPWP.
	NPWPKey string `env:"NPWP_KEY" envDefault:"npwp"`
	// FakturKeys are the metadata keys of the faktur number, first match wins.
	FakturKeys []string `env:"FAKTUR_KEYS" envDefault:"faktur_number,nomor_faktur,documentNumber"`
	// LookupTimeout bounds each look-up by invoiceNumber (within the
	// attempt's own TIMEOUT).
	LookupTimeout time.Duration `env:"LOOKUP_TIMEOUT" envDefault:"10s"`
	// LookupGrace is how long after an attempt with an unknown outcome
	// began (a timeout after the POST was sent, a crash mid-request) the
	// API may still be creating that invoice: until then a look-up that
	// finds nothing is followed by another look-up, never by a second POST.
	// It must be longer than the slowest commit seen from OnlinePajak; the
	// cost is that a POST that truly failed is sent again only after it.
	// Zero means DefaultLookupGrace.
	LookupGrace time.Duration `env:"LOOKUP_GRACE" envDefault:"2m"`
}

// Deps are the sink's collaborators.
type Deps struct {
	// HTTP is the shared client, without a Timeout: each attempt's ctx
	// carries the deadline. The sink never follows redirects with it.
	HTTP *http.Client
	// Now is the clock, used to read Retry-After dates and to measure
	// LOOKUP_GRACE from Outbound.PriorUnknownAt (the dispatcher's clock: give
	// both the same one). time.Now when nil.
	Now func() time.Time
}

// Sink creates OnlinePajak invoices from TagihanAI INVOICE transactions.
// It is safe for concurrent use.
type Sink struct {
	endpoint      *url.URL // <BASE_URL>/marketplace/v1/invoices, no query
	apiKey        string
	userID        string
	mapCfg        MapConfig
	lookupTimeout time.Duration
	lookupGrace   time.Duration
	client        *http.Client
	now           func() time.Time
}

var _ relay.Sink = (*Sink)(nil)

// New validates cfg and returns the sink. Every problem is a
// *relay.ConfigError naming the variable (prefix + key, e.g.
// SINK_TAX_API_KEY); several are joined with errors.Join. The API key's
// value is never part of an error.
func New(prefix string, cfg Config, deps Deps) (*Sink, error) {
	var errs []error
	bad := func(key, value string, secret bool, err error) {
		errs = append(errs, &relay.ConfigError{Var: prefix + key, Value: value, Secret: secret, Err: err})
	}

	base := strings.TrimSpace(cfg.BaseURL)
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := relay.ParseSinkURL(prefix+"BASE_URL", base, true)
	if err != nil {
		errs = append(errs, err)
	}
	apiKey := strings.TrimSpace(cfg.APIKey)
	if apiKey == "" {
		bad("API_KEY", "", true, errors.New("required"))
	}
	userID := strings.TrimSpace(cfg.UserID)
	if userID == "" {
		bad("USER_ID", "", false, errors.New("required"))
	}
	mapCfg := MapConfig{
		VATRate:           cfg.VATRate,
		TransactionType:   cfg.TransactionType,
		TransactionDetail: cfg.TransactionDetail,
		DocumentType:      cfg.DocumentType,
		NPWPKey:           cfg.NPWPKey,
		FakturKeys:        cfg.FakturKeys,
	}.withDefaults()
	if _, err := decimal.Parse(mapCfg.VATRate, decimal.OnlinePajak); err != nil {
		bad("VAT_RATE", cfg.VATRate, false, errors.New("not a plain decimal with at most 2 fraction digits (e.g. 12 or 11.5)"))
	}
	lookupTimeout := cfg.LookupTimeout
	switch {
	case lookupTimeout < 0:
		bad("LOOKUP_TIMEOUT", lookupTimeout.String(), false, errors.New("must not be negative"))
	case lookupTimeout == 0:
		lookupTimeout = DefaultLookupTimeout
	}
	lookupGrace := cfg.LookupGrace
	switch {
	case lookupGrace < 0:
		bad("LOOKUP_GRACE", lookupGrace.String(), false, errors.New("must not be negative"))
	case lookupGrace == 0:
		lookupGrace = DefaultLookupGrace
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// A redirect would carry the api_key to another URL, and would turn the
	// POST into a GET: report it instead of following it.
	client := relay.NoRedirectClient(deps.HTTP)
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	return &Sink{
		endpoint:      u.JoinPath("marketplace", "v1", "invoices"),
		apiKey:        apiKey,
		userID:        userID,
		mapCfg:        mapCfg,
		lookupTimeout: lookupTimeout,
		lookupGrace:   lookupGrace,
		client:        client,
		now:           now,
	}, nil
}
