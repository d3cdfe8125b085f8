package relay

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SourceSpec is a source as it is written: in a `sources apply -f` file
// (YAML or JSON) and in the body of PUT /v1/sources/{name} (SPEC 6). Its
// secrets are in plain text; it is turned into a Source, checked, and
// stored sealed.
type SourceSpec struct {
	Name string `json:"name" yaml:"name"`
	// Enabled defaults to true.
	Enabled        *bool    `json:"enabled,omitempty" yaml:"enabled"`
	Secrets        []string `json:"secrets" yaml:"secrets"`
	SecretEncoding string   `json:"secret_encoding,omitempty" yaml:"secret_encoding"`
	// Tolerance is a Go duration ("5m"); empty means the relay's.
	Tolerance string                       `json:"tolerance,omitempty" yaml:"tolerance"`
	Sinks     map[string]map[string]string `json:"sinks" yaml:"sinks"`
	TagihanAI *SourceTagihanAISpec         `json:"tagihanai,omitempty" yaml:"tagihanai"`
}

// SourceTagihanAISpec is the written form of SourceTagihanAI.
type SourceTagihanAISpec struct {
	APIKey     string `json:"api_key,omitempty" yaml:"api_key"`
	APIBaseURL string `json:"api_base_url,omitempty" yaml:"api_base_url"`
	WebhookID  string `json:"webhook_id,omitempty" yaml:"webhook_id"`
	PublicURL  string `json:"public_url,omitempty" yaml:"public_url"`
}

// Source turns the spec into a Source whose secrets are added at now (a
// caller keeping an existing source's secrets keeps their times), checked
// by Source.Check. Sink keys are upper-cased, as the variables they stand
// for.
func (sp *SourceSpec) Source(now time.Time) (*Source, error) {
	s, err := sp.Unchecked(now)
	if err != nil {
		return nil, err
	}
	return s, s.Check()
}

// Unchecked is Source without Check, for a caller that completes the
// source first (apply keeps what connect manages) and checks it then.
func (sp *SourceSpec) Unchecked(now time.Time) (*Source, error) {
	s := &Source{Name: sp.Name, Enabled: sp.Enabled == nil || *sp.Enabled, SecretEncoding: sp.SecretEncoding,
		Sinks: make(map[string]map[string]string, len(sp.Sinks))}
	for _, sec := range sp.Secrets {
		s.Secrets = append(s.Secrets, NewSourceSecret(sec, now))
	}
	if sp.Tolerance != "" {
		d, err := time.ParseDuration(sp.Tolerance)
		if err != nil {
			return nil, Errorf(EINVALID, "source %q: tolerance %q: want a duration such as 5m", sp.Name, sp.Tolerance)
		}
		s.Tolerance = d
	}
	for name, keys := range sp.Sinks {
		m := make(map[string]string, len(keys))
		for k, v := range keys {
			m[strings.ToUpper(strings.TrimSpace(k))] = v
		}
		s.Sinks[name] = m
	}
	if t := sp.TagihanAI; t != nil {
		s.TagihanAI = &SourceTagihanAI{APIKey: t.APIKey, APIBaseURL: t.APIBaseURL, WebhookID: t.WebhookID, PublicURL: t.PublicURL}
	}
	return s, nil
}

// varRef is a ${NAME} reference in a value of a sources file.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ParseSourceFile reads a `sources apply -f` file: YAML or JSON, holding
// one source, a list of sources, or {"sources": [...]}, in one or more YAML
// documents. ${NAME} in any value is replaced by lookup(NAME) (the
// environment) before the value is read, so a secret need not be written
// in the file; a name lookup does not know is an error naming it and where
// it is. References are expanded in values only, never in keys, and a value
// cannot inject YAML. An unknown field, a source named twice or a missing
// name is an error.
func ParseSourceFile(data []byte, lookup func(string) (string, bool)) ([]SourceSpec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var specs []SourceSpec
	seen := map[string]bool{}
	for doc := 1; ; doc++ {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Errorf(EINVALID, "sources file: %v", err)
		}
		if err := expandVars(&root, lookup); err != nil {
			return nil, err
		}
		list, err := sourceList(&root)
		if err != nil {
			return nil, Errorf(EINVALID, "sources file, document %d: %v", doc, err)
		}
		for i, n := range list {
			var sp SourceSpec
			if err := decodeStrict(n, &sp); err != nil {
				return nil, Errorf(EINVALID, "sources file, document %d, source %d: %v", doc, i+1, err)
			}
			if sp.Name == "" {
				return nil, Errorf(EINVALID, "sources file, document %d, source %d: name is required", doc, i+1)
			}
			if seen[sp.Name] {
				return nil, Errorf(EINVALID, "sources file: source %q is written twice", sp.Name)
			}
			seen[sp.Name] = true
			specs = append(specs, sp)
		}
	}
	if len(specs) == 0 {
		return nil, Errorf(EINVALID, "sources file: no source in it")
	}
	return specs, nil
}

// sourceList finds the sources of one document.
func sourceList(root *yaml.Node) ([]*yaml.Node, error) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return n.Content, nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "sources" {
				if len(n.Content) != 2 || n.Content[i+1].Kind != yaml.SequenceNode {
					return nil, errors.New(`"sources" must be the only key, with a list of sources`)
				}
				return n.Content[i+1].Content, nil
			}
		}
		return []*yaml.Node{n}, nil
	}
	return nil, errors.New("want a source, a list of sources or {sources: [...]}")
}

// decodeStrict decodes n into v, refusing fields v does not have (a typo
// must not silently drop a setting).
func decodeStrict(n *yaml.Node, v any) error {
	out, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// expandVars replaces ${NAME} in every scalar value below n. A plain
// (unquoted) scalar is re-typed after expansion, so `enabled: ${ON}` reads
// true or false; a quoted one stays a string.
func expandVars(n *yaml.Node, lookup func(string) (string, bool)) error {
	if n.Kind == yaml.MappingNode {
		for i := 1; i < len(n.Content); i += 2 {
			if err := expandVars(n.Content[i], lookup); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range n.Content {
		if err := expandVars(c, lookup); err != nil {
			return err
		}
	}
	if n.Kind != yaml.ScalarNode || !strings.Contains(n.Value, "${") {
		return nil
	}
	var missing []string
	n.Value = varRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return Errorf(EINVALID, "sources file, line %d: ${%s} is not set in the environment", n.Line, missing[0])
	}
	if n.Style == 0 {
		n.Tag = ""
	}
	return nil
}

// ApplyAction is what `sources apply` did to one source.
type ApplyAction string

// The actions of SPEC 6's apply.
const (
	ApplyCreated   ApplyAction = "created"
	ApplyUpdated   ApplyAction = "updated"
	ApplyUnchanged ApplyAction = "unchanged"
)

// PlanApply says what applying desired over current (nil when the source
// does not exist) does.
func PlanApply(current, desired *Source) ApplyAction {
	switch {
	case current == nil:
		return ApplyCreated
	case current.SameConfig(desired):
		return ApplyUnchanged
	}
	return ApplyUpdated
}
