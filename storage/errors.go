package storage

import (
	"errors"
	"strconv"
)

// Sentinel errors returned by Store and Tx. Callers branch on them with errors.Is;
// they are usually wrapped with the record kind and key.
var (
	// ErrNotFound is returned by every lookup (App, Member, StreamKeyBySecret,
	// RoomByUUID, ...) when no record matches. A stream-key secret whose index entry
	// exists but whose stored value differs also yields ErrNotFound.
	ErrNotFound = errors.New("storage: not found")

	// ErrConflict is returned by a Put when a unique index (API key, (app,
	// appUserId), stream-key secret, room UUID) already maps to a different record.
	// The transaction should be rolled back by returning the error.
	ErrConflict = errors.New("storage: unique index conflict")

	// ErrReadOnly is returned by every write method called on a Tx obtained from
	// Store.View.
	ErrReadOnly = errors.New("storage: write in a read-only transaction")

	// ErrLocked is returned by Open when another process holds the file lock for
	// longer than Options.LockTimeout.
	ErrLocked = errors.New("storage: database file is locked by another process")
)

// notFoundError is ErrNotFound for record kind and id, formatted only when its
// text is asked for: lookups of absent records (a room without a chat room) are
// on the GET-room path.
type notFoundError struct {
	kind string
	id   uint64
}

// Error returns "<kind> <id>: storage: not found".
func (e *notFoundError) Error() string {
	return e.kind + " " + strconv.FormatUint(e.id, 10) + ": " + ErrNotFound.Error()
}

// Unwrap returns ErrNotFound.
func (e *notFoundError) Unwrap() error { return ErrNotFound }

// ErrCorrupt is matched (errors.Is) by every error about a damaged file: Open and
// Check refuse it, and a View or Update that reaches a damaged page returns it
// instead of crashing the process. The concrete error is a *CorruptError.
var ErrCorrupt = errors.New("storage: damaged store")

// ErrFull is returned (wrapped) by Update when the commit could not grow the file:
// the file system is full (ENOSPC, EDQUOT, EFBIG) or Options.MaxSize is reached.
// Nothing of the transaction was written.
var ErrFull = errors.New("storage: storage full")

// CorruptError says which file is damaged and how. It matches ErrCorrupt.
type CorruptError struct {
	Path   string // the bbolt file
	Reason string // what is wrong, e.g. "empty file (0 bytes)"
}

// Error returns "<path>: damaged store: <reason>".
func (e *CorruptError) Error() string { return e.Path + ": damaged store: " + e.Reason }

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// ErrNotBbolt is returned by operations on a bbolt file (Backup) asked of an etcd
// store: etcd's own tools do those (etcdctl snapshot save).
var ErrNotBbolt = errors.New("not a bbolt store: use etcdctl snapshot save for an etcd store")

// ErrBusy is returned by an etcd store's Update when other nodes kept committing
// first: the write did not happen and may be retried.
var ErrBusy = errors.New("store busy: other nodes kept writing first")
