package sinks

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// Common are the keys every sink has (SPEC 3).
type Common struct {
	Kind          string        `env:"KIND"`
	Events        []string      `env:"EVENTS"`
	Timeout       time.Duration `env:"TIMEOUT" envDefault:"30s"`
	RetrySchedule string        `env:"RETRY_SCHEDULE" envDefault:"5s,30s,2m,10m,30m,1h,2h,4h,8h,8h"`
	Ordering      string        `env:"ORDERING" envDefault:"subject"`
	Concurrency   int           `env:"CONCURRENCY" envDefault:"8"`
	IncludeTests  bool          `env:"INCLUDE_TESTS" envDefault:"false"`
	OnUnknown     string        `env:"ON_UNKNOWN"`
}

// Conf is one sink's parsed configuration.
type Conf struct {
	Name     string
	Prefix   string // "SINK_<NAME>_" from the environment, "" from a map
	Kind     *Kind
	Common   Common
	Schedule []time.Duration
	// Settings points to the kind's own Config (nil for stdout).
	Settings any
}

// Parse reads sink name's keys from env, each named prefix+KEY (prefix is
// "SINK_<NAME>_" for the environment), applies the kind's defaults and
// checks the SPEC's rules. Every problem is reported at once, each a
// *relay.ConfigError naming the variable; secret values are never echoed.
func Parse(name, prefix string, env map[string]string) (*Conf, error) {
	c := &Conf{Name: name, Prefix: prefix}
	if err := ParseWith(&c.Common, env, prefix, IsSecretKey); err != nil {
		return nil, err
	}
	cm := &c.Common
	cm.Kind = strings.ToLower(strings.TrimSpace(cm.Kind))
	switch c.Kind = KindNamed(cm.Kind); {
	case cm.Kind == "":
		return nil, &relay.ConfigError{Var: prefix + "KIND", Err: fmt.Errorf("required for sink %q (%s)", name, kindNames())}
	case c.Kind == nil:
		return nil, &relay.ConfigError{Var: prefix + "KIND", Value: cm.Kind, Err: errors.New("must be " + kindNames())}
	}
	var errs []error
	if c.Kind.settings != nil {
		c.Settings = c.Kind.settings()
		if err := ParseWith(c.Settings, env, prefix, IsSecretKey); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.applyRules(env)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// ParseKeys reads a sink from a map of its keys without prefix (KIND, URL,
// …), as the sources API passes them: the same parsing and rules as the
// environment, and a key the kind does not read is an error naming the
// nearest valid one.
func ParseKeys(name string, keys map[string]string) (*Conf, error) {
	kind := KindNamed(strings.ToLower(strings.TrimSpace(keys["KIND"])))
	var errs []error
	if kind != nil {
		errs = append(errs, unknownKeys(kind, "", keys)...)
	}
	c, err := Parse(name, "", keys)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// applyRules fills the kind's defaults and checks the common keys.
func (c *Conf) applyRules(env map[string]string) []error {
	var errs []error
	bad := func(key, value string, err error) {
		errs = append(errs, &relay.ConfigError{Var: c.Prefix + key, Value: value, Err: err})
	}
	cm, once := &c.Common, c.Kind.CreateOnce
	if len(cm.Events) == 0 {
		cm.Events = []string{"*"}
		if once {
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
		bad("TIMEOUT", env[c.Prefix+"TIMEOUT"], errors.New("must be positive"))
	}
	var err error
	if c.Schedule, err = relay.ParseSchedule(cm.RetrySchedule); err != nil {
		bad("RETRY_SCHEDULE", cm.RetrySchedule, err)
	}
	switch cm.Ordering = strings.ToLower(strings.TrimSpace(cm.Ordering)); cm.Ordering {
	case "subject":
	case "none":
		if once {
			bad("ORDERING", cm.Ordering, fmt.Errorf("a %s sink needs subject ordering to create each document once", cm.Kind))
		}
	default:
		bad("ORDERING", cm.Ordering, errors.New("must be subject or none"))
	}
	if cm.Concurrency < 1 || cm.Concurrency > 1024 {
		bad("CONCURRENCY", env[c.Prefix+"CONCURRENCY"], errors.New("must be from 1 to 1024"))
	}
	switch cm.OnUnknown = strings.ToLower(strings.TrimSpace(cm.OnUnknown)); cm.OnUnknown {
	case "":
		cm.OnUnknown = "retry"
		if once {
			cm.OnUnknown = "review"
		}
	case "review", "retry":
	default:
		bad("ON_UNKNOWN", cm.OnUnknown, errors.New("must be review or retry"))
	}
	return errs
}

// Route is where the sink's events come from (its EVENTS, tests, ordering).
func (c *Conf) Route() relay.Route {
	return relay.Route{Sink: c.Name, Events: c.Common.Events, IncludeTests: c.Common.IncludeTests,
		OrderBySubject: c.Common.Ordering == "subject", CreateOnce: c.Kind.CreateOnce}
}

// Build makes the sink and its dispatcher spec. The closer, when not nil,
// is closed at shutdown (the file sink's file).
func (c *Conf) Build(d Deps) (*relay.SinkSpec, io.Closer, error) {
	sink, closer, err := c.Kind.build(c.Prefix, c.Settings, d)
	if err != nil {
		return nil, nil, err
	}
	return &relay.SinkSpec{
		Name: c.Name, Kind: c.Kind.Name, Sink: sink, Route: c.Route(),
		Concurrency: c.Common.Concurrency, Timeout: c.Common.Timeout, Schedule: c.Schedule,
		ReviewUnknown: c.Common.OnUnknown == "review",
		CreateOnce:    c.Kind.CreateOnce, ChecksUnknown: c.Kind.ChecksUnknown,
	}, closer, nil
}

// ParseWith parses v (a struct pointer) from m with prefix, using
// caarlos0/env. A value that does not parse becomes a *relay.ConfigError
// naming the variable, without its value when secret(name) is true.
func ParseWith(v any, m map[string]string, prefix string, secret func(name string) bool) error {
	err := env.ParseWithOptions(v, env.Options{Environment: m, Prefix: prefix})
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	names := FieldEnvNames(v)
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if key, ok := names[pe.Name]; ok {
				name := prefix + key
				errs = append(errs, &relay.ConfigError{Var: name, Value: m[name], Secret: secret(name), Err: innermost(pe.Err)})
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// FieldEnvNames maps a struct pointer's field names to their env keys.
func FieldEnvNames(v any) map[string]string {
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
