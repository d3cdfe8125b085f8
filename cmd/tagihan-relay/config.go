package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caarlos0/env/v11"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/relay/adminhttp"
	"github.com/tagihan-relay/tagihan-relay/relay/signature"
	"github.com/tagihan-relay/tagihan-relay/sinks/accountingplus"
	"github.com/tagihan-relay/tagihan-relay/sinks/file"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
	"github.com/tagihan-relay/tagihan-relay/sinks/onlinepajak"
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

	// Filled by loadConfig.
	Keys       [][]byte    `env:"-"`
	SinkConfs  []*SinkConf `env:"-"`
	SecretFile string      `env:"-"` // zero-config secret path, when used
	// Warnings are settings that are ignored (e.g. SINK_ACC_URL while no
	// sink "acc" is named in RELAY_SINKS); serve logs them at start.
	Warnings []string `env:"-"`
	// Proxies are RELAY_TRUSTED_PROXIES parsed (filled by loadConfig).
	Proxies adminhttp.TrustedProxies `env:"-"`
}

// SinkCommon are the keys every sink has (SINK_<NAME>_*).
type SinkCommon struct {
	Kind          string        `env:"KIND"`
	Events        []string      `env:"EVENTS"`
	Timeout       time.Duration `env:"TIMEOUT" envDefault:"30s"`
	RetrySchedule string        `env:"RETRY_SCHEDULE" envDefault:"5s,30s,2m,10m,30m,1h,2h,4h,8h,8h"`
	Ordering      string        `env:"ORDERING" envDefault:"subject"`
	Concurrency   int           `env:"CONCURRENCY" envDefault:"8"`
	IncludeTests  bool          `env:"INCLUDE_TESTS" envDefault:"false"`
	OnUnknown     string        `env:"ON_UNKNOWN"`
}

// SinkConf is one sink's parsed configuration.
type SinkConf struct {
	Name     string
	Prefix   string
	Common   SinkCommon
	Schedule []time.Duration
	HTTP     httpforward.Config
	File     file.Config
	AP       accountingplus.Config
	OP       onlinepajak.Config
}

// secretVars may also be given as NAME_FILE (a path whose content is the
// value); sink secrets match by suffix.
var (
	secretVars     = []string{"RELAY_ADMIN_TOKEN", "TAGIHANAI_API_KEY"}
	sinkSecretKeys = []string{"_CLIENT_SECRET", "_SIGNATURE_SECRET", "_API_KEY", "_SIGNING_SECRET"}
	sinkNameRe     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	natsPrefixRe   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
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
	if strings.HasPrefix(name, "SINK_") {
		for _, s := range sinkSecretKeys {
			if strings.HasSuffix(name, s) {
				return true
			}
		}
	}
	return false
}

// parseWith parses v (a struct pointer) from m with prefix. A value that
// does not parse becomes a ConfigError naming the variable (never echoing a
// secret's value).
func parseWith(v any, m map[string]string, prefix string) error {
	err := env.ParseWithOptions(v, env.Options{Environment: m, Prefix: prefix})
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	names := fieldEnvNames(v)
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if key, ok := names[pe.Name]; ok {
				name := prefix + key
				errs = append(errs, &relay.ConfigError{Var: name, Value: m[name], Secret: isSecretVar(name), Err: innermost(pe.Err)})
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// fieldEnvNames maps a struct's field names to their env keys.
func fieldEnvNames(v any) map[string]string {
	t := reflect.TypeOf(v).Elem()
	out := make(map[string]string, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" && tag != "-" {
			out[f.Name] = tag
		}
	}
	return out
}

func innermost(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
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
	var errs []error
	bad := func(name, value string, err error) {
		errs = append(errs, &relay.ConfigError{Var: name, Value: value, Secret: isSecretVar(name), Err: err})
	}
	if c.MaxBodyBytes <= 0 {
		bad("RELAY_MAX_BODY_BYTES", m["RELAY_MAX_BODY_BYTES"], errors.New("must be positive"))
	}
	if c.MaxInflightBytes <= 0 || int64(c.MaxInflightBytes) < c.MaxBodyBytes {
		bad("RELAY_MAX_INFLIGHT_BYTES", m["RELAY_MAX_INFLIGHT_BYTES"], errors.New("must be at least RELAY_MAX_BODY_BYTES, so one delivery of the largest size fits"))
	}
	if c.SignatureTolerance <= 0 {
		bad("TAGIHANAI_SIGNATURE_TOLERANCE", m["TAGIHANAI_SIGNATURE_TOLERANCE"], errors.New("must be positive"))
	}
	if c.Retention <= 0 {
		bad("RELAY_RETENTION", m["RELAY_RETENTION"], errors.New("must be positive"))
	}
	if c.RetentionInterval <= 0 {
		bad("RELAY_RETENTION_INTERVAL", m["RELAY_RETENTION_INTERVAL"], errors.New("must be positive"))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("RELAY_LOG_LEVEL", c.LogLevel, errors.New("must be debug, info, warn or error"))
	}
	if c.AdminToken != "" {
		if err := checkAdminToken(c.AdminToken); err != nil {
			bad("RELAY_ADMIN_TOKEN", "", err)
		}
	}
	if hosts, err := adminhttp.ParseAllowedHosts(c.AdminAllowedHosts); err != nil {
		bad("RELAY_ADMIN_ALLOWED_HOSTS", "", err)
	} else {
		c.AdminAllowedHosts = hosts
	}
	if proxies, err := adminhttp.ParseTrustedProxies(c.TrustedProxies); err != nil {
		bad("RELAY_TRUSTED_PROXIES", "", err)
	} else {
		c.Proxies = proxies
	}
	switch c.Backend {
	case "bbolt":
	case "nats":
		if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
			bad("NATS_STREAM_REPLICAS", m["NATS_STREAM_REPLICAS"], errors.New("must be from 1 to 5"))
		}
		if !natsPrefixRe.MatchString(c.NATSPrefix) {
			bad("NATS_PREFIX", c.NATSPrefix, errors.New("use letters, digits, _ and -"))
		}
		if c.NATSCredsFile != "" {
			if _, err := os.Stat(c.NATSCredsFile); err != nil {
				bad("NATS_CREDS_FILE", c.NATSCredsFile, errors.Unwrap(err))
			}
		}
	default:
		bad("RELAY_BACKEND", c.Backend, errors.New("must be bbolt or nats"))
	}
	switch strings.ToLower(c.SecretEncoding) {
	case "raw", "base64":
		c.SecretEncoding = strings.ToLower(c.SecretEncoding)
	default:
		bad("TAGIHANAI_SECRET_ENCODING", c.SecretEncoding, errors.New("must be raw or base64"))
	}
	for i, s := range c.Secrets {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		k, err := signature.DecodeSecret(s, c.SecretEncoding)
		if err != nil {
			bad("TAGIHANAI_WEBHOOK_SECRETS", "", fmt.Errorf("secret %d: %w", i+1, err))
			continue
		}
		c.Keys = append(c.Keys, k)
	}
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
		if !sinkNameRe.MatchString(name) {
			bad("RELAY_SINKS", strings.Join(c.Sinks, ","), fmt.Errorf("sink name %q: use lower-case letters, digits and _ (starting with a letter)", name))
			continue
		}
		if seen[name] {
			bad("RELAY_SINKS", strings.Join(c.Sinks, ","), fmt.Errorf("sink %q named twice", name))
			continue
		}
		seen[name] = true
		sc, err := loadSinkConf(name, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.SinkConfs = append(c.SinkConfs, sc)
	}
	keyErrs, warnings := checkSinkKeys(m, names)
	errs = append(errs, keyErrs...)
	c.Warnings = warnings
	if len(errs) > 0 {
		return &c, errors.Join(errs...)
	}
	return &c, nil
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

func loadSinkConf(name string, m map[string]string) (*SinkConf, error) {
	prefix := "SINK_" + strings.ToUpper(name) + "_"
	sc := &SinkConf{Name: name, Prefix: prefix}
	if err := parseWith(&sc.Common, m, prefix); err != nil {
		return nil, err
	}
	var errs []error
	bad := func(key, value string, err error) {
		errs = append(errs, &relay.ConfigError{Var: prefix + key, Value: value, Err: err})
	}
	cm := &sc.Common
	cm.Kind = strings.ToLower(strings.TrimSpace(cm.Kind))
	createOnce := cm.Kind == "accountingplus" || cm.Kind == "onlinepajak"
	var err error
	switch cm.Kind {
	case "http":
		err = parseWith(&sc.HTTP, m, prefix)
	case "file":
		err = parseWith(&sc.File, m, prefix)
	case "stdout":
	case "accountingplus":
		err = parseWith(&sc.AP, m, prefix)
	case "onlinepajak":
		err = parseWith(&sc.OP, m, prefix)
	case "":
		return nil, &relay.ConfigError{Var: prefix + "KIND", Err: fmt.Errorf("required for sink %q (http, accountingplus, onlinepajak, file or stdout)", name)}
	default:
		return nil, &relay.ConfigError{Var: prefix + "KIND", Value: cm.Kind, Err: errors.New("must be http, accountingplus, onlinepajak, file or stdout")}
	}
	if err != nil {
		errs = append(errs, err)
	}
	if len(cm.Events) == 0 {
		cm.Events = []string{"*"}
		if createOnce {
			cm.Events = []string{"transaction.sent"}
		}
	}
	for i, g := range cm.Events {
		cm.Events[i] = strings.TrimSpace(g)
		if !relay.ValidGlob(cm.Events[i]) {
			bad("EVENTS", strings.Join(cm.Events, ","), fmt.Errorf("%q is not a valid glob", g))
		}
	}
	if cm.Timeout <= 0 {
		bad("TIMEOUT", m[prefix+"TIMEOUT"], errors.New("must be positive"))
	}
	if sc.Schedule, err = relay.ParseSchedule(cm.RetrySchedule); err != nil {
		bad("RETRY_SCHEDULE", cm.RetrySchedule, err)
	}
	cm.Ordering = strings.ToLower(strings.TrimSpace(cm.Ordering))
	switch cm.Ordering {
	case "subject":
	case "none":
		if createOnce {
			bad("ORDERING", cm.Ordering, fmt.Errorf("a %s sink needs subject ordering to create each document once", cm.Kind))
		}
	default:
		bad("ORDERING", cm.Ordering, errors.New("must be subject or none"))
	}
	if cm.Concurrency < 1 || cm.Concurrency > 1024 {
		bad("CONCURRENCY", m[prefix+"CONCURRENCY"], errors.New("must be from 1 to 1024"))
	}
	cm.OnUnknown = strings.ToLower(strings.TrimSpace(cm.OnUnknown))
	switch cm.OnUnknown {
	case "":
		cm.OnUnknown = "retry"
		if createOnce {
			cm.OnUnknown = "review"
		}
	case "review", "retry":
	default:
		bad("ON_UNKNOWN", cm.OnUnknown, errors.New("must be review or retry"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sc, nil
}
