package storage

import (
	"testing"
	"time"
)

// TestChatMigrationUpgradesVersion1File opens a file written before the chat
// buckets existed and checks that migration 2 adds them and keeps the data.
func TestChatMigrationUpgradesVersion1File(t *testing.T) {
	t.Parallel()
	r := Room{ID: 1, UUID: "u-1", AppID: 1, State: "ACTIVE", CreatedAt: time.Now().UTC()}
	s := openFromVersion(t, 1, func(btx kvTx) error {
		// the record as version 1 stored it (PutRoom now also writes later indexes)
		return putJSON(btx.Bucket(bucketRooms), u64(r.ID), &r, "room")
	})
	err := s.Update(func(tx *Tx) error {
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
