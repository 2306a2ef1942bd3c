package storage

import (
	"bytes"
	"fmt"
)

// Tx is one transaction of the store, valid only inside the View or Update
// callback that received it. Lookups return copies; write methods return
// ErrReadOnly on a View transaction.
type Tx struct {
	tx     kvTx
	caches *caches  // the store's read cache; nil when disabled
	undo   []func() // what to undo if this write transaction rolls back: cache bookkeeping, fresh IDs
}

// rollback undoes, newest first, what the transaction registered in undo: the
// engine calls it when the transaction rolls back.
func (t *Tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
}

// Writable reports whether the transaction came from Update.
func (t *Tx) Writable() bool { return t.tx.Writable() }

// OnCommit registers fn to run after the transaction has committed (Update only;
// never called on rollback). Use it to publish events after commit.
func (t *Tx) OnCommit(fn func()) { t.tx.OnCommit(fn) }

// bucket returns a top-level bucket; migrations guarantee it exists.
func (t *Tx) bucket(name []byte) bucket { return t.tx.Bucket(name) }

// appendBucket returns a top-level bucket tuned for appends in this transaction
// (bbolt fills its pages to appendFill; etcd has no pages).
func (t *Tx) appendBucket(name []byte) bucket {
	b := t.tx.Bucket(name)
	if bb, ok := b.(boltBucket); ok {
		bb.FillPercent = appendFill
	}
	return b
}

// writable returns ErrReadOnly (wrapped with op) on a View transaction.
func (t *Tx) writable(op string) error {
	if !t.tx.Writable() {
		return fmt.Errorf("%s: %w", op, ErrReadOnly)
	}
	return nil
}

// assignID gives *id the next sequence of b when it is 0 and otherwise raises the
// sequence to *id so that later inserts never reuse it. It reports whether it
// assigned a fresh ID.
func assignID(b bucket, id *uint64) (fresh bool, err error) {
	if *id != 0 {
		if *id > b.Sequence() {
			return false, b.SetSequence(*id)
		}
		return false, nil
	}
	n, err := b.NextSequence()
	if err != nil {
		return false, err
	}
	*id = n
	return true, nil
}

// claim maps key to id in the unique index idx, or returns ErrConflict when the
// key already belongs to another id.
func claim(idx bucket, key []byte, id uint64, what string) error {
	if v := idx.Get(key); v != nil && btoi(v) != id {
		return fmt.Errorf("%s: %w", what, ErrConflict)
	}
	return idx.Put(key, u64(id))
}

// release deletes oldKey from idx when it differs from newKey (nil oldKey: none).
func release(idx bucket, oldKey, newKey []byte) error {
	if oldKey == nil || bytes.Equal(oldKey, newKey) {
		return nil
	}
	return idx.Delete(oldKey)
}

// scanPrefix calls fn for each key of b starting with prefix, ascending or
// descending, until fn returns more == false or an error.
func scanPrefix(b bucket, prefix []byte, desc bool, fn func(k []byte) (bool, error)) error {
	c := b.Cursor()
	step := c.Next
	k := seekFirst(c, prefix)
	if desc {
		step = c.Prev
		k = seekLast(c, prefix)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = step() {
		more, err := fn(k)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// seekFirst positions c on the first key >= prefix.
func seekFirst(c cursor, prefix []byte) []byte {
	k, _ := c.Seek(prefix)
	return k
}

// seekLast positions c on the last key that may start with prefix.
func seekLast(c cursor, prefix []byte) []byte {
	end := prefixEnd(prefix)
	if end == nil {
		k, _ := c.Last()
		return k
	}
	if k, _ := c.Seek(end); k == nil {
		k, _ = c.Last()
		return k
	}
	k, _ := c.Prev()
	return k
}

// prefixEnd returns the smallest key greater than every key starting with prefix,
// or nil when there is none (prefix is all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// count returns the number of keys of b starting with prefix.
func count(b bucket, prefix []byte) int {
	n := 0
	_ = scanPrefix(b, prefix, false, func([]byte) (bool, error) { n++; return true, nil })
	return n
}
