package storage

import (
	"fmt"
	"testing"
	"time"
)

// TestRoomListMigrationIndexesExistingRooms opens a version-3 file (rooms without
// list entries) and checks that migration 4 lists every active room.
func TestRoomListMigrationIndexesExistingRooms(t *testing.T) {
	t.Parallel()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openFromVersion(t, 3, func(btx kvTx) error {
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
	err := s.View(func(tx *Tx) error {
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
