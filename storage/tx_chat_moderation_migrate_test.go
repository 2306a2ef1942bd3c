package storage

import (
	"testing"
	"time"
)

// TestChatModerationMigrationUpgradesVersion4File opens a file of schema
// version 4 holding a chat room and a member, and checks that migration 5 adds
// the moderation buckets, keeps the chat room (version 0 forbidden words: none)
// and that words and mutes can then be stored.
func TestChatModerationMigrationUpgradesVersion4File(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	s := openFromVersion(t, 4, func(btx kvTx) error {
		cr := ChatRoom{RoomID: 9, AppID: 1, ChannelKey: "ch", CreatedAt: at, MemberCount: 1, LastJoinSeq: 1}
		return putJSON(btx.Bucket(bucketChatRooms), u64(9), &cr, "chat room")
	})
	err := s.Update(func(tx *Tx) error {
		cr, err := tx.ChatRoom(9)
		if err != nil || cr.ForbiddenWordsVersion != 0 || cr.MemberCount != 1 {
			t.Errorf("chat room after migration: %+v, %v", cr, err)
		}
		if fw, err := tx.ChatForbiddenWords(9); err != nil || fw.Version != 0 || len(fw.Words) != 0 {
			t.Errorf("forbidden words of a version 4 chat room: %+v, %v", fw, err)
		}
		if _, err := tx.SetChatForbiddenWords(9, []string{"x"}, at); err != nil {
			return err
		}
		return tx.PutChatMute(&ChatMute{RoomID: 9, MemberID: 3, MutedAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
}
