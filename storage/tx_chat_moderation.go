package storage

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Chat moderation buckets (schema version 5, migration createChatModerationBuckets):
//
//	bucket                  key                               value
//	----------------------  --------------------------------  -------------------------------
//	chat_forbidden_words    roomID                            ChatForbiddenWords
//	chat_mutes              roomID | memberID                 ChatMute
//
// The forbidden words live beside the ChatRoom record, which only carries their
// version: a message reads the (cached) chat room, compares the version with its
// compiled matcher and reads the list only when it changed. Mutes are keyed by
// member, not by join, so they outlast leaving the chat room.
var (
	bucketChatForbiddenWords = []byte("chat_forbidden_words")
	bucketChatMutes          = []byte("chat_mutes")
)

// chatModerationBuckets are the buckets of migration 5.
var chatModerationBuckets = [][]byte{bucketChatForbiddenWords, bucketChatMutes}

// createChatModerationBuckets is migration 5: forbidden words and mutes.
func createChatModerationBuckets(tx kvTx) error {
	for _, name := range chatModerationBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// SetChatForbiddenWords replaces the forbidden words of chat room roomID (an
// empty list clears them), bumps its ForbiddenWordsVersion and returns the
// updated chat room, or ErrNotFound. words is stored as given (none: nil).
func (t *Tx) SetChatForbiddenWords(roomID uint64, words []string, at time.Time) (ChatRoom, error) {
	if err := t.writable("set chat forbidden words"); err != nil {
		return ChatRoom{}, err
	}
	c, err := t.ChatRoom(roomID)
	if err != nil {
		return c, err
	}
	c.ForbiddenWordsVersion++
	fw := ChatForbiddenWords{RoomID: roomID, Version: c.ForbiddenWordsVersion, UpdatedAt: at.UTC()}
	if len(words) > 0 {
		fw.Words = slices.Clone(words)
	}
	if err := putJSON(t.bucket(bucketChatForbiddenWords), u64(roomID), &fw, "chat forbidden words"); err != nil {
		return c, err
	}
	return c, t.putChatRoom(&c)
}

// ChatForbiddenWords returns the forbidden words of chat room roomID: an empty
// record (Version 0, no words) when none were ever set. It does not check that
// the chat room exists.
func (t *Tx) ChatForbiddenWords(roomID uint64) (ChatForbiddenWords, error) {
	fw := ChatForbiddenWords{RoomID: roomID}
	data := t.bucket(bucketChatForbiddenWords).Get(u64(roomID))
	if data == nil {
		return fw, nil
	}
	err := decodeJSON(data, &fw, "chat forbidden words")
	return fw, err
}

// PutChatMute stores (inserts or replaces) the mute of m.MemberID in chat room
// m.RoomID; ErrNotFound when the chat room does not exist.
func (t *Tx) PutChatMute(m *ChatMute) error {
	if err := t.writable("put chat mute"); err != nil {
		return err
	}
	if m.RoomID == 0 || m.MemberID == 0 {
		return errors.New("put chat mute: room or member id 0")
	}
	if _, err := t.ChatRoom(m.RoomID); err != nil {
		return err
	}
	return putJSON(t.bucket(bucketChatMutes), pair(m.RoomID, m.MemberID), m, "chat mute")
}

// ChatMute returns the mute of memberID in chat room roomID (expired or not), or
// ErrNotFound when there is none.
func (t *Tx) ChatMute(roomID, memberID uint64) (ChatMute, error) {
	var m ChatMute
	data := t.bucket(bucketChatMutes).Get(pair(roomID, memberID))
	if data == nil {
		return m, fmt.Errorf("chat mute %d/%d: %w", roomID, memberID, ErrNotFound)
	}
	err := decodeJSON(data, &m, "chat mute")
	return m, err
}

// DeleteChatMute removes the mute of memberID in chat room roomID; deleted is
// false when there was none.
func (t *Tx) DeleteChatMute(roomID, memberID uint64) (deleted bool, err error) {
	if err := t.writable("delete chat mute"); err != nil {
		return false, err
	}
	b := t.bucket(bucketChatMutes)
	key := pair(roomID, memberID)
	if b.Get(key) == nil {
		return false, nil
	}
	if err := b.Delete(key); err != nil {
		return false, fmt.Errorf("delete chat mute %d/%d: %w", roomID, memberID, err)
	}
	return true, nil
}
