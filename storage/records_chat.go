package storage

import (
	"encoding/json"
	"time"
)

// Chat records (VideoRoom Chat App API"). A room has at most one chat
// room, keyed by the room's ID; its messages and members are keyed by
// (roomID, seq) so that a page of one room is an index range. Counters and
// sequences of a ChatRoom are owned by the Tx chat methods: callers read them,
// the methods that add or remove messages and members keep them exact.

// ChatRoom is the chat room of a VideoRoom.
type ChatRoom struct {
	// RoomID is the VideoRoom's ID (the key; the API's "videoKey").
	RoomID uint64 `json:"roomId,omitzero"`
	// AppID is the room's app (tenant), copied for checks without a room read.
	AppID uint64 `json:"appId,omitzero"`
	// ChannelKey is the opaque chat room ID of the seed ("channelKey").
	ChannelKey string    `json:"channelKey,omitzero"`
	Closed     bool      `json:"closed,omitzero"`
	ClosedAt   time.Time `json:"closedAt,omitzero"`
	CreatedAt  time.Time `json:"createdAt,omitzero"`
	// LastMessageID is the ID of the newest message ever appended (IDs are never
	// reused, not even after a delete).
	LastMessageID uint64 `json:"lastMessageId,omitzero"`
	// MessageCount is the number of stored messages (hidden ones included).
	MessageCount uint64 `json:"messageCount,omitzero"`
	// LastJoinSeq numbers joins: each ChatMember gets the next value.
	LastJoinSeq uint64 `json:"lastJoinSeq,omitzero"`
	// MemberCount is the number of current members.
	MemberCount uint64 `json:"memberCount,omitzero"`
	// ForbiddenWordsVersion counts replacements of the room's forbidden words
	// (SetChatForbiddenWords); 0 means none were ever set. The list itself is
	// stored apart (chat_forbidden_words), so that the record read and rewritten
	// on every message stays small; a reader compiles the list once per version.
	ForbiddenWordsVersion uint64 `json:"forbiddenWordsVersion,omitzero"`
}

// ChatForbiddenWords is the forbidden-word list of a chat room, as the app
// last replaced it (normalised by the caller).
type ChatForbiddenWords struct {
	RoomID uint64 `json:"roomId,omitzero"`
	// Version is the ChatRoom.ForbiddenWordsVersion this list was stored with.
	Version   uint64    `json:"version,omitzero"`
	Words     []string  `json:"words,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// ChatMute silences a member in a chat room. It is keyed by (room, member), not
// stored on the ChatMember record, so that leaving and joining again does not
// lift it, and a member can be muted before joining.
type ChatMute struct {
	RoomID   uint64    `json:"roomId,omitzero"`
	MemberID uint64    `json:"memberId,omitzero"`
	MutedAt  time.Time `json:"mutedAt,omitzero"`
	// Until is when the mute ends by itself; zero means until unmuted.
	Until time.Time `json:"until,omitzero"`
}

// Active reports whether the mute silences its member at now.
func (m *ChatMute) Active(now time.Time) bool {
	return m.Until.IsZero() || now.Before(m.Until)
}

// ChatMessage is one message of a chat room (broadcast or direct), sent by the
// app (admin API) or by a member (Sender).
type ChatMessage struct {
	RoomID uint64 `json:"roomId,omitzero"`
	// ID is the message ID within its room (the API's "messageId"), from 1.
	ID uint64 `json:"id,omitzero"`
	// Delivery is "BROADCAST" or "DIRECT".
	Delivery string `json:"delivery,omitzero"`
	// Type is the seed messageType: MESSAGE, DM or COMMAND.
	Type       string `json:"type,omitzero"`
	CustomType string `json:"customType,omitzero"`
	Message    string `json:"message,omitzero"`
	// Data is the compact JSON object of the API's "data" field (nil when absent).
	Data json.RawMessage `json:"data,omitzero"`
	// Receivers are the appUserIds of the receivers; empty means everyone.
	Receivers []string `json:"receivers,omitzero"`
	// Sender is the member who sent the message; nil for the app's admin messages.
	Sender         *ChatSender `json:"sender,omitzero"`
	Hidden         bool        `json:"hidden,omitzero"`
	CreatedAt      time.Time   `json:"createdAt,omitzero"`
	LastModifiedAt time.Time   `json:"lastModifiedAt,omitzero"`
}

// ChatSender is the member who sent a chat message, as it was when it sent it.
type ChatSender struct {
	MemberID      uint64 `json:"memberId,omitzero"`
	AppUserID     string `json:"appUserId,omitzero"`
	AppUserName   string `json:"appUserName,omitzero"`
	ProfileImgURL string `json:"profileImgUrl,omitzero"`
}

// ChatMember is a member participating in a chat room.
type ChatMember struct {
	RoomID   uint64 `json:"roomId,omitzero"`
	MemberID uint64 `json:"memberId,omitzero"`
	// JoinSeq orders members by join time within the room; it is the list cursor.
	JoinSeq  uint64    `json:"joinSeq,omitzero"`
	JoinedAt time.Time `json:"joinedAt,omitzero"`
}
