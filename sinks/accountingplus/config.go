package accountingplus

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/tagihanai"
)

// Defaults of the configuration.
const (
	DefaultBaseURL  = "https://staging-openapi.accountingplus.id"
	DefaultTokenTTL = 5 * time.Minute
	// MaxTokenTTL bounds TOKEN_TTL: the JWT is meant to be short-lived.
	MaxTokenTTL = time.Hour
)

// AUTH values.
const (
	AuthJWT   = "jwt"
	AuthOAuth = "oauth"
)

// ADATA_FORMAT values.
const (
	ADataQuery = "query"
	ADataJSON  = "json"
)

// ErrRequired is returned (inside a *relay.ConfigError) when a required
// variable is unset or blank.
var ErrRequired = errors.New("must be set")

// Config is the sink's configuration. The caller parses it with
// caarlos0/env and the prefix SINK_<NAME>_, so tags carry no prefix. Zero
// values of BaseURL, Auth, ADataFormat and TokenTTL mean their defaults.
type Config struct {
	BaseURL           string        `env:"BASE_URL" envDefault:"https://staging-openapi.accountingplus.id"`
	ClientID          string        `env:"CLIENT_ID"`
	ClientSecret      string        `env:"CLIENT_SECRET"` // the caller resolves CLIENT_SECRET_FILE
	SignatureSecret   string        `env:"SIGNATURE_SECRET"`
	Email             string        `env:"EMAIL"`
	TenantID          string        `env:"TENANT_ID"`
	Auth              string        `env:"AUTH" envDefault:"jwt"`           // jwt | oauth
	ADataFormat       string        `env:"ADATA_FORMAT" envDefault:"query"` // query | json
	ItemMap           string        `env:"ITEM_MAP"`                        // CSV path: item_name,item_code
	DefaultItemCode   string        `env:"DEFAULT_ITEM_CODE"`
	TaxCode           string        `env:"TAX_CODE"`
	AutoCreatePayment bool          `env:"AUTO_CREATE_PAYMENT" envDefault:"false"`
	TokenTTL          time.Duration `env:"TOKEN_TTL" envDefault:"5m"` // JWT lifetime (exp - iat)
}

// Deps are the shared things the caller passes.
type Deps struct {
	// HTTP carries the shared transport; nil means a client over
	// http.DefaultTransport. Its Timeout should be zero: the per-attempt
	// timeout comes with the context.
	HTTP *http.Client
	// TagihanAI reads transactions for enrichment; nil when
	// TAGIHANAI_API_KEY is unset.
	TagihanAI *tagihanai.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New validates cfg and returns the sink. Every problem is a
// *relay.ConfigError naming prefix+VAR (secrets flagged Secret, never
// echoed); several are joined with errors.Join. ITEM_MAP is read here, once.
// prefix is the caller's, e.g. "SINK_ERP_".
func New(prefix string, cfg Config, deps Deps) (*Sink, error) {
	c, err := cfg.check(prefix)
	if err != nil {
		return nil, err
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	// A copy of the shared client that never follows redirects: a POST
	// redirected would turn into a GET, and a redirect is not success.
	hc := relay.NoRedirectClient(deps.HTTP)

	var tokens tokenSource
	switch c.auth {
	case AuthJWT:
		tokens = &jwtSource{clientID: cfg.ClientID, secret: []byte(cfg.ClientSecret), ttl: c.ttl, now: now}
	case AuthOAuth:
		tokens = &oauthSource{
			url: c.base + tokenPath, clientID: cfg.ClientID, clientSecret: cfg.ClientSecret,
			defaultTTL: c.ttl, hc: hc, now: now, fetching: make(chan struct{}, 1),
		}
	}
	return &Sink{
		endpoint:        c.base + invoicePath,
		email:           cfg.Email,
		tenantID:        cfg.TenantID,
		signatureSecret: cfg.SignatureSecret,
		aData:           aData(c.adata, cfg.Email, cfg.TenantID),
		tokens:          tokens,
		hc:              hc,
		mapping: MapConfig{
			ItemCodes:         c.items,
			DefaultItemCode:   strings.TrimSpace(cfg.DefaultItemCode),
			TaxCode:           strings.TrimSpace(cfg.TaxCode),
			AutoCreatePayment: cfg.AutoCreatePayment,
		},
		tagihanai: deps.TagihanAI,
		now:       now,
		secrets:   []string{cfg.ClientSecret, cfg.SignatureSecret},
	}, nil
}

// checked is a Config with its defaults applied and its values validated.
type checked struct {
	base, auth, adata string
	ttl               time.Duration
	items             ItemMap
}

// check validates cfg, applies the defaults and reads ITEM_MAP, reporting
// every problem at once.
func (cfg Config) check(prefix string) (checked, error) {
	var errs []error
	bad := func(name, value string, secret bool, err error) {
		errs = append(errs, &relay.ConfigError{Var: prefix + name, Value: value, Secret: secret, Err: err})
	}
	c := checked{base: strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if _, err := relay.ParseSinkURL(prefix+"BASE_URL", c.base, true); err != nil {
		errs = append(errs, err)
	}
	for _, v := range []struct {
		name, value string
		secret      bool
	}{
		{"CLIENT_ID", cfg.ClientID, false},
		{"CLIENT_SECRET", cfg.ClientSecret, true},
		{"SIGNATURE_SECRET", cfg.SignatureSecret, true},
		{"EMAIL", cfg.Email, false},
		{"TENANT_ID", cfg.TenantID, false},
	} {
		if strings.TrimSpace(v.value) == "" {
			bad(v.name, "", v.secret, ErrRequired)
		}
	}
	if e := strings.TrimSpace(cfg.Email); e != "" && !strings.Contains(e, "@") {
		bad("EMAIL", e, false, errors.New("not an email address"))
	}
	if c.auth = strings.ToLower(strings.TrimSpace(cfg.Auth)); c.auth == "" {
		c.auth = AuthJWT
	}
	if c.auth != AuthJWT && c.auth != AuthOAuth {
		bad("AUTH", cfg.Auth, false, fmt.Errorf("want %s or %s", AuthJWT, AuthOAuth))
	}
	if c.adata = strings.ToLower(strings.TrimSpace(cfg.ADataFormat)); c.adata == "" {
		c.adata = ADataQuery
	}
	if c.adata != ADataQuery && c.adata != ADataJSON {
		bad("ADATA_FORMAT", cfg.ADataFormat, false, fmt.Errorf("want %s or %s", ADataQuery, ADataJSON))
	}
	if c.ttl = cfg.TokenTTL; c.ttl == 0 {
		c.ttl = DefaultTokenTTL
	}
	if c.ttl < 10*time.Second || c.ttl > MaxTokenTTL {
		bad("TOKEN_TTL", cfg.TokenTTL.String(), false, fmt.Errorf("want between 10s and %v", MaxTokenTTL))
	}
	if path := strings.TrimSpace(cfg.ItemMap); path != "" {
		m, err := LoadItemMap(path)
		if err != nil {
			bad("ITEM_MAP", path, false, err)
		}
		c.items = m
	}
	return c, errors.Join(errs...)
}
