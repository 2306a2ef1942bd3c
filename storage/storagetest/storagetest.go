// Package storagetest opens throwaway stores for tests of packages that use
// storage (after bbolt's internal/btesting).
package storagetest

import (
	"path/filepath"
	"testing"

	"github.com/roomcast/roomcast/storage"
)

// Open opens a new store in t.TempDir() and closes it in t.Cleanup. It uses
// Options.NoSync because a test's file does not need to survive a crash.
func Open(t testing.TB) *storage.Store {
	t.Helper()
	s, err := storage.Open(filepath.Join(t.TempDir(), "roomcast.db"), storage.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}
