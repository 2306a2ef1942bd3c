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

// Store is the store on one of its engines: a bbolt file (Open) or an etcd
// cluster (OpenEtcd). It is safe for concurrent use; Update calls are serialized
// (bbolt: one writer; etcd: one writer per process, and optimistic across
// processes), View calls run concurrently with each other and with one Update.
type Store struct {
	eng    engine
	db     *bolt.DB // the bbolt engine's file; nil on etcd
	secret []byte
	caches *caches // nil when Options.CacheRecords < 0
}

// engine is what a Store needs of its storage engine.
type engine interface {
	// view runs fn in a read-only transaction on one consistent snapshot.
	view(fn func(kvTx) error) error
	// update runs attempt in a read-write transaction and commits when it returns
	// nil. When attempt fails, or the commit does, update calls the rollback
	// attempt returned. An engine may run attempt again after a rollback when
	// another writer committed first (etcd), so attempt must derive everything
	// from the transaction.
	update(attempt func(kvTx) (rollback func(), err error)) error
	close() error
	// String names the store in errors and logs: a file path, or etcd endpoints
	// and prefix.
	String() string
}

// boltEngine is the embedded engine: one bbolt file.
type boltEngine struct{ db *bolt.DB }

func (e boltEngine) String() string { return e.db.Path() }

func (e boltEngine) close() error { return e.db.Close() }

// view runs fn under guard: a damaged page becomes a *CorruptError.
func (e boltEngine) view(fn func(kvTx) error) error {
	return guard(e.db.Path(), func() error {
		return e.db.View(func(btx *bolt.Tx) error { return fn(boltTx{btx}) })
	})
}

// update rolls back the cache bookkeeping while still holding bbolt's writer
// lock when attempt fails; a failed commit rolls it back afterwards.
func (e boltEngine) update(attempt func(kvTx) (func(), error)) error {
	var rollback func()
	err := guard(e.db.Path(), func() error {
		return e.db.Update(func(btx *bolt.Tx) error {
			var err error
			err = guard(e.db.Path(), func() error {
				var aerr error
				rollback, aerr = attempt(boltTx{btx})
				return aerr
			})
			if err != nil && rollback != nil {
				rollback()
				rollback = nil
			}
			if err == nil {
				btx.OnCommit(func() { rollback = nil })
			}
			return err
		})
	})
	if rollback != nil {
		rollback()
	}
	return classify(err)
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
	s := &Store{eng: boltEngine{db}, db: db, caches: newCaches(opts.CacheRecords)}
	if err := s.initialize(table); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// initialize runs the first transaction: migrations, then the install secret.
func (s *Store) initialize(table []migration) error {
	return s.eng.update(func(tx kvTx) (func(), error) {
		if err := migrate(tx, table); err != nil {
			return nil, err
		}
		secret, err := ensureInstallSecret(tx)
		s.secret = secret
		return nil, err
	})
}

// Close closes the store: bbolt releases the file lock and closes the file
// (pending transactions finish first); etcd stops watching and closes its client
// connection if the store opened it.
func (s *Store) Close() error {
	if err := s.eng.close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.eng, err)
	}
	return nil
}

// Path returns the file path of a bbolt store, or a description of an etcd store
// (endpoints and prefix).
func (s *Store) Path() string { return s.eng.String() }

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
	return s.eng.view(func(ktx kvTx) error { return fn(&Tx{tx: ktx, caches: s.caches}) })
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
	return s.eng.update(func(ktx kvTx) (func(), error) {
		t := &Tx{tx: ktx, caches: s.caches}
		return t.rollback, fn(t)
	})
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

// WatchEvents registers fn to be called after events are appended to the outbox
// by another process sharing the store (etcd: another node; fn runs on the
// store's watch goroutine and must not block). On bbolt no other process can
// write, so fn is never called: local appends are announced by their writers.
func (s *Store) WatchEvents(fn func()) {
	e, ok := s.eng.(*etcdEngine)
	if !ok {
		return
	}
	e.watch(func(bucket string, _, value []byte, _ int64) {
		if bucket == string(bucketEvents) && value != nil {
			fn()
		}
	})
}

// EngineStats counts the requests a store made to its engine since it opened
// (etcd; all zero on bbolt, which makes none).
type EngineStats struct {
	Reads     uint64 // etcd range requests: transaction starts, lookups, cursor pages
	Commits   uint64 // etcd Txn requests of write transactions
	Conflicts uint64 // commits refused because another node committed first (then retried)
}

// EngineStats returns the request counters of the store's engine.
func (s *Store) EngineStats() EngineStats {
	e, ok := s.eng.(*etcdEngine)
	if !ok {
		return EngineStats{}
	}
	return EngineStats{Reads: e.reads.Load(), Commits: e.commits.Load(), Conflicts: e.conflicts.Load()}
}
