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

// Wire codes of SPEC 2.1, answered in {"error":"<code>","message":...} with
// status 401 (the HTTP layer's one table, in package relay, lists them).
const (
	CodeMissing   = "missing_signature"
	CodeMalformed = "malformed_signature"
	CodeTolerance = "timestamp_out_of_tolerance"
	CodeMismatch  = "signature_mismatch"
)

const msgMalformed = "the X-TagihanAI-Signature header could not be parsed (or has no timestamp)"

// answers maps each error Verify returns (or one wrapping it) to its wire
// code and the message the ingest endpoint answers with; the first match
// wins.
var answers = []struct {
	err           error
	code, message string
}{
	{ErrMissingSignature, CodeMissing, "the X-TagihanAI-Signature header is missing"},
	{ErrMalformedHeader, CodeMalformed, msgMalformed},
	{ErrTooOld, CodeTolerance, "the signature timestamp is older than TAGIHANAI_SIGNATURE_TOLERANCE"},
	{ErrTooNew, CodeTolerance, "the signature timestamp is further in the future than TAGIHANAI_SIGNATURE_TOLERANCE"},
	{ErrNoValidSignature, CodeMismatch, "no signature matches any configured secret"},
}

// Code maps an error returned by Verify (or ParseHeader, or found in a
// Report) to its wire code: "missing_signature", "malformed_signature",
// "timestamp_out_of_tolerance" (ErrTooOld and ErrTooNew) or
// "signature_mismatch". It returns "" for nil and "malformed_signature" for
// an error it does not know, so a caller always has a code to answer with.
func Code(err error) string {
	if err == nil {
		return ""
	}
	code, _ := answer(err)
	return code
}

// Message is the text answered with Code(err): what was wrong, naming the
// header or setting involved, never a secret. It returns "" for nil.
func Message(err error) string {
	if err == nil {
		return ""
	}
	_, msg := answer(err)
	return msg
}

// answer is the row of err, a malformed header for an error it does not
// know.
func answer(err error) (code, message string) {
	for _, a := range answers {
		if errors.Is(err, a.err) {
			return a.code, a.message
		}
	}
	return CodeMalformed, msgMalformed
}
