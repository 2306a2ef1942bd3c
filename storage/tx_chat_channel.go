package storage

import (
	"errors"
	"fmt"
)

// The chat room of a channel key (schema version 5, migration
// createChatChannelIndex), for clients that name a chat room by its channelKey
// (the member chat socket):
//
//	bucket                  key                               value
//	----------------------  --------------------------------  -------------------------------
//	chat_rooms_by_channel   channelKey bytes                  roomID       (unique)
//
// CreateChatRoom writes the entry; channel keys never change and chat rooms are
// never deleted, so nothing else touches it.
var bucketChatRoomsByChannel = []byte("chat_rooms_by_channel")

// chatChannelBuckets lists the buckets created by schema version 5.
var chatChannelBuckets = [][]byte{bucketChatRoomsByChannel}

// createChatChannelIndex is migration 5: the channel key index, filled from
// every chat room.
func createChatChannelIndex(tx kvTx) error {
	idx, err := tx.CreateBucketIfNotExists(bucketChatRoomsByChannel)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketChatRoomsByChannel, err)
	}
	return tx.Bucket(bucketChatRooms).ForEach(func(k, v []byte) error {
		var c ChatRoom
		if err := decodeJSON(v, &c, "chat room"); err != nil {
			return fmt.Errorf("chat room %d: %w", btoi(k), err)
		}
		if c.ChannelKey == "" {
			return nil
		}
		return idx.Put([]byte(c.ChannelKey), u64(c.RoomID))
	})
}

// indexChannelKey records c.ChannelKey → c.RoomID; a key already naming another
// chat room yields ErrConflict. An empty key is not indexed.
func (t *Tx) indexChannelKey(c *ChatRoom) error {
	if c.ChannelKey == "" {
		return nil
	}
	idx := t.bucket(bucketChatRoomsByChannel)
	if v := idx.Get([]byte(c.ChannelKey)); v != nil && btoi(v) != c.RoomID {
		return fmt.Errorf("chat room channel key of room %d: %w", c.RoomID, ErrConflict)
	}
	if err := idx.Put([]byte(c.ChannelKey), u64(c.RoomID)); err != nil {
		return fmt.Errorf("index chat room channel key: %w", err)
	}
	return nil
}

// ChatRoomByChannelKey returns the chat room whose ChannelKey is key, or
// ErrNotFound.
func (t *Tx) ChatRoomByChannelKey(key string) (ChatRoom, error) {
	if key == "" {
		return ChatRoom{}, fmt.Errorf("chat room of an empty channel key: %w", ErrNotFound)
	}
	v := t.bucket(bucketChatRoomsByChannel).Get([]byte(key))
	if v == nil {
		return ChatRoom{}, fmt.Errorf("chat room of channel key: %w", ErrNotFound)
	}
	c, err := t.ChatRoom(btoi(v))
	if errors.Is(err, ErrNotFound) {
		return c, fmt.Errorf("chat room %d: channel index without record: %w", btoi(v), ErrNotFound)
	}
	return c, err
}
