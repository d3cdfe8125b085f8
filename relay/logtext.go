package relay

// MaxLogText is the most bytes of a sender-controlled value (an event id,
// type, subject or path) that a log line holds.
const MaxLogText = 128

// LogText returns s for a log line: unchanged when it has at most
// MaxLogText bytes, else cut at a rune boundary and ended with "…", the
// whole at most MaxLogText bytes. Every log attribute whose value a sender
// chose goes through it, so one request cannot write a megabyte line.
func LogText(s string) string {
	if len(s) <= MaxLogText {
		return s
	}
	const ellipsis = "…"
	return cutRunes(s, MaxLogText-len(ellipsis)) + ellipsis
}
