package signature

import (
	"errors"
	"fmt"
)

// ErrMissingSignature is returned when the X-TagihanAI-Signature header is
// absent or blank.
var ErrMissingSignature = errors.New("signature: missing X-TagihanAI-Signature header")

// ErrMalformedHeader is returned when the signature header is present but
// cannot be parsed: a part is not key=value, no signature is a hex SHA-256
// digest, there is no timestamp (neither t= nor X-TagihanAI-Timestamp), or the
// timestamp is not a decimal Unix time. Errors carrying more detail wrap it.
var ErrMalformedHeader = errors.New("signature: malformed signature header")

// ErrTooOld is returned when the signature timestamp is older than now minus
// the tolerance.
var ErrTooOld = errors.New("signature: timestamp is older than the tolerance")

// ErrTooNew is returned when the signature timestamp is newer than now plus
// the tolerance.
var ErrTooNew = errors.New("signature: timestamp is newer than the tolerance")

// ErrNoValidSignature is returned when the header is well formed and timely
// but no received signature matches any configured key.
var ErrNoValidSignature = errors.New("signature: no signature matches any secret")

// Detailed parse failures. They are built once so Verify does not allocate
// on the error path either.
var (
	errBarePart     = fmt.Errorf("%w: a part is not key=value", ErrMalformedHeader)
	errRepeatedT    = fmt.Errorf("%w: t= appears more than once", ErrMalformedHeader)
	errNoDigest     = fmt.Errorf("%w: no signature is a 64-character hex SHA-256 digest", ErrMalformedHeader)
	errNoTimestamp  = fmt.Errorf("%w: no timestamp: neither t= nor X-TagihanAI-Timestamp", ErrMalformedHeader)
	errBadTimestamp = fmt.Errorf("%w: timestamp is not a decimal Unix time", ErrMalformedHeader)
)

// Wire codes of SPEC 2.1, answered in {"error":"<code>"} with status 401.
const (
	codeMissing   = "missing_signature"
	codeMalformed = "malformed_signature"
	codeTolerance = "timestamp_out_of_tolerance"
	codeMismatch  = "signature_mismatch"
)

// Code maps an error returned by Verify (or ParseHeader, or found in a
// Report) to its wire code: "missing_signature", "malformed_signature",
// "timestamp_out_of_tolerance" (ErrTooOld and ErrTooNew) or
// "signature_mismatch". It returns "" for nil and "malformed_signature" for
// an error it does not know, so a caller always has a code to answer with.
func Code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrMissingSignature):
		return codeMissing
	case errors.Is(err, ErrMalformedHeader):
		return codeMalformed
	case errors.Is(err, ErrTooOld), errors.Is(err, ErrTooNew):
		return codeTolerance
	case errors.Is(err, ErrNoValidSignature):
		return codeMismatch
	default:
		return codeMalformed
	}
}
