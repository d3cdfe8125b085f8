package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// prefixLen is how much of a hex digest a Report shows: enough to tell two
// digests apart by eye, far too little to forge or replay anything.
const prefixLen = 12

// Report explains one verification for the verify CLI command. It holds
// digest prefixes and the timestamp, never a secret or the body.
type Report struct {
	// OK is true when Verify would accept the delivery.
	OK bool
	// Code is the wire code of Err ("" when OK).
	Code string
	// Err is the error Verify would return (nil when OK).
	Err error

	// Form is the parsed header form (see Header.Form); "" when the header
	// is missing or not even the form could be told.
	Form string
	// Timestamp is the timestamp string that was, or would be, signed.
	Timestamp string
	// Time is Timestamp as a time; zero when it does not parse.
	Time time.Time
	// Skew is now - Time: positive when the delivery is in the past.
	Skew time.Duration
	// Tolerance is the replay window that was applied, in each direction.
	Tolerance time.Duration

	// Received holds the first 12 hex characters of each received
	// signature that decodes to a digest, in header order.
	Received []string
	// Expected holds, per configured key in order, the first 12 hex
	// characters of the signature that key produces over the payload; ""
	// for an empty key or when there is no timestamp to sign.
	Expected []string
	// MatchedSecret is the index in keys of the first key a received
	// signature matches, or -1. It is set even when the timestamp is outside
	// the window, to tell "wrong secret" from "right secret, wrong time";
	// only OK says the delivery is accepted.
	MatchedSecret int
}

// Explain verifies a delivery exactly as a Verifier built from keys and
// tolerance would at time now, and reports why it passes or fails. Unlike
// Verify it does every check it can after the first failure (it computes the
// expected digests even for a stale delivery), so the report can show all
// that is wrong at once.
func Explain(sig, ts string, body []byte, keys [][]byte, tolerance time.Duration, now time.Time) Report {
	tolerance = max(tolerance, 0)
	r := Report{Tolerance: tolerance, MatchedSecret: -1}

	var h header
	parseErr := h.parse(sig, ts)
	r.Form = h.form
	r.Timestamp = h.timestamp
	if h.timeOK {
		r.Time = h.time
		r.Skew = now.Sub(h.time)
	}
	var d [digestLen]byte
	for pos := h.raw; h.form != "" && h.nextDigest(&pos, &d); {
		r.Received = append(r.Received, hex.EncodeToString(d[:])[:prefixLen])
	}

	if h.timestamp != "" {
		r.Expected = make([]string, len(keys))
		for i, k := range keys {
			if len(k) == 0 {
				continue
			}
			var want [digestLen]byte
			m := hmac.New(sha256.New, k)
			m.Write([]byte(h.timestamp))
			m.Write([]byte{'.'})
			m.Write(body)
			m.Sum(want[:0])
			r.Expected[i] = hex.EncodeToString(want[:])[:prefixLen]
			if r.MatchedSecret < 0 && h.matches(&want) {
				r.MatchedSecret = i
			}
		}
	}

	r.Err = parseErr
	if r.Err == nil {
		r.Err = checkWindow(r.Skew, tolerance)
	}
	if r.Err == nil && r.MatchedSecret < 0 {
		r.Err = ErrNoValidSignature
	}
	r.OK = r.Err == nil
	r.Code = Code(r.Err)
	return r
}

// String renders the report for a terminal, one fact a line: the verdict,
// the form that was parsed, the timestamp and its skew against the window,
// received and expected digest prefixes, and a hint at the likely cause. It
// never prints a secret or the body.
func (r Report) String() string {
	var b strings.Builder
	if r.OK {
		fmt.Fprintf(&b, "verdict:   OK (signature matches secret #%d)\n", r.MatchedSecret+1)
	} else {
		fmt.Fprintf(&b, "verdict:   FAIL %s: %v\n", r.Code, r.Err)
	}

	switch r.Form {
	case "":
		if errors.Is(r.Err, ErrMissingSignature) {
			b.WriteString("form:      none (no X-TagihanAI-Signature value)\n")
		} else {
			b.WriteString("form:      not recognized\n")
		}
	case formTV1:
		b.WriteString("form:      t=<timestamp>,v1=<hex> (timestamp from t=)\n")
	case formBare:
		b.WriteString("form:      <hex> (timestamp from X-TagihanAI-Timestamp)\n")
	case formSHA256:
		b.WriteString("form:      sha256=<hex> (timestamp from X-TagihanAI-Timestamp)\n")
	case formV1:
		b.WriteString("form:      v1=<hex> (timestamp from X-TagihanAI-Timestamp)\n")
	}

	switch {
	case r.Timestamp == "" && r.Form != "":
		b.WriteString("timestamp: none\n")
	case r.Timestamp == "":
	case r.Time.IsZero():
		fmt.Fprintf(&b, "timestamp: %q is not a decimal Unix time\n", clip(r.Timestamp, 32))
	default:
		fmt.Fprintf(&b, "timestamp: %s = %s\n", r.Timestamp, r.Time.UTC().Format(time.RFC3339Nano))
		fmt.Fprintf(&b, "skew:      %s (now - t = %s, tolerance ±%s): %s\n", Age(r.Skew), r.Skew, r.Tolerance, window(r.Skew, r.Tolerance))
	}

	if r.Form != "" {
		if len(r.Received) == 0 {
			b.WriteString("received:  no signature is a 64-character hex SHA-256 digest\n")
		}
		for i, p := range r.Received {
			fmt.Fprintf(&b, "received:  #%d %s…\n", i+1, p)
		}
	}
	for i, p := range r.Expected {
		switch {
		case p == "":
			fmt.Fprintf(&b, "expected:  secret #%d is empty, never matches\n", i+1)
		case i == r.MatchedSecret:
			fmt.Fprintf(&b, "expected:  secret #%d %s… (matches)\n", i+1, p)
		default:
			fmt.Fprintf(&b, "expected:  secret #%d %s…\n", i+1, p)
		}
	}

	if hint := r.hint(); hint != "" {
		fmt.Fprintf(&b, "hint:      %s\n", hint)
	}
	return b.String()
}

// hint names the most likely cause of a failure.
func (r Report) hint() string {
	switch {
	case r.OK:
		return ""
	case errors.Is(r.Err, ErrMissingSignature):
		return "pass the X-TagihanAI-Signature header value"
	case errors.Is(r.Err, errNoTimestamp):
		return "this form needs the X-TagihanAI-Timestamp header value"
	case errors.Is(r.Err, ErrMalformedHeader):
		return "expected t=<unix seconds>,v1=<64 hex chars>, or <64 hex chars> with X-TagihanAI-Timestamp"
	case errors.Is(r.Err, ErrTooOld), errors.Is(r.Err, ErrTooNew):
		if r.MatchedSecret >= 0 {
			return fmt.Sprintf("the signature is right (secret #%d) but the timestamp is outside the window: check the clocks, or this is a replay", r.MatchedSecret+1)
		}
		return "the timestamp is outside the window, and no signature matches either"
	case len(r.Expected) == 0:
		return "no secret is configured"
	default:
		return "no secret produces a received signature: check the secret and TAGIHANAI_SECRET_ENCODING (raw keeps whsec_ in the key), and that the body is byte for byte what was signed"
	}
}

// Age says how far a time lies from now, skew being now - t, in the unit a
// person reads: "just now", "40 seconds in the past", "3 hours 12 minutes
// in the future", "335 days in the past".
func Age(skew time.Duration) string {
	dir := "in the past"
	if skew < 0 {
		dir, skew = "in the future", -skew
	}
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	var s string
	switch {
	case skew < time.Second:
		return "just now"
	case skew < time.Minute:
		s = plural(int64(skew/time.Second), "second")
	case skew < time.Hour:
		s = plural(int64(skew/time.Minute), "minute")
		if sec := int64(skew%time.Minute) / int64(time.Second); sec > 0 {
			s += " " + plural(sec, "second")
		}
	case skew < 48*time.Hour:
		s = plural(int64(skew/time.Hour), "hour")
		if m := int64(skew%time.Hour) / int64(time.Minute); m > 0 {
			s += " " + plural(m, "minute")
		}
	default:
		s = plural(int64(skew/(24*time.Hour)), "day")
	}
	return s + " " + dir
}

func window(skew, tolerance time.Duration) string {
	switch checkWindow(skew, tolerance) {
	case ErrTooOld:
		return "too old"
	case ErrTooNew:
		return "too new (in the future)"
	}
	return "within the window"
}

// clip shortens attacker-controlled text before it is printed.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
