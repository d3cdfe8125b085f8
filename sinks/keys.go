package sinks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tagihan-relay/tagihan-relay/relay"
)

// CheckEnvKeys looks at every SINK_* variable of m. One that belongs to a
// sink named in sinks but is not a key of its kind is an error (a typo such
// as SINK_ERP_EVENTZ would otherwise be ignored, and the sink would get
// every event), naming the nearest valid key. One that belongs to no
// configured sink is a warning: it is ignored, which is what the operator
// should hear about. Values are never echoed (they may be secrets).
func CheckEnvKeys(m map[string]string, sinks []string) (errs []error, warnings []string) {
	prefixes := make([]string, 0, len(sinks))
	for _, s := range sinks {
		if s = strings.TrimSpace(s); s != "" {
			prefixes = append(prefixes, "SINK_"+strings.ToUpper(s)+"_")
		}
	}
	// The longest prefix wins: with sinks "erp" and "erp_eu",
	// SINK_ERP_EU_URL belongs to erp_eu.
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) > len(prefixes[j]) })
	owned := make(map[string]map[string]string, len(prefixes))
	for k, v := range m {
		if !strings.HasPrefix(k, "SINK_") {
			continue
		}
		i := slices.IndexFunc(prefixes, func(p string) bool { return strings.HasPrefix(k, p) })
		if i < 0 {
			warnings = append(warnings, fmt.Sprintf("%s is set but no sink in RELAY_SINKS (%s) has the prefix of it: ignored", k, strings.Join(sinks, ",")))
			continue
		}
		if owned[prefixes[i]] == nil {
			owned[prefixes[i]] = map[string]string{}
		}
		owned[prefixes[i]][strings.TrimPrefix(k, prefixes[i])] = v
	}
	for prefix, keys := range owned {
		// An unknown or missing KIND is reported by Parse.
		if kind := KindNamed(strings.ToLower(strings.TrimSpace(keys["KIND"]))); kind != nil {
			errs = append(errs, unknownKeys(kind, prefix, keys)...)
		}
	}
	sort.Strings(warnings)
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs, warnings
}

// unknownKeys returns an error for each key that kind does not read, in
// key order, each naming prefix+key and the nearest valid key.
func unknownKeys(kind *Kind, prefix string, keys map[string]string) []error {
	valid := kind.Keys()
	var errs []error
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, key := range names {
		if slices.Contains(valid, key) {
			continue
		}
		err := fmt.Errorf("not a key of sinks of KIND=%s", kind.Name)
		if near := nearestKey(key, valid); near != "" {
			err = fmt.Errorf("not a key of sinks of KIND=%s; did you mean %s%s?", kind.Name, prefix, near)
		}
		errs = append(errs, &relay.ConfigError{Var: prefix + key, Secret: true, Err: err})
	}
	return errs
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
