package console

import (
	"crypto/sha256"
	"sync"
	"time"
)

// session is one logged-in operator.
type session struct {
	operator string // the login name, without the "console:" prefix
	csrf     string
	expires  time.Time
}

// sessions holds the live sessions in memory only: a restart ends them all.
// The map is keyed by the SHA-256 of the session id, so the ids themselves
// are nowhere but in the operators' cookies.
type sessions struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[sha256.Size]byte]session{}, ttl: ttl, now: now}
}

// start creates a session for operator and returns its id and expiry.
// Expired sessions are swept here, so the map holds only live ones.
func (s *sessions) start(operator string) (string, session) {
	id := randomToken()
	now := s.now()
	sess := session{operator: operator, csrf: randomToken(), expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[sha256.Sum256([]byte(id))] = sess
	return id, sess
}

// get returns the live session of id.
func (s *sessions) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[k]
	if !ok {
		return session{}, false
	}
	if !s.now().Before(sess.expires) {
		delete(s.m, k)
		return session{}, false
	}
	return sess, true
}

// end removes the session of id (logout).
func (s *sessions) end(id string) {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

// len counts the sessions held, expired or not (tests).
func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
