package relay

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ConfigError is a configuration problem found at start: the variable, the
// value as given and why. It prints as `VAR="value": reason`.
//
// Error is the one place a configuration value is written out, and it
// never writes one that may hold a secret, whatever the producer put in
// Value or Err:
//
//   - the value of a secret-bearing variable (Secret set, or a name that
//     SecretVar reports: secrets, tokens, keys, passwords, HEADERS) is not
//     shown at all;
//   - a URL with user info, a query or a fragment is shown without them
//     (`https://[redacted]@host/path?[redacted]`), and one that does not
//     parse (so cannot be cut safely) is not shown;
//   - in both cases every piece of the withheld value (the whole value, each
//     comma-separated item, the part after '=' or ':', user info, query
//     values) is cut out of the reason too, since parse errors quote what
//     they could not parse.
type ConfigError struct {
	Var    string
	Value  string
	Secret bool
	Err    error
}

// redacted replaces what Error withholds.
const redacted = "[redacted]"

// Error implements error.
func (e *ConfigError) Error() string {
	reason := "invalid"
	if e.Err != nil {
		reason = e.Err.Error()
	}
	shown, hidden := e.Value, []string(nil)
	switch {
	case e.Value == "":
	case e.Secret || SecretVar(e.Var):
		shown, hidden = "", valuePieces(e.Value)
	case looksLikeURL(e.Var, e.Value):
		shown, hidden = redactURLs(e.Value)
	}
	reason = scrub(reason, hidden)
	if shown == "" {
		return fmt.Sprintf("%s: %s", e.Var, reason)
	}
	return fmt.Sprintf("%s=%q: %s", e.Var, shown, reason)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// secretWords mark a variable whose value is (or may carry) a credential.
var secretWords = []string{"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "HEADERS", "API_KEY", "MASTER_KEY", "PRIVATE_KEY"}

// SecretVar reports whether the variable name is one whose value may hold
// a secret: a name with SECRET, TOKEN, PASSWORD, CREDENTIAL, HEADERS,
// API_KEY or MASTER_KEY in it, or ending in _KEY. A NAME_FILE variable
// holds a path, not the secret, and is not one.
func SecretVar(name string) bool {
	n := strings.ToUpper(name)
	if strings.HasSuffix(n, "_FILE") {
		return false
	}
	if strings.HasSuffix(n, "_KEY") || strings.HasSuffix(n, "_KEYS") {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// looksLikeURL reports whether the value of variable name is (a list of)
// URLs, which may carry credentials: a value with "://", or any value of a
// variable named *URL or *URLS (a URL without a scheme still can).
func looksLikeURL(name, v string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(v, "://") || strings.HasSuffix(n, "URL") || strings.HasSuffix(n, "URLS")
}

// redactURLs returns v (a comma-separated list of URLs) with user info,
// query and fragment replaced, and the pieces it withheld. A part that does
// not parse is withheld whole; then nothing is shown.
func redactURLs(v string) (string, []string) {
	var hidden []string
	parts := strings.Split(v, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil || (u.Host == "" && strings.ContainsAny(p, "@?#")) {
			return "", append(valuePieces(v), hidden...)
		}
		if u.User == nil && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery {
			continue
		}
		hidden = append(hidden, p)
		var b strings.Builder
		if u.Scheme != "" {
			b.WriteString(u.Scheme + "://")
		}
		if u.User != nil {
			hidden = append(hidden, u.User.String(), u.User.Username())
			if pw, ok := u.User.Password(); ok {
				hidden = append(hidden, pw)
			}
			b.WriteString(redacted + "@")
		}
		b.WriteString(u.Host)
		b.WriteString(u.EscapedPath())
		if u.RawQuery != "" || u.ForceQuery {
			hidden = append(hidden, u.RawQuery)
			for _, vs := range u.Query() {
				hidden = append(hidden, vs...)
			}
			b.WriteString("?" + redacted)
		}
		if u.Fragment != "" {
			hidden = append(hidden, u.Fragment, u.EscapedFragment())
			b.WriteString("#" + redacted)
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, ","), hidden
}

// valuePieces are the parts of a withheld value a parse error may quote:
// the value, each comma-separated item, and what follows the first '=' or
// ':' of an item (a header's or a map entry's value; the name before it is
// left readable).
func valuePieces(v string) []string {
	pieces := []string{v, strings.TrimSpace(v)}
	for _, item := range strings.Split(v, ",") {
		pieces = append(pieces, item, strings.TrimSpace(item))
		if i := strings.IndexAny(item, "=:"); i >= 0 {
			pieces = append(pieces, item[i+1:], strings.TrimSpace(item[i+1:]))
		}
	}
	return pieces
}

// minPiece is the shortest piece scrub cuts out: shorter ones carry no
// secret and would only garble the reason.
const minPiece = 4

// scrub cuts every piece, raw and as strconv.Quote writes it, out of s,
// longest first so a piece's parts never leave the rest of it behind.
func scrub(s string, pieces []string) string {
	sorted := make([]string, 0, len(pieces))
	for _, p := range pieces {
		if len(p) >= minPiece {
			sorted = append(sorted, p)
		}
	}
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && len(sorted[j]) > len(sorted[j-1]); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	for _, p := range sorted {
		if q := strconv.Quote(p); strings.Contains(s, q) {
			s = strings.ReplaceAll(s, q, strconv.Quote(redacted))
		}
		s = strings.ReplaceAll(s, p, redacted)
	}
	return s
}
