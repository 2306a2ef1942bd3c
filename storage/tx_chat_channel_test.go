package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// TestChatChannelIndex finds chat rooms by channel key, refuses a key that names
// another chat room and answers ErrNotFound for unknown and empty keys.
func TestChatChannelIndex(t *testing.T) {
	t.Parallel()
	s, err := testOpen(filepath.Join(t.TempDir(), "roomcast.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(func(tx *Tx) error {
		for id := uint64(1); id <= 3; id++ {
			if err := tx.CreateChatRoom(&ChatRoom{RoomID: id, AppID: 7, ChannelKey: fmt.Sprint("key-", id)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		return tx.CreateChatRoom(&ChatRoom{RoomID: 4, AppID: 7, ChannelKey: "key-2"})
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate channel key: %v, want ErrConflict", err)
	}
	err = s.View(func(tx *Tx) error {
		c, err := tx.ChatRoomByChannelKey("key-2")
		if err != nil || c.RoomID != 2 || c.AppID != 7 {
			t.Errorf("key-2: %+v, %v", c, err)
		}
		for _, k := range []string{"", "key-4", "KEY-1"} {
			if _, err := tx.ChatRoomByChannelKey(k); !errors.Is(err, ErrNotFound) {
				t.Errorf("%q: %v, want ErrNotFound", k, err)
			}
		}
		if _, err := tx.ChatRoom(4); !errors.Is(err, ErrNotFound) {
			t.Errorf("room 4 written despite the conflict: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestChatChannelMigrationIndexesExistingChatRooms opens a version-4 file
// holding chat rooms and finds them by channel key after migration 6.
func TestChatChannelMigrationIndexesExistingChatRooms(t *testing.T) {
	t.Parallel()
	s := openFromVersion(t, 4, func(btx kvTx) error {
		for id := uint64(1); id <= 5; id++ {
			c := ChatRoom{RoomID: id, AppID: 1, ChannelKey: fmt.Sprint("ch-", id), MessageCount: id}
			if err := putJSON(btx.Bucket(bucketChatRooms), u64(id), &c, "chat room"); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.View(func(tx *Tx) error {
		for id := uint64(1); id <= 5; id++ {
			c, err := tx.ChatRoomByChannelKey(fmt.Sprint("ch-", id))
			if err != nil || c.RoomID != id || c.MessageCount != id {
				t.Errorf("ch-%d: %+v, %v", id, c, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
