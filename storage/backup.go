package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// CheckReport describes a store that passed Check.
type CheckReport struct {
	Bytes         int64  // file size
	SchemaVersion uint64 // meta/schemaVersion
	Rooms         int    // records in the rooms bucket, deleted ones included
}

// Check verifies the store at path offline, without changing it: the file must
// exist and not be empty, its meta pages must be valid, its size must cover its
// pages, and bbolt's consistency check must pass. It opens the file read-only and
// waits at most lockTimeout for the lock (a running server holds it: ErrLocked).
// A damaged file yields a *CorruptError (errors.Is ErrCorrupt).
func Check(path string, lockTimeout time.Duration) (CheckReport, error) {
	var rep CheckReport
	if _, err := os.Stat(path); err != nil {
		return rep, fmt.Errorf("check %s: %w", path, err)
	}
	if err := preflight(path); err != nil {
		return rep, err
	}
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	db, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return rep, fmt.Errorf("check %s (waited %s): %w", path, lockTimeout, ErrLocked)
	}
	if err != nil {
		return rep, fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	if err := validate(db, true); err != nil {
		return rep, err
	}
	err = guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			rep.Bytes = tx.Size()
			rep.SchemaVersion = schemaVersion(boltTx{tx})
			if b := tx.Bucket(bucketRooms); b != nil {
				rep.Rooms = b.Stats().KeyN
			}
			return nil
		})
	})
	return rep, err
}

// Backup writes a consistent copy of the whole store to w from one read
// transaction (bbolt's Tx.WriteTo): writers go on meanwhile, the copy is the
// snapshot at the start. size is called first with the number of bytes that
// follow. It returns the number of bytes written.
func (s *Store) Backup(w io.Writer, size func(int64)) (int64, error) {
	var n int64
	if s.db == nil {
		return 0, fmt.Errorf("backup %s: %w", s.eng, ErrNotBbolt)
	}
	err := guard(s.db.Path(), func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			if size != nil {
				size(tx.Size())
			}
			var err error
			n, err = tx.WriteTo(w)
			return err
		})
	})
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", s.db.Path(), err)
	}
	return n, nil
}

// WriteFileAtomic copies r to path through path+".tmp" (mode 0600, fsynced, then
// renamed), so that path is either absent, the old file or the whole new one.
func WriteFileAtomic(path string, r io.Reader) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return n, fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return n, nil
}

// BackupFile is Backup for a store no process has open: it opens path read-only
// (waiting at most lockTimeout for the lock; ErrLocked when a server holds it) and
// writes the copy without changing the file.
func BackupFile(path string, w io.Writer, size func(int64), lockTimeout time.Duration) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	if err := preflight(path); err != nil {
		return 0, err
	}
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	db, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return 0, fmt.Errorf("backup %s (waited %s): %w", path, lockTimeout, ErrLocked)
	}
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", path, err)
	}
	defer db.Close()
	if err := validate(db, false); err != nil {
		return 0, err
	}
	return (&Store{db: db}).Backup(w, size)
}
