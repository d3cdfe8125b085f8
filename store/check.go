package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrCorrupt is what a *CorruptError matches with errors.Is.
var ErrCorrupt = errors.New("store: database is corrupt")

// CorruptError reports a database file that failed the start-up check. The
// file has not been modified.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("database %s is corrupt (%s); the file was not modified. "+
		"Restore a backup over it (a file made by `tagihan-relay backup`), or move it aside "+
		"(mv %s %s.corrupt) to start with an empty database, which forgets every event received so far",
		e.Path, e.Reason, e.Path, e.Path)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// FullCheckMaxBytes is the file size up to which Open also runs bbolt's
// full consistency check (tx.Check: key order, every page reachable or
// free) after the structural check. Above it only the structural check runs,
// which reads each page's header once (figures: README, "Corrupt database
// recovery").
const FullCheckMaxBytes = 256 << 20

// Page layout of a bbolt file (go.etcd.io/bbolt/internal/common): a 16-byte
// page header, then a meta, branch/leaf elements or freelist ids. It is the
// file format bbolt has kept since version 2, read here with ReadAt so a
// damaged file can never make the process fault.
const (
	pageHeaderSize  = 16
	elementSize     = 16
	flagBranch      = 0x01
	flagLeaf        = 0x02
	flagMeta        = 0x04
	flagFreelist    = 0x10
	leafFlagBucket  = 0x01
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	noFreelist      = ^uint64(0)
	bucketHeaderLen = 16
	maxPageSize     = 1 << 24
)

var nativeEndian = binary.NativeEndian

type fileMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// checkFile validates the bbolt file at path without writing to it: the
// meta pages, the high-water mark against the file size, the freelist, and
// every page reachable from the root (ids in bounds, each page's header,
// type and elements, no page used twice or both used and free); it then runs bbolt's tx.Check too (see FullCheckMaxBytes). A file that does not exist is fine (a
// new database); an empty file is corrupt. It returns a *CorruptError for
// damage, ErrLocked when another process holds the file, and never panics.
func checkFile(path string, lockTimeout time.Duration) (err error) {
	// Belt and braces: everything below reads with ReadAt, but a fault in a
	// mapping would otherwise end the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &CorruptError{Path: path, Reason: fmt.Sprintf("check failed: %v", r)}
		}
	}()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	defer f.Close()
	// A shared lock, as bbolt takes for reading: a running service holds
	// the file exclusively and may be halfway through a commit.
	if err := lockShared(f, lockTimeout); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return &CorruptError{Path: path, Reason: "not a regular file"}
	}
	c := &checker{f: f, size: fi.Size(), path: path, lockTimeout: lockTimeout}
	unmap := func() {}
	if c.size > 0 {
		// Read-only mapping where the system has one: no copy, no system
		// call per page. Every access below is bounds-checked first.
		data, un, err := mapFile(f, c.size)
		if err != nil {
			return fmt.Errorf("store: map %s: %w", path, err)
		}
		unmap = un
		defer func() { unmap() }()
		c.data = data
	}
	if err := c.structural(); err != nil {
		return err
	}
	// The full check also reads every key and builds maps of every page:
	// it runs on files up to FullCheckMaxBytes.
	if c.size > FullCheckMaxBytes {
		return nil
	}
	c.data = nil
	unmap()
	unmap = func() {}
	f.Close()
	return c.full()
}

type checker struct {
	f           *os.File
	size        int64
	path        string
	lockTimeout time.Duration
	data        []byte // the file mapped read-only, or nil: read with ReadAt
	meta        fileMeta
	used        []bool
	free        []bool
}

// at returns n bytes of the file at off.
func (c *checker) at(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > c.size {
		return nil, io.ErrUnexpectedEOF
	}
	if c.data != nil {
		return c.data[off : off+n : off+n], nil
	}
	b := make([]byte, n)
	if _, err := c.f.ReadAt(b, off); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *checker) corrupt(format string, a ...any) error {
	return &CorruptError{Path: c.path, Reason: fmt.Sprintf(format, a...)}
}

func (c *checker) structural() error {
	if c.size == 0 {
		return c.corrupt("the file is empty (0 bytes); a new database is only created when no file exists")
	}
	m0, err0 := c.readMeta(0, 0)
	var m1 fileMeta
	var err1 error
	if err0 == nil {
		m1, err1 = c.readMeta(int64(m0.pageSize), 1)
	} else {
		// Page 0 is unreadable, so its page size is unknown: look for meta 1
		// at every page size bbolt can use, as bbolt does.
		err1 = err0
		for ps := int64(1024); ps <= maxPageSize && ps < c.size; ps <<= 1 {
			if m, err := c.readMeta(ps, 1); err == nil && int64(m.pageSize) == ps {
				m1, err1 = m, nil
				break
			}
		}
	}
	// bbolt would fall back to the other meta page, silently losing the
	// last commit (acknowledged events, create-once records) when the bad
	// page was the newer one: refuse instead.
	switch {
	case err0 != nil && err1 != nil:
		return c.corrupt("neither meta page is valid: %v", err0)
	case err0 != nil:
		return c.corrupt("%v; the other meta page is intact, but opening would roll back to it and lose the last commit", err0)
	case err1 != nil:
		return c.corrupt("%v; the other meta page is intact, but opening would roll back to it and lose the last commit", err1)
	case m1.txid > m0.txid:
		c.meta = m1
	default:
		c.meta = m0
	}
	m := c.meta
	if m0.pageSize != m1.pageSize {
		return c.corrupt("the meta pages disagree on the page size (%d, %d)", m0.pageSize, m1.pageSize)
	}
	ps := int64(m.pageSize)
	if m.pgid < 2 || m.pgid > uint64(c.size/ps) {
		return c.corrupt("truncated: the file is %d bytes, its pages need %d", c.size, m.pgid*uint64(ps))
	}
	if m.root < 2 || m.root >= m.pgid {
		return c.corrupt("root page %d out of bounds [2, %d)", m.root, m.pgid)
	}
	c.used = make([]bool, m.pgid)
	c.free = make([]bool, m.pgid)
	c.used[0], c.used[1] = true, true
	if m.freelist != noFreelist {
		if err := c.checkFreelist(m.freelist); err != nil {
			return err
		}
	}
	if err := c.walk(m.root, 0); err != nil {
		return err
	}
	for id := uint64(2); id < m.pgid; id++ {
		if !c.used[id] && !c.free[id] {
			return c.corrupt("page %d is neither in use nor free", id)
		}
	}
	return nil
}

// readMeta reads and validates the meta page at off (page id want).
func (c *checker) readMeta(off int64, want uint64) (fileMeta, error) {
	if off+pageHeaderSize+64 > c.size {
		return fileMeta{}, fmt.Errorf("meta page %d is past the end of the file", want)
	}
	buf, err := c.at(off, pageHeaderSize+64)
	if err != nil {
		return fileMeta{}, fmt.Errorf("read meta page %d: %w", want, err)
	}
	id := nativeEndian.Uint64(buf[0:])
	flags := nativeEndian.Uint16(buf[8:])
	b := buf[pageHeaderSize:]
	if nativeEndian.Uint32(b[0:]) != boltMagic {
		return fileMeta{}, fmt.Errorf("meta page %d: not a bbolt database (bad magic)", want)
	}
	if v := nativeEndian.Uint32(b[4:]); v != boltVersion {
		return fileMeta{}, fmt.Errorf("meta page %d: unsupported version %d", want, v)
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:56])
	if h.Sum64() != nativeEndian.Uint64(b[56:]) {
		return fileMeta{}, fmt.Errorf("meta page %d: checksum mismatch", want)
	}
	m := fileMeta{
		pageSize: nativeEndian.Uint32(b[8:]),
		root:     nativeEndian.Uint64(b[16:]),
		freelist: nativeEndian.Uint64(b[32:]),
		pgid:     nativeEndian.Uint64(b[40:]),
		txid:     nativeEndian.Uint64(b[48:]),
	}
	if id != want || flags != flagMeta {
		return fileMeta{}, fmt.Errorf("meta page %d: bad page header", want)
	}
	if m.pageSize < 1024 || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0 {
		return fileMeta{}, fmt.Errorf("meta page %d: bad page size %d", want, m.pageSize)
	}
	// No check of txid%2 against the slot: tx.WriteTo (a backup) writes the
	// same meta to both pages.
	return m, nil
}

// readPage reads the whole of page id (with its overflow pages) after
// checking its header.
func (c *checker) readPage(id uint64, wantFlags uint16) ([]byte, uint16, error) {
	ps := int64(c.meta.pageSize)
	hdr, err := c.at(int64(id)*ps, pageHeaderSize)
	if err != nil {
		return nil, 0, c.corrupt("read page %d: %v", id, err)
	}
	if got := nativeEndian.Uint64(hdr[0:]); got != id {
		return nil, 0, c.corrupt("page %d identifies itself as page %d (overwritten)", id, got)
	}
	flags := nativeEndian.Uint16(hdr[8:])
	if flags&wantFlags == 0 || flags&(flags-1) != 0 {
		return nil, 0, c.corrupt("page %d has unexpected type %#x", id, flags)
	}
	overflow := uint64(nativeEndian.Uint32(hdr[12:]))
	if id+overflow >= c.meta.pgid {
		return nil, 0, c.corrupt("page %d overflows past the last page", id)
	}
	buf, err := c.at(int64(id)*ps, int64(1+overflow)*ps)
	if err != nil {
		return nil, 0, c.corrupt("read page %d: %v", id, err)
	}
	return buf, flags, nil
}

// mark records pages id..id+overflow as used by the tree.
func (c *checker) mark(id uint64, buf []byte) error {
	n := uint64(len(buf)) / uint64(c.meta.pageSize)
	for i := id; i < id+n; i++ {
		if c.used[i] {
			return c.corrupt("page %d is referenced twice", i)
		}
		if c.free[i] {
			return c.corrupt("page %d is both in use and free", i)
		}
		c.used[i] = true
	}
	return nil
}

func (c *checker) checkFreelist(id uint64) error {
	if id < 2 || id >= c.meta.pgid {
		return c.corrupt("freelist page %d out of bounds [2, %d)", id, c.meta.pgid)
	}
	buf, _, err := c.readPage(id, flagFreelist)
	if err != nil {
		return err
	}
	if err := c.mark(id, buf); err != nil {
		return err
	}
	ids := buf[pageHeaderSize:]
	count := uint64(nativeEndian.Uint16(buf[10:]))
	if count == 0xFFFF {
		count = nativeEndian.Uint64(ids)
		ids = ids[8:]
	}
	if count > uint64(len(ids))/8 {
		return c.corrupt("freelist page %d claims %d ids, more than it holds", id, count)
	}
	for i := uint64(0); i < count; i++ {
		p := nativeEndian.Uint64(ids[i*8:])
		if p < 2 || p >= c.meta.pgid {
			return c.corrupt("freelist holds page %d, out of bounds [2, %d)", p, c.meta.pgid)
		}
		if c.free[p] || c.used[p] {
			return c.corrupt("freelist holds page %d twice or holds a page in use", p)
		}
		c.free[p] = true
	}
	return nil
}

// walk checks the branch or leaf page id and everything below it.
func (c *checker) walk(id uint64, depth int) error {
	if depth > 64 {
		return c.corrupt("tree deeper than 64 levels at page %d", id)
	}
	if id < 2 || id >= c.meta.pgid {
		return c.corrupt("a branch or bucket points to page %d, out of bounds [2, %d)", id, c.meta.pgid)
	}
	buf, flags, err := c.readPage(id, flagBranch|flagLeaf)
	if err != nil {
		return err
	}
	if err := c.mark(id, buf); err != nil {
		return err
	}
	return c.elements(id, buf, flags, depth)
}

// elements checks the elements of a branch or leaf page held in buf (a
// file page or an inline bucket's page).
func (c *checker) elements(id uint64, buf []byte, flags uint16, depth int) error {
	count := int(nativeEndian.Uint16(buf[10:]))
	if pageHeaderSize+count*elementSize > len(buf) {
		return c.corrupt("page %d claims %d elements, more than it holds", id, count)
	}
	for i := 0; i < count; i++ {
		at := pageHeaderSize + i*elementSize
		e := buf[at : at+elementSize]
		if flags == flagBranch {
			pos, ksize := int(nativeEndian.Uint32(e[0:])), int(nativeEndian.Uint32(e[4:]))
			if at+pos+ksize > len(buf) || pos < 0 {
				return c.corrupt("page %d element %d lies outside the page", id, i)
			}
			if err := c.walk(nativeEndian.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
			continue
		}
		eflags := nativeEndian.Uint32(e[0:])
		pos, ksize, vsize := uint64(nativeEndian.Uint32(e[4:])), uint64(nativeEndian.Uint32(e[8:])), uint64(nativeEndian.Uint32(e[12:]))
		if uint64(at)+pos+ksize+vsize > uint64(len(buf)) {
			return c.corrupt("page %d element %d lies outside the page", id, i)
		}
		if eflags&leafFlagBucket == 0 {
			continue
		}
		v := buf[uint64(at)+pos+ksize : uint64(at)+pos+ksize+vsize]
		if len(v) < bucketHeaderLen {
			return c.corrupt("page %d element %d: bucket header too short", id, i)
		}
		if root := nativeEndian.Uint64(v); root != 0 {
			if err := c.walk(root, depth+1); err != nil {
				return err
			}
			continue
		}
		// An inline bucket: its page follows the header inside the value.
		inline := v[bucketHeaderLen:]
		if len(inline) < pageHeaderSize {
			return c.corrupt("page %d element %d: inline bucket too short", id, i)
		}
		if f := nativeEndian.Uint16(inline[8:]); f != flagLeaf {
			return c.corrupt("page %d element %d: inline bucket has type %#x", id, i, f)
		}
		if err := c.elements(id, inline, flagLeaf, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// full runs bbolt's own consistency check in a read-only transaction.
// structural has already bounded every page id, so bbolt reads nothing
// outside the file.
func (c *checker) full() error {
	db, err := bolt.Open(c.path, 0o600, &bolt.Options{ReadOnly: true, Timeout: c.lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return ErrLocked
	}
	if err != nil {
		return c.corrupt("%v", err)
	}
	defer db.Close()
	var first error
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		return nil
	}); err != nil {
		return c.corrupt("%v", err)
	}
	if first != nil {
		return c.corrupt("consistency check: %v", first)
	}
	return nil
}
