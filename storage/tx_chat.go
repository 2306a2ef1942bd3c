package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"
)

// Chat buckets (schema version 2, migration createChatBuckets):
//
//	bucket                  key                               value
//	----------------------  --------------------------------  -------------------------------
//	chat_rooms              roomID                            ChatRoom
//	chat_messages           roomID | messageID                ChatMessage
//	chat_members            roomID | joinSeq                  ChatMember  (join order)
//	chat_members_by_member  roomID | memberID                 joinSeq      (unique)
//
// Message IDs and join sequences come from the ChatRoom record, not from bucket
// sequences, so they count per room from 1. A page of one room's messages or
// members is a cursor range over the room's 8-byte prefix; no other room is read.
var (
	bucketChatRooms           = []byte("chat_rooms")
	bucketChatMessages        = []byte("chat_messages")
	bucketChatMembers         = []byte("chat_members")
	bucketChatMembersByMember = []byte("chat_members_by_member")
)

// chatBuckets lists the buckets created by schema version 2.
var chatBuckets = [][]byte{
	bucketChatRooms, bucketChatMessages, bucketChatMembers, bucketChatMembersByMember,
}

// createChatBuckets is migration 2: the chat buckets.
func createChatBuckets(tx kvTx) error {
	for _, name := range chatBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// ChatRoom returns the chat room of room roomID, or ErrNotFound.
func (t *Tx) ChatRoom(roomID uint64) (ChatRoom, error) {
	return getCached(t, chatRoomKind, roomID)
}

// CreateChatRoom stores a new chat room for c.RoomID (which must not be 0). Its
// counters and sequences start at zero whatever c holds. A room that already has
// a chat room (open or closed) yields ErrConflict.
func (t *Tx) CreateChatRoom(c *ChatRoom) error {
	if err := t.writable("create chat room"); err != nil {
		return err
	}
	if c.RoomID == 0 {
		return errors.New("create chat room: room id 0")
	}
	b := t.bucket(bucketChatRooms)
	if b.Get(u64(c.RoomID)) != nil {
		return fmt.Errorf("create chat room of room %d: %w", c.RoomID, ErrConflict)
	}
	c.LastMessageID, c.MessageCount, c.LastJoinSeq, c.MemberCount, c.ForbiddenWordsVersion = 0, 0, 0, 0, 0
	if err := t.indexChannelKey(c); err != nil {
		return err
	}
	invalidateCached(t, chatRoomKind, c.RoomID)
	return putJSON(b, u64(c.RoomID), c, "chat room")
}

// SetChatRoomClosed marks the chat room of roomID closed (at, once: a second call
// keeps the first ClosedAt) and removes every member, who no longer participate.
// Messages stay. It returns the updated record, or ErrNotFound.
func (t *Tx) SetChatRoomClosed(roomID uint64, at time.Time) (ChatRoom, error) {
	if err := t.writable("close chat room"); err != nil {
		return ChatRoom{}, err
	}
	c, err := t.ChatRoom(roomID)
	if err != nil {
		return c, err
	}
	if !c.Closed {
		c.Closed, c.ClosedAt = true, at.UTC()
	}
	if err := t.clearChatMembers(roomID); err != nil {
		return c, err
	}
	c.MemberCount = 0
	return c, t.putChatRoom(&c)
}

// putChatRoom rewrites a chat room record.
func (t *Tx) putChatRoom(c *ChatRoom) error {
	invalidateCached(t, chatRoomKind, c.RoomID)
	return putJSON(t.bucket(bucketChatRooms), u64(c.RoomID), c, "chat room")
}

// AppendChatMessage stores m as the next message of chat room roomID: it sets
// m.RoomID and m.ID (LastMessageID+1) and counts it. A missing chat room yields
// ErrNotFound. Closed rooms are the caller's to refuse.
func (t *Tx) AppendChatMessage(roomID uint64, m *ChatMessage) error {
	if err := t.writable("append chat message"); err != nil {
		return err
	}
	c, err := t.ChatRoom(roomID)
	if err != nil {
		return err
	}
	c.LastMessageID++
	c.MessageCount++
	m.RoomID, m.ID = roomID, c.LastMessageID
	b := t.appendBucket(bucketChatMessages)
	if err := putJSON(b, pair(roomID, m.ID), m, "chat message"); err != nil {
		m.ID = 0
		return err
	}
	return t.putChatRoom(&c)
}

// ChatMessage returns message id of chat room roomID, or ErrNotFound.
func (t *Tx) ChatMessage(roomID, id uint64) (ChatMessage, error) {
	var m ChatMessage
	data := t.bucket(bucketChatMessages).Get(pair(roomID, id))
	if data == nil {
		return m, fmt.Errorf("chat message %d/%d: %w", roomID, id, ErrNotFound)
	}
	err := decodeJSON(data, &m, "chat message")
	return m, err
}

// PutChatMessage replaces an existing message (hide, unhide); ErrNotFound when
// m.RoomID/m.ID is not stored. It never inserts: AppendChatMessage does.
func (t *Tx) PutChatMessage(m *ChatMessage) error {
	if err := t.writable("put chat message"); err != nil {
		return err
	}
	b := t.bucket(bucketChatMessages)
	key := pair(m.RoomID, m.ID)
	if b.Get(key) == nil {
		return fmt.Errorf("chat message %d/%d: %w", m.RoomID, m.ID, ErrNotFound)
	}
	return putJSON(b, key, m, "chat message")
}

// DeleteChatMessage removes message id of chat room roomID and uncounts it, or
// returns ErrNotFound. Its ID is not reused.
func (t *Tx) DeleteChatMessage(roomID, id uint64) error {
	if err := t.writable("delete chat message"); err != nil {
		return err
	}
	b := t.bucket(bucketChatMessages)
	key := pair(roomID, id)
	if b.Get(key) == nil {
		return fmt.Errorf("chat message %d/%d: %w", roomID, id, ErrNotFound)
	}
	c, err := t.ChatRoom(roomID)
	if err != nil {
		return err
	}
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("delete chat message %d/%d: %w", roomID, id, err)
	}
	c.MessageCount--
	return t.putChatRoom(&c)
}

// ForEachChatMessage calls fn for the messages of chat room roomID in ID order
// (desc: newest first), skipping the first skip of them without decoding, until
// fn returns more == false or an error. fn must not write chat messages.
func (t *Tx) ForEachChatMessage(roomID uint64, skip int, desc bool, fn func(ChatMessage) (more bool, err error)) error {
	b := t.bucket(bucketChatMessages)
	return scanPrefixValues(b, u64(roomID), desc, func(_, v []byte) (bool, error) {
		if skip > 0 {
			skip--
			return true, nil
		}
		var m ChatMessage
		if err := decodeJSON(v, &m, "chat message"); err != nil {
			return false, err
		}
		return fn(m)
	})
}

// AddChatMember adds cm.MemberID to chat room roomID with the next join sequence
// and returns added == true, or, when the member is already in the room, fills cm
// with the stored record and returns added == false. ErrNotFound when the chat
// room does not exist.
func (t *Tx) AddChatMember(roomID uint64, cm *ChatMember) (added bool, err error) {
	if err := t.writable("add chat member"); err != nil {
		return false, err
	}
	c, err := t.ChatRoom(roomID)
	if err != nil {
		return false, err
	}
	idx := t.bucket(bucketChatMembersByMember)
	if seq := idx.Get(pair(roomID, cm.MemberID)); seq != nil {
		return false, t.chatMemberAt(pair(roomID, btoi(seq)), cm)
	}
	c.LastJoinSeq++
	c.MemberCount++
	cm.RoomID, cm.JoinSeq = roomID, c.LastJoinSeq
	if err := idx.Put(pair(roomID, cm.MemberID), u64(cm.JoinSeq)); err != nil {
		return false, fmt.Errorf("index chat member: %w", err)
	}
	if err := putJSON(t.appendBucket(bucketChatMembers), pair(roomID, cm.JoinSeq), cm, "chat member"); err != nil {
		return false, err
	}
	return true, t.putChatRoom(&c)
}

// ChatMemberIDs returns the member IDs of chat room roomID in ascending ID order
// (SSE fan-out of chat messages). It reads only index keys, no record.
func (t *Tx) ChatMemberIDs(roomID uint64) ([]uint64, error) {
	var ids []uint64
	err := scanPrefix(t.bucket(bucketChatMembersByMember), u64(roomID), false, func(k []byte) (bool, error) {
		if len(k) != 16 {
			return false, fmt.Errorf("chat member index key %x: bad length", k)
		}
		ids = append(ids, btoi(k[8:]))
		return true, nil
	})
	return ids, err
}

// ChatMember returns the membership of memberID in chat room roomID, or
// ErrNotFound.
func (t *Tx) ChatMember(roomID, memberID uint64) (ChatMember, error) {
	var cm ChatMember
	seq := t.bucket(bucketChatMembersByMember).Get(pair(roomID, memberID))
	if seq == nil {
		return cm, fmt.Errorf("chat member %d/%d: %w", roomID, memberID, ErrNotFound)
	}
	err := t.chatMemberAt(pair(roomID, btoi(seq)), &cm)
	return cm, err
}

// chatMemberAt decodes the chat member stored under key.
func (t *Tx) chatMemberAt(key []byte, cm *ChatMember) error {
	data := t.bucket(bucketChatMembers).Get(key)
	if data == nil {
		return fmt.Errorf("chat member %x: index without record: %w", key, ErrNotFound)
	}
	return decodeJSON(data, cm, "chat member")
}

// RemoveChatMember removes memberID from chat room roomID, or returns ErrNotFound
// when it is not a member.
func (t *Tx) RemoveChatMember(roomID, memberID uint64) error {
	if err := t.writable("remove chat member"); err != nil {
		return err
	}
	idx := t.bucket(bucketChatMembersByMember)
	seq := idx.Get(pair(roomID, memberID))
	if seq == nil {
		return fmt.Errorf("chat member %d/%d: %w", roomID, memberID, ErrNotFound)
	}
	c, err := t.ChatRoom(roomID)
	if err != nil {
		return err
	}
	if err := t.bucket(bucketChatMembers).Delete(pair(roomID, btoi(seq))); err != nil {
		return fmt.Errorf("remove chat member: %w", err)
	}
	if err := idx.Delete(pair(roomID, memberID)); err != nil {
		return fmt.Errorf("remove chat member index: %w", err)
	}
	c.MemberCount--
	return t.putChatRoom(&c)
}

// ForEachChatMember calls fn for the members of chat room roomID in join order,
// starting after join sequence afterSeq (0: from the first), until fn returns
// more == false or an error. fn must not add or remove chat members.
func (t *Tx) ForEachChatMember(roomID, afterSeq uint64, fn func(ChatMember) (more bool, err error)) error {
	if afterSeq == math.MaxUint64 {
		return nil
	}
	c := t.bucket(bucketChatMembers).Cursor()
	prefix := u64(roomID)
	for k, v := c.Seek(pair(roomID, afterSeq+1)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var cm ChatMember
		if err := decodeJSON(v, &cm, "chat member"); err != nil {
			return err
		}
		if more, err := fn(cm); err != nil || !more {
			return err
		}
	}
	return nil
}

// clearChatMembers deletes every member of chat room roomID.
func (t *Tx) clearChatMembers(roomID uint64) error {
	prefix := u64(roomID)
	members := t.bucket(bucketChatMembers)
	c := members.Cursor()
	idx := t.bucket(bucketChatMembersByMember)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
		var cm ChatMember
		if err := decodeJSON(v, &cm, "chat member"); err != nil {
			return err
		}
		if err := members.Delete(bytes.Clone(k)); err != nil {
			return fmt.Errorf("clear chat members: %w", err)
		}
		if err := idx.Delete(pair(roomID, cm.MemberID)); err != nil {
			return fmt.Errorf("clear chat member index: %w", err)
		}
	}
	return nil
}

// scanPrefixValues is scanPrefix with values.
func scanPrefixValues(b bucket, prefix []byte, desc bool, fn func(k, v []byte) (bool, error)) error {
	c := b.Cursor()
	step := c.Next
	k, v := c.Seek(prefix)
	if desc {
		step = c.Prev
		k, v = seekLastValue(c, prefix)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = step() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// seekLastValue positions c on the last key that may start with prefix.
func seekLastValue(c cursor, prefix []byte) ([]byte, []byte) {
	end := prefixEnd(prefix)
	if end == nil {
		return c.Last()
	}
	if k, _ := c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}
