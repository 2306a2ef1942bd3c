package storage

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrationHookRunsOnOlderFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "roomcast.db")
	next := migrations[len(migrations)-1].version + 1
	s, err := testOpenTable(path, Options{}, migrations) // a file of the current version
	if err != nil {
		t.Fatal(err)
	}
	secret := s.InstallSecret()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	runs := 0
	table := append(append([]migration(nil), migrations...), migration{version: next,
		up: func(tx kvTx) error {
			runs++
			_, err := tx.CreateBucketIfNotExists([]byte("v2"))
			return err
		}})
	for range 2 { // the second open finds version next and runs nothing
		s, err = testOpenTable(path, Options{}, table)
		if err != nil {
			t.Fatal(err)
		}
		var version uint64
		var hasV2 bool
		_ = s.eng.view(func(tx kvTx) error {
			version, hasV2 = schemaVersion(tx), tx.Bucket([]byte("v2")) != nil
			return nil
		})
		if version != next || !hasV2 || string(s.InstallSecret()) != string(secret) {
			t.Errorf("after migration: version %d (want %d), bucket v2 %v", version, next, hasV2)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if runs != 1 {
		t.Errorf("migration %d ran %d times, want 1", next, runs)
	}

	_, err = testOpenTable(path, Options{}, migrations) // an older binary
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("old binary opened a newer file: %v", err)
	}
}

func TestMigrationFailureLeavesVersion(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "roomcast.db")
	s, err := testOpenTable(path, Options{}, migrations)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	current := migrations[len(migrations)-1].version
	table := append(append([]migration(nil), migrations...), migration{version: current + 1,
		up: func(kvTx) error { return errTestMigration }})
	if _, err := testOpenTable(path, Options{}, table); err == nil {
		t.Fatal("open succeeded although a migration failed")
	}
	s, err = testOpenTable(path, Options{}, migrations)
	if err != nil {
		t.Fatalf("reopen after failed migration: %v", err)
	}
	defer s.Close()
	_ = s.eng.view(func(tx kvTx) error {
		if v := schemaVersion(tx); v != current {
			t.Errorf("schema version %d after failed open, want %d", v, current)
		}
		return nil
	})
}

var errTestMigration = &testError{"migration failed"}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }
