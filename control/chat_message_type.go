package control

import "fmt"

// ChatMessageType is the messageType of a chat room message (seed 002):
// ChatRoomBroadcastMessageType is MESSAGE or COMMAND, ChatRoomDirectMessageType is
// DM or COMMAND.
type ChatMessageType string

// ChatMessageType values.
const (
	ChatMessageTypeUnknown ChatMessageType = ""
	ChatMessageTypeMessage ChatMessageType = "MESSAGE" // general message (broadcast)
	ChatMessageTypeDM      ChatMessageType = "DM"      // direct message
	ChatMessageTypeCommand ChatMessageType = "COMMAND" // custom message (both)
)

// String returns the API spelling of t.
func (t ChatMessageType) String() string { return string(t) }

// ParseChatMessageType parses any messageType; "" is an error (callers answer
// EMPTY_CHAT_ROOM_MESSAGE_TYPE before parsing).
func ParseChatMessageType(v string) (ChatMessageType, error) {
	switch t := ChatMessageType(v); t {
	case ChatMessageTypeMessage, ChatMessageTypeDM, ChatMessageTypeCommand:
		return t, nil
	}
	return ChatMessageTypeUnknown, fmt.Errorf("unknown messageType %q", v)
}

// AllowedFor reports whether t may be sent with delivery d: MESSAGE only as a
// broadcast, DM only as a direct message, COMMAND as either.
func (t ChatMessageType) AllowedFor(d ChatDelivery) bool {
	switch t {
	case ChatMessageTypeMessage:
		return d == ChatBroadcast
	case ChatMessageTypeDM:
		return d == ChatDirect
	}
	return t == ChatMessageTypeCommand
}

// ChatDelivery is how a chat message is addressed; stored as storage.ChatMessage.Delivery.
type ChatDelivery string

// chatDelivery values (the deliveryType of a message view).
const (
	ChatBroadcast ChatDelivery = "BROADCAST"
	ChatDirect    ChatDelivery = "DIRECT"
)
