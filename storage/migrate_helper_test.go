package storage

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// openFromVersion writes a store file as a binary of schema version v left it
// (migrations 1..v and their buckets only), with the records fill writes the way
// that binary stored them, then opens it with Open, which must migrate it to the
// latest version. The store is closed at the end of the test.
func openFromVersion(t *testing.T, v uint64, fill func(*bolt.Tx) error) *Store {
	t.Helper()
	if migrations[v-1].version != v {
		t.Fatalf("migration table changed: no version %d at index %d", v, v-1)
	}
	path := filepath.Join(t.TempDir(), "roomcast.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		for _, m := range migrations[:v] {
			if err := m.up(btx); err != nil {
				return err
			}
		}
		if err := setSchemaVersion(btx, v); err != nil {
			return err
		}
		return fill(btx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
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
