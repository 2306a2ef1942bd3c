package storage

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestRoomListMigrationIndexesExistingRooms opens a version-3 file (rooms without
// list entries) and checks that migration 4 lists every active room.
func TestRoomListMigrationIndexesExistingRooms(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "roomcast.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	err = db.Update(func(btx *bolt.Tx) error {
		for _, m := range migrations[:3] {
			if err := m.up(btx); err != nil {
				return err
			}
		}
		if err := setSchemaVersion(btx, 3); err != nil {
			return err
		}
		for i := uint64(1); i <= 30; i++ {
			r := Room{ID: i, UUID: fmt.Sprint("u-", i), AppID: 1, MemberID: i%3 + 1, State: "ACTIVE",
				VideoRoomState: "SCHEDULED", Type: "WEBINAR", AccessLevel: "PUBLIC",
				Title: fmt.Sprint("Room ", i), LastModifiedAt: base.Add(time.Duration(30-i) * time.Minute)}
			if i%10 == 0 {
				r.State = "DELETED"
			}
			if err := putJSON(btx.Bucket(bucketRooms), u64(i), &r, "room"); err != nil {
				return err
			}
		}
		return btx.Bucket(bucketRooms).SetSequence(30)
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
	err = s.View(func(tx *Tx) error {
		if v := schemaVersion(tx.tx); v != migrations[len(migrations)-1].version {
			t.Errorf("schema version %d", v)
		}
		rooms, total, err := tx.ListRooms(RoomQuery{AppID: 1, ByModified: true, Limit: 100})
		if err != nil {
			return err
		}
		if total != 27 || len(rooms) != 27 || rooms[0].ID != 29 || rooms[26].ID != 1 {
			t.Errorf("app list: total %d, %d rooms, first %d", total, len(rooms), rooms[0].ID)
		}
		rooms, total, err = tx.ListRooms(RoomQuery{AppID: 1, MemberID: 2, Limit: 100})
		if err != nil {
			return err
		}
		if total != 9 || len(rooms) != 9 || rooms[0].ID != 1 {
			t.Errorf("member list: total %d, %d rooms", total, len(rooms))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
