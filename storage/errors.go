package storage

import "errors"

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
