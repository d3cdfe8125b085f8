package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
	"github.com/tagihan-relay/tagihan-relay/relay/sealed"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sinks"
)

// Config is the whole service configuration, read from the environment
// (SPEC 2, 3, 4, 5). Every variable and its default is in README.md and
// config.example.env.
type Config struct {
	ListenAddr        string        `env:"RELAY_LISTEN_ADDR" envDefault:"127.0.0.1:8080"`
	AdminAddr         string        `env:"RELAY_ADMIN_ADDR" envDefault:"127.0.0.1:8081"`
	AdminToken        string        `env:"RELAY_ADMIN_TOKEN"`
	AdminAllowedHosts []string      `env:"RELAY_ADMIN_ALLOWED_HOSTS"`
	TrustedProxies    []string      `env:"RELAY_TRUSTED_PROXIES"`
	DataDir           string        `env:"RELAY_DATA_DIR" envDefault:"./data"`
	MaxBodyBytes      int64         `env:"RELAY_MAX_BODY_BYTES" envDefault:"1048576"`
	MaxInflightBytes  ByteSize      `env:"RELAY_MAX_INFLIGHT_BYTES" envDefault:"64MiB"`
	Source            string        `env:"RELAY_SOURCE" envDefault:"tagihanai"`
	Retention         time.Duration `env:"RELAY_RETENTION" envDefault:"720h"`
	RetentionInterval time.Duration `env:"RELAY_RETENTION_INTERVAL" envDefault:"10m"`
	Sinks             []string      `env:"RELAY_SINKS"`
	LogLevel          string        `env:"RELAY_LOG_LEVEL" envDefault:"info"`
	ShutdownTimeout   time.Duration `env:"RELAY_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	Backend           string        `env:"RELAY_BACKEND" envDefault:"bbolt"`

	NATSURL       string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	NATSCredsFile string `env:"NATS_CREDS_FILE"`
	NATSReplicas  int    `env:"NATS_STREAM_REPLICAS" envDefault:"1"`
	NATSPrefix    string `env:"NATS_PREFIX" envDefault:"TAGIHAN_RELAY"`

	Secrets            []string      `env:"TAGIHANAI_WEBHOOK_SECRETS"`
	SecretEncoding     string        `env:"TAGIHANAI_SECRET_ENCODING" envDefault:"raw"`
	SignatureTolerance time.Duration `env:"TAGIHANAI_SIGNATURE_TOLERANCE" envDefault:"5m"`
	TagihanAIAPIKey    string        `env:"TAGIHANAI_API_KEY"`
	TagihanAIAPIBase   string        `env:"TAGIHANAI_API_BASE_URL" envDefault:"https://www.tagihanai.com/api/v1"`

	// TagihanAIMaxRPS paces every TagihanAI API call of every source
	// (SPEC 7; the standard tier allows 1,000 an hour).
	TagihanAIMaxRPS float64 `env:"RELAY_TAGIHANAI_MAX_RPS" envDefault:"0.25"`
	// Background reconcile (SPEC 7): off when the interval is 0.
	ReconcileInterval time.Duration `env:"RELAY_RECONCILE_INTERVAL" envDefault:"0s"`
	ReconcileWindow   time.Duration `env:"RELAY_RECONCILE_WINDOW" envDefault:"168h"`
	ReconcileFix      bool          `env:"RELAY_RECONCILE_FIX" envDefault:"false"`

	// MasterKey seals the run-time sources' secrets (SPEC 6); from
	// RELAY_MASTER_KEY or RELAY_MASTER_KEY_FILE, else <data dir>/master-key,
	// created on first use (bbolt only: NATS replicas need one shared key).
	MasterKey string `env:"RELAY_MASTER_KEY"`

	// Filled by loadConfig.
	Keys       [][]byte      `env:"-"`
	SinkConfs  []*sinks.Conf `env:"-"`
	SecretFile string        `env:"-"` // zero-config secret path, when used
	// Warnings are settings that are ignored (e.g. SINK_ACC_URL while no
	// sink "acc" is named in RELAY_SINKS); serve logs them at start.
	Warnings []string `env:"-"`
	// Proxies are RELAY_TRUSTED_PROXIES parsed (filled by loadConfig).
	Proxies adminhttp.TrustedProxies `env:"-"`
}

// secretVars may also be given as NAME_FILE (a path whose content is the
// value); sink secrets match by suffix.
var (
	secretVars   = []string{"RELAY_ADMIN_TOKEN", "TAGIHANAI_API_KEY", "RELAY_MASTER_KEY"}
	natsPrefixRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// envMap turns getenv plus the names it knows into a map for caarlos0/env,
// resolving NAME_FILE for secrets.
func envMap(environ []string) (map[string]string, error) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for k, path := range m {
		base, ok := strings.CutSuffix(k, "_FILE")
		if !ok || path == "" || !isSecretVar(base) {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &relay.ConfigError{Var: k, Value: path, Err: fmt.Errorf("read secret file: %w", errors.Unwrap(err))}
		}
		if base == "TAGIHANAI_WEBHOOK_SECRETS" {
			var secrets []string
			for _, line := range strings.Split(string(b), "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
					secrets = append(secrets, line)
				}
			}
			if m[base] != "" {
				secrets = append(strings.Split(m[base], ","), secrets...)
			}
			m[base] = strings.Join(secrets, ",")
			continue
		}
		if m[base] != "" {
			return nil, &relay.ConfigError{Var: k, Value: path, Err: fmt.Errorf("both %s and %s are set; use one", base, k)}
		}
		m[base] = strings.TrimSpace(string(b))
	}
	return m, nil
}

func isSecretVar(name string) bool {
	if name == "TAGIHANAI_WEBHOOK_SECRETS" {
		return true
	}
	for _, s := range secretVars {
		if s == name {
			return true
		}
	}
	return strings.HasPrefix(name, "SINK_") && sinks.IsSecretKey(name)
}

// parseWith parses v (a struct pointer) from m with prefix. A value that
// does not parse becomes a ConfigError naming the variable (never echoing a
// secret's value).
func parseWith(v any, m map[string]string, prefix string) error {
	return sinks.ParseWith(v, m, prefix, isSecretVar)
}

// loadConfig reads and validates the whole configuration. Errors name the
// variable; all problems are reported at once. With an error, the Config
// holds what did parse (serve checks the sinks that parsed, so that a
// start reports every problem, not one round of them at a time).
func loadConfig(m map[string]string) (*Config, error) {
	var c Config
	if err := parseWith(&c, m, ""); err != nil {
		return nil, err
	}
	var p problems
	c.checkService(m, &p)
	c.checkBackend(m, &p)
	c.decodeSecrets(&p)
	c.loadSinks(m, &p)
	if len(p) > 0 {
		return &c, errors.Join(p...)
	}
	return &c, nil
}

// problems collects every configuration problem, so that one start
// reports all of them.
type problems []error

// add records a problem with variable name (its value is never echoed when
// the variable is a secret).
func (p *problems) add(name, value string, err error) {
	*p = append(*p, &relay.ConfigError{Var: name, Value: value, Secret: isSecretVar(name), Err: err})
}

// checkService checks the limits, log level and admin listener settings.
func (c *Config) checkService(m map[string]string, p *problems) {
	if c.MaxBodyBytes <= 0 {
		p.add("RELAY_MAX_BODY_BYTES", m["RELAY_MAX_BODY_BYTES"], errors.New("must be positive"))
	}
	if c.MaxInflightBytes <= 0 || int64(c.MaxInflightBytes) < c.MaxBodyBytes {
		p.add("RELAY_MAX_INFLIGHT_BYTES", m["RELAY_MAX_INFLIGHT_BYTES"], errors.New("must be at least RELAY_MAX_BODY_BYTES, so one delivery of the largest size fits"))
	}
	if c.SignatureTolerance <= 0 {
		p.add("TAGIHANAI_SIGNATURE_TOLERANCE", m["TAGIHANAI_SIGNATURE_TOLERANCE"], errors.New("must be positive"))
	}
	if c.Retention <= 0 {
		p.add("RELAY_RETENTION", m["RELAY_RETENTION"], errors.New("must be positive"))
	}
	if c.RetentionInterval <= 0 {
		p.add("RELAY_RETENTION_INTERVAL", m["RELAY_RETENTION_INTERVAL"], errors.New("must be positive"))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		p.add("RELAY_LOG_LEVEL", c.LogLevel, errors.New("must be debug, info, warn or error"))
	}
	if c.AdminToken != "" {
		if err := checkAdminToken(c.AdminToken); err != nil {
			p.add("RELAY_ADMIN_TOKEN", "", err)
		}
	}
	if hosts, err := adminhttp.ParseAllowedHosts(c.AdminAllowedHosts); err != nil {
		p.add("RELAY_ADMIN_ALLOWED_HOSTS", "", err)
	} else {
		c.AdminAllowedHosts = hosts
	}
	if proxies, err := adminhttp.ParseTrustedProxies(c.TrustedProxies); err != nil {
		p.add("RELAY_TRUSTED_PROXIES", "", err)
	} else {
		c.Proxies = proxies
	}
}

// checkBackend checks the store backend's settings.
func (c *Config) checkBackend(m map[string]string, p *problems) {
	switch c.Backend {
	case "bbolt":
	case "nats":
		if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
			p.add("NATS_STREAM_REPLICAS", m["NATS_STREAM_REPLICAS"], errors.New("must be from 1 to 5"))
		}
		if !natsPrefixRe.MatchString(c.NATSPrefix) {
			p.add("NATS_PREFIX", c.NATSPrefix, errors.New("use letters, digits, _ and -"))
		}
		if c.NATSCredsFile != "" {
			if _, err := os.Stat(c.NATSCredsFile); err != nil {
				p.add("NATS_CREDS_FILE", c.NATSCredsFile, errors.Unwrap(err))
			}
		}
	default:
		p.add("RELAY_BACKEND", c.Backend, errors.New("must be bbolt or nats"))
	}
	if c.TagihanAIMaxRPS < 0 {
		p.add("RELAY_TAGIHANAI_MAX_RPS", m["RELAY_TAGIHANAI_MAX_RPS"], errors.New("must not be negative (0 means unpaced)"))
	}
	if c.ReconcileInterval < 0 || (c.ReconcileInterval > 0 && c.ReconcileInterval < time.Minute) {
		p.add("RELAY_RECONCILE_INTERVAL", m["RELAY_RECONCILE_INTERVAL"], errors.New("0 (off) or at least 1m"))
	}
	if c.ReconcileWindow <= 0 {
		p.add("RELAY_RECONCILE_WINDOW", m["RELAY_RECONCILE_WINDOW"], errors.New("must be positive, e.g. 168h"))
	}
	if c.MasterKey != "" {
		if _, err := sealed.ParseKey(c.MasterKey); err != nil {
			p.add("RELAY_MASTER_KEY", c.MasterKey, err)
		}
	}
}

// decodeSecrets checks TAGIHANAI_SECRET_ENCODING and decodes the webhook
// secrets into Keys.
func (c *Config) decodeSecrets(p *problems) {
	switch strings.ToLower(c.SecretEncoding) {
	case "raw", "base64":
		c.SecretEncoding = strings.ToLower(c.SecretEncoding)
	default:
		p.add("TAGIHANAI_SECRET_ENCODING", c.SecretEncoding, errors.New("must be raw or base64"))
	}
	for i, s := range c.Secrets {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		k, err := signature.DecodeSecret(s, c.SecretEncoding)
		if err != nil {
			p.add("TAGIHANAI_WEBHOOK_SECRETS", "", fmt.Errorf("secret %d: %w", i+1, err))
			continue
		}
		c.Keys = append(c.Keys, k)
	}
}

// loadSinks parses every sink named in RELAY_SINKS (stdout when none is)
// and checks every SINK_* variable against the kinds' keys.
func (c *Config) loadSinks(m map[string]string, p *problems) {
	names := c.Sinks
	if len(names) == 0 {
		names = []string{"stdout"}
		if m["SINK_STDOUT_KIND"] == "" {
			m["SINK_STDOUT_KIND"] = "stdout"
		}
	}
	seen := map[string]bool{}
	for _, raw := range names {
		name := strings.TrimSpace(raw)
		if name == "" {
			continue
		}
		if !relay.ValidSinkName(name) {
			p.add("RELAY_SINKS", strings.Join(c.Sinks, ","), fmt.Errorf("sink name %q: %s", name, relay.SinkNameRule))
			continue
		}
		if seen[name] {
			p.add("RELAY_SINKS", strings.Join(c.Sinks, ","), fmt.Errorf("sink %q named twice", name))
			continue
		}
		seen[name] = true
		sc, err := sinks.Parse(name, "SINK_"+strings.ToUpper(name)+"_", m)
		if err != nil {
			*p = append(*p, err)
			continue
		}
		c.SinkConfs = append(c.SinkConfs, sc)
	}
	keyErrs, warnings := sinks.CheckEnvKeys(m, names)
	*p = append(*p, keyErrs...)
	c.Warnings = warnings
}

// MinAdminTokenLen is the shortest RELAY_ADMIN_TOKEN start-up accepts.
const MinAdminTokenLen = 16

// checkAdminToken refuses a weak admin token: shorter than
// MinAdminTokenLen characters, or holding whitespace or control characters
// (which also cannot travel in an Authorization header intact). The error
// never contains the token.
func checkAdminToken(token string) error {
	if strings.ContainsFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return errors.New("must not contain whitespace or control characters (generate one with: openssl rand -hex 32)")
	}
	if !utf8.ValidString(token) {
		return errors.New("must be valid UTF-8 text (generate one with: openssl rand -hex 32)")
	}
	if n := utf8.RuneCountInString(token); n < MinAdminTokenLen {
		return fmt.Errorf("too short: %d characters, at least %d are required (generate one with: openssl rand -hex 32)", n, MinAdminTokenLen)
	}
	return nil
}
