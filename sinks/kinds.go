// Package sinks describes every KIND of sink once: the keys it reads
// (SINK_<NAME>_* without the prefix), its defaults, whether it creates one
// document per subject, whether it can check an unknown outcome, and how it
// is built. Start-up, the offline CLI and the console all read this table;
// the sources API parses a sink's keys from a map with the same code.
package sinks

import (
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/accountingplus"
	"github.com/tagihan-relay/tagihan-relay/sinks/file"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
	"github.com/tagihan-relay/tagihan-relay/sinks/onlinepajak"
	"github.com/tagihan-relay/tagihan-relay/sinks/stdout"
	"github.com/tagihan-relay/tagihan-relay/tagihanai"
)

// Deps are what building a sink may need from the process.
type Deps struct {
	HTTP      *http.Client
	TagihanAI *tagihanai.Client // nil without TAGIHANAI_API_KEY
	Stdout    io.Writer
}

// Kind is one KIND of sink.
type Kind struct {
	Name  string // the KIND value
	Label string // how people call it ("AccountingPlus"); "" for generic kinds
	// CreateOnce: the sink is not idempotent and creates one document per
	// subject (SPEC 3). Such a sink defaults to EVENTS=transaction.sent and
	// ON_UNKNOWN=review, needs ORDERING=subject, and a replay to a subject
	// that has a document is skipped.
	CreateOnce bool
	// ChecksUnknown: after an unknown outcome the sink looks up whether the
	// attempt took effect, so a crashed in-flight attempt is retried.
	ChecksUnknown bool
	// settings returns a pointer to a new zero value of the kind's own
	// Config (nil when the kind has no keys of its own).
	settings func() any
	// build makes the sink from its parsed settings.
	build func(prefix string, settings any, d Deps) (relay.Sink, io.Closer, error)
}

// Kinds is every kind, in the order the documentation lists them.
var Kinds = []*Kind{
	{
		Name:     "http",
		settings: func() any { return new(httpforward.Config) },
		build: func(prefix string, s any, d Deps) (relay.Sink, io.Closer, error) {
			sink, err := httpforward.New(prefix, *s.(*httpforward.Config), httpforward.Deps{HTTP: d.HTTP})
			return sink, nil, err
		},
	},
	{
		Name: "accountingplus", Label: "AccountingPlus", CreateOnce: true,
		settings: func() any { return new(accountingplus.Config) },
		build: func(prefix string, s any, d Deps) (relay.Sink, io.Closer, error) {
			sink, err := accountingplus.New(prefix, *s.(*accountingplus.Config), accountingplus.Deps{HTTP: d.HTTP, TagihanAI: d.TagihanAI})
			return sink, nil, err
		},
	},
	{
		Name: "onlinepajak", Label: "OnlinePajak", CreateOnce: true, ChecksUnknown: true,
		settings: func() any { return new(onlinepajak.Config) },
		build: func(prefix string, s any, d Deps) (relay.Sink, io.Closer, error) {
			sink, err := onlinepajak.New(prefix, *s.(*onlinepajak.Config), onlinepajak.Deps{HTTP: d.HTTP})
			return sink, nil, err
		},
	},
	{
		Name:     "file",
		settings: func() any { return new(file.Config) },
		build: func(prefix string, s any, d Deps) (relay.Sink, io.Closer, error) {
			sink, err := file.New(prefix, *s.(*file.Config))
			if err != nil {
				return nil, nil, err
			}
			return sink, sink, nil
		},
	},
	{
		Name: "stdout",
		build: func(prefix string, s any, d Deps) (relay.Sink, io.Closer, error) {
			return stdout.New(d.Stdout), nil, nil
		},
	},
}

// KindNamed returns the kind called name (lower case), nil when there is none.
func KindNamed(name string) *Kind {
	for _, k := range Kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// kindNames lists the kinds for an error message: "http, …, file or stdout".
func kindNames() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = k.Name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Keys returns the keys a sink of this kind reads after SINK_<NAME>_: the
// common keys and the kind's own, taken from the env tags of the structs
// that parse them (so a key added to a Config is known without a second
// list), with NAME_FILE for the keys that may be given as a file; sorted.
func (k *Kind) Keys() []string {
	structs := []any{&Common{}}
	if k.settings != nil {
		structs = append(structs, k.settings())
	}
	var keys []string
	for _, s := range structs {
		for _, key := range envKeys(s) {
			keys = append(keys, key)
			if IsSecretKey(key) {
				keys = append(keys, key+"_FILE")
			}
		}
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}

// OwnKeys returns the env keys of the kind's own settings (without the
// common keys), in declaration order.
func (k *Kind) OwnKeys() []string {
	if k.settings == nil {
		return nil
	}
	return envKeys(k.settings())
}

// envKeys returns the env tags of a struct pointer's fields, in order.
func envKeys(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ","); tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// secretKeySuffixes are the sink keys whose values are secrets: never
// echoed in an error, and also accepted as KEY_FILE.
var secretKeySuffixes = []string{"CLIENT_SECRET", "SIGNATURE_SECRET", "API_KEY", "SIGNING_SECRET"}

// IsSecretKey reports whether a sink key (with or without its
// SINK_<NAME>_ prefix) holds a secret.
func IsSecretKey(key string) bool {
	for _, s := range secretKeySuffixes {
		if key == s || strings.HasSuffix(key, "_"+s) {
			return true
		}
	}
	return false
}
