package storage

import (
	"errors"
	"fmt"
)

// putRecord is the shared shape of every Put: it refuses read-only transactions,
// assigns the ID (undone on error so the caller can retry), updates the indexes
// through index and writes the record.
func (t *Tx) putRecord(what string, b bucket, id *uint64, v any, index func() error) error {
	if err := t.writable("put " + what); err != nil {
		return err
	}
	fresh, err := assignID(b, id)
	if fresh {
		// A rolled-back transaction (etcd may run it again) must not leave the
		// caller holding an ID that was never committed.
		t.undo = append(t.undo, func() { *id = 0 })
	}
	if err == nil {
		err = index()
	}
	if err == nil {
		err = putJSON(b, u64(*id), v, what)
	}
	if err != nil {
		if fresh {
			*id = 0
		}
		return fmt.Errorf("put %s %d: %w", what, *id, err)
	}
	return nil
}

// previous loads the stored version of a record about to be overwritten.
// found is false for an insert.
func previous[T any](b bucket, id uint64, what string) (old T, found bool, err error) {
	err = getJSON(b, id, &old, what)
	if errors.Is(err, ErrNotFound) {
		return old, false, nil
	}
	return old, err == nil, err
}

// lookupIndex resolves key in the unique index idx to an ID, or ErrNotFound.
func lookupIndex(idx bucket, key []byte, what string) (uint64, error) {
	v := idx.Get(key)
	if v == nil {
		return 0, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return btoi(v), nil
}
