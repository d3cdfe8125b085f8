package relay

import "fmt"

// ConfigError is a configuration problem found at start: the variable, the
// value as given (empty for secrets, which are never echoed) and why.
// It prints as `VAR="value": reason`.
type ConfigError struct {
	Var    string
	Value  string
	Secret bool
	Err    error
}

// Error implements error.
func (e *ConfigError) Error() string {
	if e.Secret || e.Value == "" {
		return fmt.Sprintf("%s: %v", e.Var, e.Err)
	}
	return fmt.Sprintf("%s=%q: %v", e.Var, e.Value, e.Err)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }
