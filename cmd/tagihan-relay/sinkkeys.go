package main

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/tagihan-relay/tagihan-relay/relay"
	"github.com/tagihan-relay/tagihan-relay/sinks/accountingplus"
	"github.com/tagihan-relay/tagihan-relay/sinks/file"
	"github.com/tagihan-relay/tagihan-relay/sinks/httpforward"
	"github.com/tagihan-relay/tagihan-relay/sinks/onlinepajak"
)

// sinkKindKeys lists, per KIND, the keys a sink of that kind reads after
// SINK_<NAME>_, taken from the env tags of the structs that parse them, so
// a key added to a sink's Config is known here without a second list.
var sinkKindKeys = map[string][]string{
	"http":           envKeys(SinkCommon{}, httpforward.Config{}),
	"file":           envKeys(SinkCommon{}, file.Config{}),
	"stdout":         envKeys(SinkCommon{}),
	"accountingplus": envKeys(SinkCommon{}, accountingplus.Config{}),
	"onlinepajak":    envKeys(SinkCommon{}, onlinepajak.Config{}),
}

// envKeys returns the env tags of the structs' fields, with NAME_FILE for
// the keys that may be given as a file, sorted.
func envKeys(structs ...any) []string {
	var keys []string
	for _, s := range structs {
		t := reflect.TypeOf(s)
		for i := 0; i < t.NumField(); i++ {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			keys = append(keys, tag)
			if isSecretVar("SINK_X_" + tag) {
				keys = append(keys, tag+"_FILE")
			}
		}
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}

// checkSinkKeys looks at every SINK_* variable. One that belongs to a sink
// named in RELAY_SINKS but is not a key of its kind is an error (a typo
// such as SINK_ERP_EVENTZ would otherwise be ignored, and the sink would
// get every event), naming the nearest valid key. One that belongs to no
// configured sink is a warning: it is ignored, which is what the operator
// should hear about. Values are never echoed (they may be secrets).
func checkSinkKeys(m map[string]string, sinks []string) (errs []error, warnings []string) {
	prefixes := make([]string, 0, len(sinks))
	for _, s := range sinks {
		if s = strings.TrimSpace(s); s != "" {
			prefixes = append(prefixes, "SINK_"+strings.ToUpper(s)+"_")
		}
	}
	// The longest prefix wins: with sinks "erp" and "erp_eu",
	// SINK_ERP_EU_URL belongs to erp_eu.
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) > len(prefixes[j]) })
	names := make([]string, 0, len(m))
	for k := range m {
		if strings.HasPrefix(k, "SINK_") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		prefix := ""
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				prefix = p
				break
			}
		}
		if prefix == "" {
			warnings = append(warnings, fmt.Sprintf("%s is set but no sink in RELAY_SINKS (%s) has the prefix of it: ignored", k, strings.Join(sinks, ",")))
			continue
		}
		key := strings.TrimPrefix(k, prefix)
		kind := strings.ToLower(strings.TrimSpace(m[prefix+"KIND"]))
		valid, ok := sinkKindKeys[kind]
		if !ok || slices.Contains(valid, key) {
			continue // an unknown or missing KIND is reported by loadSinkConf
		}
		err := fmt.Errorf("not a key of sinks of KIND=%s", kind)
		if near := nearestKey(key, valid); near != "" {
			err = fmt.Errorf("not a key of sinks of KIND=%s; did you mean %s%s?", kind, prefix, near)
		}
		errs = append(errs, &relay.ConfigError{Var: k, Secret: true, Err: err})
	}
	return errs, warnings
}

// nearestKey returns the valid key closest to key by edit distance, when
// it is close enough to be the likely intent.
func nearestKey(key string, valid []string) string {
	best, bestD := "", len(key)/2+2
	for _, v := range valid {
		if d := editDistance(key, v); d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
