package signature

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"time"
)

// Header forms, as reported in Header.Form and Report.Form.
const (
	formTV1    = "t,v1"
	formBare   = "bare"
	formSHA256 = "sha256="
	formV1     = "v1="
)

// maxUnix is 9999-12-31T23:59:59Z, the last second ParseTimestamp accepts.
const maxUnix = 253402300799

// digestLen is the size of a decoded signature: one SHA-256 digest.
const digestLen = sha256.Size

// Header is a parsed X-TagihanAI-Signature header.
//
// A Header returned without error always has a decimal Timestamp that
// ParseTimestamp accepts and at least one signature of exactly 32 bytes.
type Header struct {
	// Form names the syntax that was parsed: "t,v1" for
	// `t=<timestamp>,v1=<hex>`, "bare" for `<hex>`, "sha256=" for
	// `sha256=<hex>` and "v1=" for `v1=<hex>` (or several v1 without t=).
	Form string
	// Timestamp is the decimal timestamp exactly as sent (surrounding
	// whitespace removed), from t= or from X-TagihanAI-Timestamp. It is the
	// prefix of the signed payload.
	Timestamp string
	// Signatures holds every received signature that decodes to a 32-byte
	// digest, in header order. Values that do not are left out.
	Signatures [][]byte
}

// ParseHeader parses the X-TagihanAI-Signature value sig together with the
// X-TagihanAI-Timestamp value ts, which may be "".
//
// Accepted forms:
//
//	t=1767225600,v1=<hex>     v1 may repeat; other keys are ignored
//	<hex>                     timestamp from ts
//	sha256=<hex>              timestamp from ts
//	v1=<hex>                  timestamp from ts (v1 may repeat here too)
//
// Whitespace around parts, keys and values is tolerated, keys and hex are
// case-insensitive, and empty parts (",,") are skipped. When the header has
// t=, it wins over ts. A v1 value that is not the hex of a 32-byte digest is
// ignored when another v1 is valid.
//
// ParseHeader returns ErrMissingSignature for a blank sig, and an error
// wrapping ErrMalformedHeader when a part is not key=value, t= repeats, no
// signature is valid, there is no timestamp, or the timestamp is not decimal.
// On error the returned Header is the zero value. ParseHeader is pure: it
// does not look at the clock, so it never rejects a timestamp for its age.
func ParseHeader(sig, ts string) (Header, error) {
	var h header
	if err := h.parse(sig, ts); err != nil {
		return Header{}, err
	}
	out := Header{
		Form:       h.form,
		Timestamp:  h.timestamp,
		Signatures: make([][]byte, 0, h.valid),
	}
	var d [digestLen]byte
	for pos := h.raw; h.nextDigest(&pos, &d); {
		out.Signatures = append(out.Signatures, append([]byte(nil), d[:]...))
	}
	return out, nil
}

// ParseTimestamp reads a decimal Unix timestamp: seconds, or milliseconds
// when it has exactly 13 digits (some senders use JavaScript's Date.now()).
// Anything but ASCII digits, or a time after the year 9999, yields an error
// wrapping ErrMalformedHeader. (The bound keeps the arithmetic of the replay
// window exact; time.Time silently wraps near the top of int64 seconds.)
func ParseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errNoTimestamp
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, errBadTimestamp
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errBadTimestamp
	}
	if len(s) == 13 {
		return time.UnixMilli(n), nil // at most year 2286
	}
	if n > maxUnix {
		return time.Time{}, errBadTimestamp
	}
	return time.Unix(n, 0), nil
}

// header is the allocation-free view of a signature header that Verify,
// ParseHeader and Explain share. Its strings point into the caller's header
// values; signatures are decoded again on demand by nextDigest rather than
// collected, so Verify needs no slice.
type header struct {
	raw       string // trimmed signature header
	form      string
	timestamp string
	time      time.Time
	timeOK    bool // timestamp parsed; set even when another check failed
	valid     int  // signatures that decode to a digest
}

// parse fills h from the header values. It records as much as it can
// (form, timestamp) before returning an error, for Explain.
func (h *header) parse(sig, ts string) error {
	s := strings.TrimSpace(sig)
	if s == "" {
		return ErrMissingSignature
	}
	h.raw = s

	if !strings.ContainsAny(s, "=,") {
		h.form = formBare
		var d [digestLen]byte
		if decodeDigest(&d, s) {
			h.valid = 1
		}
		h.setTimestamp(strings.TrimSpace(ts))
		return h.check()
	}

	var (
		t        string
		haveT    bool
		parts    int
		firstKey string
	)
	for rest := s; rest != ""; {
		var part string
		part, rest = nextPart(rest)
		if part == "" {
			continue
		}
		key, val, ok := splitPart(part)
		if !ok {
			return errBarePart
		}
		parts++
		if parts == 1 {
			firstKey = key
		}
		switch {
		case strings.EqualFold(key, "t"):
			if haveT {
				return errRepeatedT
			}
			t, haveT = val, true
		case strings.EqualFold(key, "v1"):
			var d [digestLen]byte
			if decodeDigest(&d, val) {
				h.valid++
			}
		}
	}

	switch {
	case haveT:
		h.form = formTV1
		h.setTimestamp(t)
	case parts == 1 && strings.EqualFold(firstKey, "sha256"):
		h.form = formSHA256
		var d [digestLen]byte
		if _, val, _ := splitPart(s); decodeDigest(&d, val) {
			h.valid = 1
		}
		h.setTimestamp(strings.TrimSpace(ts))
	default:
		h.form = formV1
		h.setTimestamp(strings.TrimSpace(ts))
	}
	return h.check()
}

func (h *header) setTimestamp(ts string) {
	h.timestamp = ts
	if t, err := ParseTimestamp(ts); err == nil {
		h.time, h.timeOK = t, true
	}
}

// check reports what parse found wrong, most fundamental first.
func (h *header) check() error {
	switch {
	case h.valid == 0:
		return errNoDigest
	case h.timestamp == "":
		return errNoTimestamp
	case !h.timeOK:
		return errBadTimestamp
	}
	return nil
}

// isSigKey reports whether a key=value part of h carries a signature.
func (h *header) isSigKey(key string) bool {
	if h.form == formSHA256 {
		return strings.EqualFold(key, "sha256")
	}
	return strings.EqualFold(key, "v1")
}

// nextDigest decodes the next valid signature at or after *pos into dst and
// advances *pos past it. It returns false when there is none left. Start with
// pos = h.raw.
func (h *header) nextDigest(pos *string, dst *[digestLen]byte) bool {
	if h.form == formBare {
		s := *pos
		*pos = ""
		return s != "" && decodeDigest(dst, s)
	}
	for *pos != "" {
		var part string
		part, *pos = nextPart(*pos)
		key, val, ok := splitPart(part)
		if ok && h.isSigKey(key) && decodeDigest(dst, val) {
			return true
		}
	}
	return false
}

// nextPart returns the first comma-separated part of s, trimmed, and what
// follows the comma.
func nextPart(s string) (part, rest string) {
	part, rest, _ = strings.Cut(s, ",")
	return strings.TrimSpace(part), rest
}

// splitPart splits key=value and trims both sides.
func splitPart(part string) (key, val string, ok bool) {
	key, val, ok = strings.Cut(part, "=")
	return strings.TrimSpace(key), strings.TrimSpace(val), ok
}

// decodeDigest decodes 64 hex characters of either case into dst. Unlike
// hex.DecodeString it needs no []byte conversion, so it never allocates.
func decodeDigest(dst *[digestLen]byte, s string) bool {
	if len(s) != 2*digestLen {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
