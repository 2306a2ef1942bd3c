package storage_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// update runs fn in an Update and fails the test on error.
func update(t testing.TB, s *storage.Store, fn func(*storage.Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// view runs fn in a View and fails the test on error.
func view(t testing.TB, s *storage.Store, fn func(*storage.Tx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// openAt opens a store at path with fsync on (the production setting).
func openAt(t testing.TB, path string) *storage.Store {
	t.Helper()
	s, err := storagetest.OpenAt(path, storage.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// dbPath returns a fresh store path below t.TempDir().
func dbPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "sub", "roomcast.db")
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// newRoom returns a room of the given owner with a UUID derived from n.
func newRoom(appID, memberID uint64, n int) storage.Room {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return storage.Room{
		UUID:           fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
		AppID:          appID,
		MemberID:       memberID,
		State:          "ACTIVE",
		Type:           "BROADCAST_RTMP",
		Protocol:       "RTMP",
		Format:         "CMAF",
		AccessLevel:    "PUBLIC",
		Title:          fmt.Sprintf("room %d", n),
		Description:    "a typical room description of moderate length",
		CustomData:     []storage.KeyValue{{Name: "k", Value: "v"}},
		VideoRoomState: "SCHEDULED",
		VODState:       "NOT_ARCHIVED",
		CreatedAt:      now,
		LastModifiedAt: now,
	}
}

// putRoom inserts r and returns it with its ID.
func putRoom(t testing.TB, s *storage.Store, r storage.Room) storage.Room {
	t.Helper()
	update(t, s, func(tx *storage.Tx) error { return tx.PutRoom(&r) })
	return r
}
