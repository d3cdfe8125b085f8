// Package signature verifies the HMAC-SHA256 signatures TagihanAI puts on its
// webhook deliveries and signs what the relay sends onward (SPEC 2.1, 3.1).
//
// It owns the X-TagihanAI-Signature header syntax, the signed payload, the
// replay window, the secret encodings and the Standard Webhooks signature of
// the HTTP forward sink. It holds no state but the keys a Verifier is given,
// does no I/O, logs nothing and reads the clock only through the function a
// Verifier is built with, so tables and fuzzers can drive it. It must not
// import Echo, net/http, bbolt or the relay domain package: the HTTP layer
// calls CheckHeader with the headers before it reads the body (a missing,
// malformed or stale header is refused without reading it), then VerifyBody
// over the raw body, and maps a returned error to a wire code with Code.
// Verify does both in one call.
//
// # Header forms
//
// TagihanAI documents only "HMAC-SHA256 over timestamp.raw_body", so Verify
// accepts every form seen in the wild, all over the same signed payload:
//
//	X-TagihanAI-Signature: t=1767225600,v1=<hex>[,v1=<hex>...]   timestamp from t=
//	X-TagihanAI-Signature: <hex> | sha256=<hex> | v1=<hex>       timestamp from X-TagihanAI-Timestamp
//
// The signed payload is the timestamp exactly as sent, a ".", then the raw
// body byte for byte. Keys other than t and v1 are ignored, so a sender may
// add new schemes without breaking us.
//
// # Rotation and the replay window
//
// A Verifier holds every configured key; a delivery passes when any v1 matches
// any key (compared with hmac.Equal) and its timestamp is within the
// tolerance of now in either direction. The window is checked before any HMAC
// is computed, so a flood of stale deliveries costs no hashing.
//
// # Secrets
//
// Secrets never appear in errors, in a Report or in its String. Explain shows
// only the first 12 hex characters of each expected and received digest.
package signature
