package storage

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestChatMigrationUpgradesVersion1File opens a file written before the chat
// buckets existed and checks that migration 2 adds them and keeps the data.
func TestChatMigrationUpgradesVersion1File(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "roomcast.db")
	db, err := bolt.Open(path, 0o600, nil) // what a version-1 binary wrote
	if err != nil {
		t.Fatal(err)
	}
	r := Room{ID: 1, UUID: "u-1", AppID: 1, State: "ACTIVE", CreatedAt: time.Now().UTC()}
	err = db.Update(func(btx *bolt.Tx) error {
		if err := createBuckets(btx); err != nil {
			return err
		}
		if err := setSchemaVersion(btx, 1); err != nil {
			return err
		}
		// the record as version 1 stored it (PutRoom now also writes later indexes)
		return putJSON(btx.Bucket(bucketRooms), u64(r.ID), &r, "room")
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
	defer s.Close()
	err = s.Update(func(tx *Tx) error {
		if v, want := schemaVersion(tx.tx), migrations[len(migrations)-1].version; v != want {
			t.Errorf("schema version %d, want %d", v, want)
		}
		if _, err := tx.Room(r.ID); err != nil {
			return err
		}
		if err := tx.CreateChatRoom(&ChatRoom{RoomID: r.ID, AppID: 1}); err != nil {
			return err
		}
		return tx.AppendChatMessage(r.ID, &ChatMessage{Type: "MESSAGE"})
	})
	if err != nil {
		t.Fatal(err)
	}
}
