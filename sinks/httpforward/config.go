package httpforward

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
)

// Modes of the HTTP forward sink.
const (
	// ModeCloudEvents posts the structured CloudEvent JSON with
	// Content-Type application/cloudevents+json.
	ModeCloudEvents = "cloudevents"
	// ModeRaw posts the original TagihanAI body byte for byte, with its
	// Content-Type and its X-TagihanAI-* headers as X-Original-TagihanAI-*.
	ModeRaw = "raw"
)

// Config is one HTTP forward sink's configuration, read by the caller with
// caarlos0/env and the prefix SINK_<NAME>_. New validates it.
type Config struct {
	// URL is the absolute http or https URL every event is POSTed to.
	URL string `env:"URL"`
	// Mode is ModeCloudEvents (the default) or ModeRaw.
	Mode string `env:"MODE" envDefault:"cloudevents"`
	// SigningSecret, "whsec_<base64>", turns on Standard Webhooks signing;
	// empty sends unsigned requests.
	SigningSecret string `env:"SIGNING_SECRET"`
	// Headers are static headers added to every request, given as
	// "X-Env=prod,X-Team=erp". Values may be credentials: they are never
	// echoed in errors.
	Headers map[string]string `env:"HEADERS" envKeyValSeparator:"="`
}

// Deps are what an HTTP forward sink borrows from the process.
type Deps struct {
	// HTTP is the shared client (over NewTransport's Transport). The sink
	// uses a copy that never follows redirects; the original is not
	// modified. Nil means a client of its own over NewTransport.
	HTTP *http.Client
	// Now is the clock for webhook-timestamp and Retry-After dates; nil
	// means time.Now.
	Now func() time.Time
}

// Config errors, wrapped in a *relay.ConfigError naming the variable.
var (
	errRequired       = errors.New("required")
	errBadMode        = fmt.Errorf("must be %q or %q", ModeCloudEvents, ModeRaw)
	errHeaderName     = errors.New("a header name is not a valid HTTP token (entries are name=value; the entry is not shown, it may hold a credential)")
	errHeaderValue    = errors.New("header value holds a control character")
	errHeaderReserved = errors.New("header is set by the sink itself")
)

// New validates cfg and returns the sink. prefix is the variables' prefix,
// e.g. "SINK_ERP_", used to name the offending variable in a
// *relay.ConfigError: URL missing or not an absolute http(s) URL, an unknown
// MODE, a SIGNING_SECRET that is not "whsec_<base64>" (reported with
// Secret set, never echoed), or a HEADERS entry whose name is not a token,
// whose value holds control characters, or which the sink sets itself
// (Content-Type, Host, webhook-*, X-Original-TagihanAI-* and the like).
func New(prefix string, cfg Config, deps Deps) (*Sink, error) {
	u, err := parseURL(prefix, cfg.URL)
	if err != nil {
		return nil, err
	}
	mode := strings.ToLower(strings.TrimSpace(cfg.Mode))
	switch mode {
	case "":
		mode = ModeCloudEvents
	case ModeCloudEvents, ModeRaw:
	default:
		return nil, &relay.ConfigError{Var: prefix + "MODE", Value: cfg.Mode, Err: errBadMode}
	}
	var key []byte
	if cfg.SigningSecret != "" {
		key, err = signature.StandardKey(cfg.SigningSecret)
		if err != nil {
			return nil, &relay.ConfigError{Var: prefix + "SIGNING_SECRET", Secret: true, Err: err}
		}
	}
	static, err := staticHeaders(prefix, cfg.Headers)
	if err != nil {
		return nil, err
	}

	client := deps.HTTP
	if client == nil {
		client = &http.Client{Transport: NewTransport()}
	}
	c := relay.NoRedirectClient(client)
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	return &Sink{url: u.String(), mode: mode, key: key, static: static, client: c, now: now}, nil
}

func parseURL(prefix, raw string) (*url.URL, error) {
	name := prefix + "URL"
	if strings.TrimSpace(raw) == "" {
		return nil, &relay.ConfigError{Var: name, Err: errRequired}
	}
	return relay.ParseSinkURL(name, raw, false)
}

// reservedHeaders are the headers Deliver sets; a static header must not
// silently override (or be overridden by) them.
var reservedHeaders = map[string]bool{
	"Content-Type":      true,
	"Content-Length":    true,
	"Content-Encoding":  true,
	"Transfer-Encoding": true,
	"Connection":        true,
	"Host":              true,
	"Webhook-Id":        true,
	"Webhook-Timestamp": true,
	"Webhook-Signature": true,
}

// Raw mode forwards each X-TagihanAI-* header of the original delivery
// under originalPrefix (canonical spelling; header names are
// case-insensitive), so receivers can still check TagihanAI's signature.
const (
	tagihanPrefix  = "X-TagihanAI-"
	originalPrefix = "X-Original-Tagihanai-"
)

func staticHeaders(prefix string, in map[string]string) (http.Header, error) {
	name := prefix + "HEADERS"
	h := make(http.Header, len(in))
	for k, v := range in {
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		// HEADERS values are often credentials, and an entry with a bad
		// name may be a whole "Name: secret": only a valid name is named,
		// in the reason (ConfigError never prints HEADERS' value).
		if !validToken(k) {
			return nil, &relay.ConfigError{Var: name, Err: errHeaderName}
		}
		if !validValue(v) {
			return nil, &relay.ConfigError{Var: name, Err: fmt.Errorf("header %s: %w", k, errHeaderValue)}
		}
		ck := http.CanonicalHeaderKey(k)
		if reservedHeaders[ck] || strings.HasPrefix(ck, originalPrefix) {
			return nil, &relay.ConfigError{Var: name, Err: fmt.Errorf("header %s: %w", k, errHeaderReserved)}
		}
		h.Set(ck, v)
	}
	return h, nil
}

// validToken reports whether s is an RFC 9110 token (a valid field name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validValue reports whether s is a field value without CR, LF, NUL or other
// control characters (horizontal tab allowed).
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
