package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DefaultLockTimeout is how long Open waits for the file lock when
// Options.LockTimeout is zero.
const DefaultLockTimeout = time.Second

// Options tunes Open. The zero value is the production setting.
type Options struct {
	// NoSync skips fsync after each commit. Only for tests and benchmarks: a crash
	// may lose or corrupt recent transactions. Default false (every Update is durable
	// when it returns).
	NoSync bool
	// LockTimeout bounds the wait for the exclusive file lock held by another
	// process; Open then fails with ErrLocked. Default DefaultLockTimeout (1 s).
	LockTimeout time.Duration
	// CacheRecords bounds the read cache of decoded records, per kind (rooms, apps,
	// members, stream keys, chat rooms; see doc.go "Read cache"). Default
	// DefaultCacheRecords (4096) when 0; negative disables the cache.
	CacheRecords int
	// MaxSize bounds the file in bytes (0: no bound). An Update that would grow the
	// file beyond it fails with ErrFull, as on a full file system.
	MaxSize int
	// SkipCheck skips the full consistency check of Open (the size check and the
	// meta pages are still verified). For tests and benchmarks that reopen large
	// files; see doc.go "Damaged files" for what the check costs.
	SkipCheck bool
}

// Store is the bbolt-backed store. It is safe for concurrent use; Update calls are
// serialized by bbolt, View calls run concurrently with each other and with one
// Update.
type Store struct {
	db     *bolt.DB
	secret []byte
	caches *caches // nil when Options.CacheRecords < 0
}

// Open opens (or creates) the store at path: it creates the parent directory
// (0700), opens the file with mode 0600, waits at most opts.LockTimeout for the
// file lock, runs pending schema migrations and creates the install secret.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, migrations)
}

// open is Open with an explicit migration table (tests add versions).
func open(path string, opts Options, table []migration) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	if err := preflight(path); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := openBolt(path, &bolt.Options{Timeout: timeout, NoSync: opts.NoSync, MaxSize: opts.MaxSize})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s (waited %s): %w", path, timeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := validate(db, !opts.SkipCheck); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{db: db, caches: newCaches(opts.CacheRecords)}
	if err := guard(path, func() error { return db.Update(s.initialize(table)) }); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, classify(err))
	}
	return s, nil
}

// initialize returns the first transaction: migrations, then the install secret.
func (s *Store) initialize(table []migration) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		if err := migrate(tx, table); err != nil {
			return err
		}
		secret, err := ensureInstallSecret(tx)
		s.secret = secret
		return err
	}
}

// Close releases the file lock and closes the file. Pending transactions finish
// first (bbolt waits for them).
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.db.Path(), err)
	}
	return nil
}

// Path returns the file path of the store.
func (s *Store) Path() string { return s.db.Path() }

// InstallSecret returns a copy of the 32 random bytes created on first open and
// kept in the meta bucket (used to sign tokens). Rotating it is not supported.
func (s *Store) InstallSecret() []byte { return append([]byte(nil), s.secret...) }

// View runs fn in a read-only transaction. Write methods of the Tx return
// ErrReadOnly. Records returned by the Tx are copies and stay valid after fn.
// Lookups by ID may be served by the read cache; they return exactly what the
// transaction's snapshot holds (doc.go "Read cache").
//
// A damaged page reached by the transaction makes View return a *CorruptError
// (errors.Is ErrCorrupt) instead of crashing the process.
func (s *Store) View(fn func(*Tx) error) error {
	return guard(s.db.Path(), func() error {
		return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, caches: s.caches}) })
	})
}

// Update runs fn in a read-write transaction. It commits (and fsyncs, unless
// Options.NoSync) when fn returns nil and rolls back when fn returns an error,
// which Update then returns unchanged. Only one Update runs at a time. Its
// lookups bypass the read cache; its writes invalidate cached records before
// commit.
//
// A damaged page makes Update roll back and return a *CorruptError (errors.Is
// ErrCorrupt); a commit that cannot grow the file (full file system,
// Options.MaxSize) returns an error matching ErrFull. Neither writes anything.
func (s *Store) Update(fn func(*Tx) error) error {
	err := guard(s.db.Path(), func() error {
		return s.db.Update(func(btx *bolt.Tx) error {
			t := &Tx{tx: btx, caches: s.caches}
			err := guard(s.db.Path(), func() error { return fn(t) })
			if err != nil {
				// Rolling back: still under bbolt's writer lock, let fills resume.
				for i := len(t.undo) - 1; i >= 0; i-- {
					t.undo[i]()
				}
			}
			return err
		})
	})
	return classify(err)
}

// StreamKeyBySecret looks a stream key up by its secret in its own read
// transaction (ingest's publish check). It returns ErrNotFound for unknown keys.
func (s *Store) StreamKeyBySecret(ctx context.Context, secret string) (StreamKey, error) {
	var k StreamKey
	if err := ctx.Err(); err != nil {
		return k, err
	}
	err := s.View(func(tx *Tx) error {
		var err error
		k, err = tx.StreamKeyBySecret(secret)
		return err
	})
	return k, err
}
