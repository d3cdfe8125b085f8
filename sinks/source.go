package sinks

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// CheckSource checks every sink of a source the way the environment's sinks
// are checked at start (SPEC 6): its keys are parsed by ParseKeys (unknown
// keys named with the nearest valid one, the kind's defaults and rules) and
// the sink is built once with no dependencies, so a missing required key or
// a bad URL is found now and not at the first delivery. A file sink is only
// refused: through the API it would make the relay write files of its host
// (a source's events go to an http, accountingplus, onlinepajak or stdout
// sink). The error is invalid_request
// and names the source, the sink and each key at fault, never a secret's
// value; the parsed sinks are returned by name. A NAME_FILE key is refused
// too: it would make the relay read a file of its host.
func CheckSource(src *relay.Source) (map[string]*Conf, error) {
	names := make([]string, 0, len(src.Sinks))
	for name := range src.Sinks {
		names = append(names, name)
	}
	slices.Sort(names)
	confs := make(map[string]*Conf, len(names))
	var errs []error
	for _, name := range names {
		if k := fileKey(src.Sinks[name]); k != "" {
			errs = append(errs, fmt.Errorf("source %q, sink %q: %s: a source cannot read files of the relay's host; give the value itself (it is stored encrypted)", src.Name, name, k))
			continue
		}
		c, err := ParseKeys(name, src.Sinks[name])
		if err == nil && c.Kind.Name == "file" {
			err = fmt.Errorf("KIND: file: a source's sinks cannot write files of the relay's host; use http, accountingplus, onlinepajak or stdout")
		} else if err == nil {
			_, _, err = c.Build(Deps{})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("source %q, sink %q: %w", src.Name, name, err))
			continue
		}
		confs[name] = c
	}
	if len(errs) > 0 {
		return nil, &relay.Error{Code: relay.EINVALID, Message: errors.Join(errs...).Error()}
	}
	return confs, nil
}

// fileKey returns a key of keys that names a file to read the value from
// (NAME_FILE), "" when there is none (sorted, so the error is stable).
func fileKey(keys map[string]string) string {
	var found []string
	for k := range keys {
		if strings.HasSuffix(strings.ToUpper(k), "_FILE") {
			found = append(found, k)
		}
	}
	slices.Sort(found)
	if len(found) == 0 {
		return ""
	}
	return found[0]
}
