package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Damage handling (doc.go "Damaged files"). bbolt trusts its pages: a damaged page
// makes it panic inside a transaction, and a file shorter than its pages makes the
// memory map fault. Open refuses such files up front (validate); the View and
// Update wrappers turn what slips through into a *CorruptError.

// maxCheckErrors bounds the problems Check collects before it stops.
const maxCheckErrors = 10

// preflight, before bbolt opens the file, refuses an existing 0-byte file (bbolt would silently initialize it
// as a new store, losing every record, and the next start would create a new app)
// and a file shorter than the pages its meta page counts (bbolt would read past
// the end of the file).
func preflight(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return &CorruptError{Path: path, Reason: "empty file (0 bytes), not a store"}
	}
	if need, ok := metaSize(f); ok && fi.Size() < need {
		return &CorruptError{Path: path, Reason: fmt.Sprintf(
			"truncated: the file has %d bytes, its pages need %d", fi.Size(), need)}
	}
	return nil
}

// metaSize returns the file size the newest valid meta page requires (high-water
// page ID times page size); ok is false when no meta page is valid (bbolt's Open
// then refuses the file itself). Layout: bbolt's internal/common meta, after the
// 16-byte page header: magic, version, pageSize (uint32), flags, root (16 bytes),
// freelist, pgid, txid, checksum (uint64), native (little-endian) byte order; the
// checksum is FNV-64a of the 56 bytes before it.
func metaSize(f *os.File) (need int64, ok bool) {
	read := func(off int64) (pageSize, pgid, txid uint64, ok bool) {
		const metaMagic = 0xED0CDAED
		buf := make([]byte, 16+64)
		if _, err := f.ReadAt(buf, off); err != nil {
			return 0, 0, 0, false
		}
		m := buf[16:]
		h := fnv.New64a()
		_, _ = h.Write(m[:56])
		if binary.LittleEndian.Uint32(m[0:]) != metaMagic || h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
			return 0, 0, 0, false
		}
		return uint64(binary.LittleEndian.Uint32(m[8:])), binary.LittleEndian.Uint64(m[40:]),
			binary.LittleEndian.Uint64(m[48:]), true
	}
	ps0, pg0, tx0, ok0 := read(0)
	second := int64(os.Getpagesize())
	if ok0 {
		second = int64(ps0)
	}
	ps1, pg1, tx1, ok1 := read(second)
	switch {
	case ok0 && (!ok1 || tx0 >= tx1):
		return int64(pg0 * ps0), true
	case ok1:
		return int64(pg1 * ps1), true
	}
	return 0, false
}

// openBolt is bolt.Open that turns a panic or a refused meta page into a
// *CorruptError.
func openBolt(path string, opts *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, &CorruptError{Path: path, Reason: fmt.Sprintf("open panicked: %v", r)}
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, err = bolt.Open(path, 0o600, opts)
	if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) ||
		errors.Is(err, bolterrors.ErrVersionMismatch) || errors.Is(err, bolterrors.ErrInvalidMapping) {
		return nil, &CorruptError{Path: path, Reason: err.Error()}
	}
	return db, err
}

// validate checks an open file: its size covers every page the meta page counts
// and, when full, bbolt's consistency check (every page reachable once, keys in
// order, page types right) finds nothing. It reads every page; see doc.go for the
// cost.
func validate(db *bolt.DB, full bool) error {
	path := db.Path()
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	return guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			if need := tx.Size(); fi.Size() < need {
				return &CorruptError{Path: path, Reason: fmt.Sprintf(
					"truncated: the file has %d bytes, its pages need %d", fi.Size(), need)}
			}
			if !full {
				return nil
			}
			var problems []string
			for err := range tx.Check() {
				if len(problems) < maxCheckErrors {
					// bbolt reports a page it could not read as "panic: …"
					problems = append(problems, strings.TrimPrefix(err.Error(), "panic: "))
				}
			}
			if len(problems) > 0 {
				return &CorruptError{Path: path, Reason: strings.Join(problems, "; ")}
			}
			return nil
		})
	})
}

// guard runs fn with memory faults turned into panics and converts a panic raised
// inside bbolt (a damaged page) into a *CorruptError for path. A panic of other
// code (a bug of the caller's closure) is not damage and is raised again.
func guard(path string, fn func() error) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		switch {
		case isMapFault(r):
			err = &CorruptError{Path: path, Reason: fmt.Sprintf(
				"%v: the file was truncated or changed underneath the server", r)}
		case raisedByBolt():
			err = &CorruptError{Path: path, Reason: fmt.Sprintf("%v", r)}
		default:
			panic(r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return fn()
}

// isMapFault reports whether r is a memory fault at a real address (not a nil
// dereference), which debug.SetPanicOnFault turns into a panic: reading the
// memory map of a file that shrank. Decoding a record reads that memory too,
// outside bbolt's own frames.
func isMapFault(r any) bool {
	f, ok := r.(interface{ Addr() uintptr })
	return ok && f.Addr() >= 4096
}

// raisedByBolt reports whether the panic being recovered was raised in bbolt: the
// first frame below runtime.gopanic that is not the runtime (a fault or an index
// error is raised by runtime helpers on behalf of the function that failed).
func raisedByBolt() bool {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt")
		}
		if !more {
			return false
		}
	}
}

// classify wraps a commit that ran out of space with ErrFull.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, bolterrors.ErrMaxSizeReached) || errors.Is(err, syscall.ENOSPC) ||
		errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}
