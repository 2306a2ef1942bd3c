package storage_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/roomcast/roomcast/storage"
	"github.com/roomcast/roomcast/storage/storagetest"
)

// TestChatForbiddenWordsReplace: each replacement stores the list, bumps the
// chat room's version (seen by later Views through the read cache) and leaves
// the counters alone; a missing chat room is ErrNotFound.
func TestChatForbiddenWordsReplace(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	newChat(t, s, 4)
	appendMsgs(t, s, 4, 2)
	view(t, s, func(tx *storage.Tx) error {
		fw, err := tx.ChatForbiddenWords(4)
		if err != nil || fw.Version != 0 || fw.Words != nil {
			t.Fatalf("before any: %+v, %v", fw, err)
		}
		return nil
	})
	_ = chatRoom(t, s, 4) // fill the read cache
	words := []string{"spam", "bad word", "色情"}
	for i, list := range [][]string{words, {}, words[:1]} {
		update(t, s, func(tx *storage.Tx) error {
			cr, err := tx.SetChatForbiddenWords(4, list, chatNow.Add(time.Duration(i)*time.Second))
			if err != nil {
				return err
			}
			if cr.ForbiddenWordsVersion != uint64(i+1) || cr.MessageCount != 2 {
				t.Fatalf("returned chat room %+v", cr)
			}
			return nil
		})
		if cr := chatRoom(t, s, 4); cr.ForbiddenWordsVersion != uint64(i+1) || cr.MessageCount != 2 {
			t.Fatalf("stored chat room after replacement %d: %+v", i, cr)
		}
		view(t, s, func(tx *storage.Tx) error {
			fw, err := tx.ChatForbiddenWords(4)
			want := storage.ChatForbiddenWords{RoomID: 4, Version: uint64(i + 1), Words: list,
				UpdatedAt: chatNow.Add(time.Duration(i) * time.Second)}
			if len(list) == 0 {
				want.Words = nil // omitted when empty
			}
			if err != nil || !reflect.DeepEqual(fw, want) {
				t.Fatalf("replacement %d: %+v, %v; want %+v", i, fw, err, want)
			}
			return nil
		})
	}
	err := s.Update(func(tx *storage.Tx) error {
		_, err := tx.SetChatForbiddenWords(5, words, chatNow)
		return err
	})
	wantErr(t, err, storage.ErrNotFound)
	err = s.View(func(tx *storage.Tx) error {
		_, err := tx.SetChatForbiddenWords(4, words, chatNow)
		return err
	})
	wantErr(t, err, storage.ErrReadOnly)
}

// TestChatMutes: put, replace, read, expiry check and delete of mutes, which
// do not depend on membership and survive closing the chat room.
func TestChatMutes(t *testing.T) {
	t.Parallel()
	s := storagetest.Open(t)
	newChat(t, s, 4)
	until := chatNow.Add(time.Minute)
	update(t, s, func(tx *storage.Tx) error {
		if err := tx.PutChatMute(&storage.ChatMute{RoomID: 4, MemberID: 7, MutedAt: chatNow}); err != nil {
			return err
		}
		return tx.PutChatMute(&storage.ChatMute{RoomID: 4, MemberID: 8, MutedAt: chatNow, Until: until})
	})
	update(t, s, func(tx *storage.Tx) error {
		_, err := tx.SetChatRoomClosed(4, chatNow)
		return err
	})
	view(t, s, func(tx *storage.Tx) error {
		m7, err := tx.ChatMute(4, 7)
		if err != nil || !m7.Active(chatNow.Add(24*time.Hour)) || !m7.Until.IsZero() {
			t.Fatalf("mute 7: %+v, %v", m7, err)
		}
		m8, err := tx.ChatMute(4, 8)
		if err != nil || !m8.Active(until.Add(-time.Nanosecond)) || m8.Active(until) || !m8.Until.Equal(until) {
			t.Fatalf("mute 8: %+v, %v", m8, err)
		}
		_, err = tx.ChatMute(4, 9)
		wantErr(t, err, storage.ErrNotFound)
		return nil
	})
	var deleted []bool
	update(t, s, func(tx *storage.Tx) error {
		for _, id := range []uint64{7, 7, 9} {
			d, err := tx.DeleteChatMute(4, id)
			if err != nil {
				return err
			}
			deleted = append(deleted, d)
		}
		return nil
	})
	if !slices.Equal(deleted, []bool{true, false, false}) {
		t.Fatalf("deleted %v", deleted)
	}
	view(t, s, func(tx *storage.Tx) error {
		_, err := tx.ChatMute(4, 7)
		wantErr(t, err, storage.ErrNotFound)
		return nil
	})
	err := s.Update(func(tx *storage.Tx) error {
		return tx.PutChatMute(&storage.ChatMute{RoomID: 5, MemberID: 7})
	})
	wantErr(t, err, storage.ErrNotFound)
}
