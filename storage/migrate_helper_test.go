package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testOpen opens the store path names on the engine of the test run: the bbolt
// file, or on etcd the key prefix derived from path (as storagetest.OpenAt does).
func testOpen(path string, opts Options) (*Store, error) {
	return testOpenTable(path, opts, migrations)
}

// testOpenTable is testOpen with an explicit migration table.
func testOpenTable(path string, opts Options, table []migration) (*Store, error) {
	c := TestEtcd()
	if c == nil {
		return open(path, opts, table)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return openEtcd(ctx, EtcdOptions{Client: c, Prefix: testPrefix(path), Options: opts}, table)
}

// testPrefix is the etcd prefix that stands for path (storagetest.Prefix).
func testPrefix(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "/roomcast-test/" + hex.EncodeToString(sum[:8])
}

// openFromVersion writes a store as a binary of schema version v left it
// (migrations 1..v and their buckets only), with the records fill writes the way
// that binary stored them, then opens it with Open (or OpenEtcd), which must
// migrate it to the latest version. The store is closed at the end of the test.
func openFromVersion(t *testing.T, v uint64, fill func(kvTx) error) *Store {
	t.Helper()
	if migrations[v-1].version != v {
		t.Fatalf("migration table changed: no version %d at index %d", v, v-1)
	}
	path := filepath.Join(t.TempDir(), "roomcast.db")
	build := func(tx kvTx) error {
		for _, m := range migrations[:v] {
			if err := m.up(tx); err != nil {
				return err
			}
		}
		if err := setSchemaVersion(tx, v); err != nil {
			return err
		}
		return fill(tx)
	}
	if c := TestEtcd(); c != nil {
		e := &etcdEngine{cli: c, prefix: testPrefix(path) + "/", commit: testPrefix(path) + "/commit",
			timeout: 5 * time.Second, done: make(chan struct{})}
		if err := e.update(func(tx kvTx) (func(), error) { return nil, build(tx) }); err != nil {
			t.Fatal(err)
		}
	} else {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(btx *bolt.Tx) error { return build(boltTx{btx}) }); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := testOpen(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.View(func(tx *Tx) error {
		if got, want := schemaVersion(tx.tx), migrations[len(migrations)-1].version; got != want {
			t.Errorf("schema version %d after Open, want %d", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// settle waits until an etcd store's watch has applied every change up to the
// current revision, so that the read cache may serve the next View (bbolt: at
// once).
func settle(t testing.TB, s *Store) {
	t.Helper()
	e, ok := s.eng.(*etcdEngine)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.commit)
	if err != nil {
		t.Fatal(err)
	}
	for e.watched.Load() < resp.Header.Revision {
		if ctx.Err() != nil {
			t.Fatalf("watch stuck at revision %d, want %d", e.watched.Load(), resp.Header.Revision)
		}
		e.requestProgress()
		time.Sleep(time.Millisecond)
	}
}

// parallelOnBbolt marks t parallel on bbolt only. On etcd, the tests of a run
// share one cluster, whose revision every parallel test's writes advance: a test
// that expects cache hits runs alone there (the cache serves only snapshots the
// watch has reached).
func parallelOnBbolt(t *testing.T) {
	if TestEtcd() == nil {
		t.Parallel()
	}
}
