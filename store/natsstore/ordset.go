package natsstore

import "strings"

// ikey is the key of every ordered index of the view: a time (or other
// number), a sequence and up to two strings, compared in that order.
type ikey struct {
	at  int64
	seq uint64
	s1  string
	s2  string
}

func (a ikey) cmp(b ikey) int {
	switch {
	case a.at < b.at:
		return -1
	case a.at > b.at:
		return 1
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	if c := strings.Compare(a.s1, b.s1); c != 0 {
		return c
	}
	return strings.Compare(a.s2, b.s2)
}

// ordset is an ordered set of ikeys (a treap): O(log n) insert and delete,
// in-order walks in both directions from any key. The view holds one per
// index (due entries, events by time, dead letters, ...); the standard
// library has no ordered map and the module takes no new dependency for one.
// Not safe for concurrent use; the view's lock guards it.
type ordset struct {
	root *tnode
	n    int
	rnd  uint64
}

type tnode struct {
	key         ikey
	prio        uint64
	left, right *tnode
}

func newOrdset() *ordset { return &ordset{rnd: 0x9E3779B97F4A7C15} }

// Len returns the number of keys.
func (s *ordset) Len() int { return s.n }

func (s *ordset) next() uint64 {
	// xorshift64*: priorities only need to look random.
	s.rnd ^= s.rnd >> 12
	s.rnd ^= s.rnd << 25
	s.rnd ^= s.rnd >> 27
	return s.rnd * 2685821657736338717
}

func rotateRight(n *tnode) *tnode {
	l := n.left
	n.left = l.right
	l.right = n
	return l
}

func rotateLeft(n *tnode) *tnode {
	r := n.right
	n.right = r.left
	r.left = n
	return r
}

// Insert adds k and reports whether it was absent.
func (s *ordset) Insert(k ikey) bool {
	var added bool
	s.root = s.insert(s.root, k, &added)
	if added {
		s.n++
	}
	return added
}

func (s *ordset) insert(n *tnode, k ikey, added *bool) *tnode {
	if n == nil {
		*added = true
		return &tnode{key: k, prio: s.next()}
	}
	switch c := k.cmp(n.key); {
	case c < 0:
		n.left = s.insert(n.left, k, added)
		if n.left.prio > n.prio {
			n = rotateRight(n)
		}
	case c > 0:
		n.right = s.insert(n.right, k, added)
		if n.right.prio > n.prio {
			n = rotateLeft(n)
		}
	}
	return n
}

// Delete removes k and reports whether it was present.
func (s *ordset) Delete(k ikey) bool {
	var removed bool
	s.root = deleteNode(s.root, k, &removed)
	if removed {
		s.n--
	}
	return removed
}

func deleteNode(n *tnode, k ikey, removed *bool) *tnode {
	if n == nil {
		return nil
	}
	switch c := k.cmp(n.key); {
	case c < 0:
		n.left = deleteNode(n.left, k, removed)
		return n
	case c > 0:
		n.right = deleteNode(n.right, k, removed)
		return n
	}
	*removed = true
	return merge(n.left, n.right)
}

// merge joins two treaps whose keys are all ordered left < right.
func merge(l, r *tnode) *tnode {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.prio > r.prio:
		l.right = merge(l.right, r)
		return l
	default:
		r.left = merge(l, r.left)
		return r
	}
}

// Min returns the smallest key.
func (s *ordset) Min() (ikey, bool) {
	n := s.root
	if n == nil {
		return ikey{}, false
	}
	for n.left != nil {
		n = n.left
	}
	return n.key, true
}

// Ascend calls fn for each key >= from (every key when from is nil), in
// ascending order, until fn returns false.
func (s *ordset) Ascend(from *ikey, fn func(ikey) bool) {
	ascend(s.root, from, fn)
}

func ascend(n *tnode, from *ikey, fn func(ikey) bool) bool {
	if n == nil {
		return true
	}
	if from == nil || n.key.cmp(*from) >= 0 {
		if !ascend(n.left, from, fn) || !fn(n.key) {
			return false
		}
	}
	return ascend(n.right, from, fn)
}

// Descend calls fn for each key < below (every key when below is nil), in
// descending order, until fn returns false.
func (s *ordset) Descend(below *ikey, fn func(ikey) bool) {
	descend(s.root, below, fn)
}

func descend(n *tnode, below *ikey, fn func(ikey) bool) bool {
	if n == nil {
		return true
	}
	if below == nil || n.key.cmp(*below) < 0 {
		if !descend(n.right, below, fn) || !fn(n.key) {
			return false
		}
	}
	return descend(n.left, below, fn)
}
