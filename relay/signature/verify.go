package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
	"time"
)

// Verifier checks TagihanAI deliveries against a fixed set of keys and a
// replay window. It is immutable after NewVerifier and safe for concurrent
// use. The zero Verifier has no keys and no tolerance: it rejects every
// delivery. Verify does not allocate: each key keeps a pool of ready HMAC states,
// so a request only resets one and feeds it the payload.
type Verifier struct {
	keys      []*verifyKey
	tolerance time.Duration
	now       func() time.Time
}

// verifyKey is one configured key with its pool of HMAC states. It is shared,
// by pointer, between a Verifier and its WithClock copies.
type verifyKey struct {
	pool sync.Pool // of *keyMAC
}

// keyMAC is an HMAC-SHA256 state for one key with the buffers one
// computation needs, kept together so nothing escapes per request.
type keyMAC struct {
	h   hash.Hash
	buf []byte // timestamp + "."
	sum [digestLen]byte
}

// NewVerifier returns a Verifier that accepts a delivery when its timestamp
// is within tolerance of now in either direction (the edges included) and any
// of its signatures matches any of keys. Several keys are how secret rotation
// works: configure the new secret beside the old one, then drop the old.
//
// The keys are copied. An empty key is ignored: a signature made with no
// secret proves nothing. A negative tolerance is treated as zero. The clock
// is time.Now; see WithClock.
func NewVerifier(keys [][]byte, tolerance time.Duration) *Verifier {
	v := &Verifier{
		tolerance: max(tolerance, 0),
		now:       time.Now,
	}
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		secret := append([]byte(nil), k...)
		vk := &verifyKey{}
		vk.pool.New = func() any {
			return &keyMAC{h: hmac.New(sha256.New, secret), buf: make([]byte, 0, 32)}
		}
		v.keys = append(v.keys, vk)
	}
	return v
}

// WithClock returns a copy of v that reads the time from now instead of
// time.Now, for tests. A nil now means time.Now. v itself is unchanged.
func (v *Verifier) WithClock(now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	c := *v
	c.now = now
	return &c
}

// Verify checks one delivery: sig and ts are the X-TagihanAI-Signature and
// X-TagihanAI-Timestamp header values (ts may be "") and body is the raw
// request body, byte for byte, before any JSON decoding.
//
// It returns nil when |now - t| <= tolerance and some received v1 equals
// HMAC-SHA256(key, timestamp + "." + body) for some key, where timestamp is
// the string exactly as sent; digests are compared with hmac.Equal.
// Otherwise it returns, in this order of checks, ErrMissingSignature, an
// error wrapping ErrMalformedHeader (see ParseHeader), ErrTooOld or ErrTooNew,
// or ErrNoValidSignature. Code turns any of them into the wire code.
//
// Verify is CheckHeader then VerifyBody: the window is checked before any
// HMAC is computed.
func (v *Verifier) Verify(sig, ts string, body []byte) error {
	c, err := v.CheckHeader(sig, ts)
	if err != nil {
		return err
	}
	return v.VerifyBody(c, body)
}

// Checked is a signature header that passed CheckHeader: well formed and
// inside the replay window when it was checked. Only VerifyBody reads it.
// The zero Checked passes nothing.
type Checked struct {
	h  header
	ok bool
}

// errNotChecked is what VerifyBody returns for a zero Checked.
var errNotChecked = fmt.Errorf("%w: header was not checked", ErrMalformedHeader)

// CheckHeader does everything Verify does that needs only the headers: it
// returns ErrMissingSignature, an error wrapping ErrMalformedHeader, ErrTooOld
// or ErrTooNew exactly as Verify would, or a Checked for VerifyBody. The
// timestamp travels in the headers, so a caller answers a delivery that
// fails here before it reads (or buffers) any of the body.
func (v *Verifier) CheckHeader(sig, ts string) (Checked, error) {
	var c Checked
	if err := c.h.parse(sig, ts); err != nil {
		return Checked{}, err
	}
	now := time.Now
	if v.now != nil {
		now = v.now
	}
	if err := checkWindow(now().Sub(c.h.time), v.tolerance); err != nil {
		return Checked{}, err
	}
	c.ok = true
	return c, nil
}

// VerifyBody finishes what CheckHeader started: it returns nil when some
// signature of c equals HMAC-SHA256(key, timestamp + "." + body) for some
// key, else ErrNoValidSignature (or an error wrapping ErrMalformedHeader for
// a zero Checked). The window is not checked again: a body read slowly
// after a timely header is still that delivery.
func (v *Verifier) VerifyBody(c Checked, body []byte) error {
	if !c.ok {
		return errNotChecked
	}
	for _, k := range v.keys {
		m := k.pool.Get().(*keyMAC)
		m.compute(c.h.timestamp, body)
		ok := c.h.matches(&m.sum)
		k.pool.Put(m)
		if ok {
			return nil
		}
	}
	return ErrNoValidSignature
}

// compute leaves HMAC(timestamp + "." + body) in m.sum.
func (m *keyMAC) compute(timestamp string, body []byte) {
	m.h.Reset()
	m.buf = append(append(m.buf[:0], timestamp...), '.')
	m.h.Write(m.buf)
	m.h.Write(body)
	m.h.Sum(m.sum[:0])
}

// matches reports whether any signature in h equals want.
func (h *header) matches(want *[digestLen]byte) bool {
	var got [digestLen]byte
	for pos := h.raw; h.nextDigest(&pos, &got); {
		if hmac.Equal(got[:], want[:]) {
			return true
		}
	}
	return false
}

// checkWindow applies the replay window to skew = now - t.
func checkWindow(skew, tolerance time.Duration) error {
	switch {
	case skew > tolerance:
		return ErrTooOld
	case skew < -tolerance:
		return ErrTooNew
	}
	return nil
}
