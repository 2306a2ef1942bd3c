package chat

import "fmt"

// MessageType is the messageType of a chat room message:
// ChatRoomBroadcastMessageType is MESSAGE or COMMAND, ChatRoomDirectMessageType is
// DM or COMMAND.
type MessageType string

// MessageType values.
const (
	MessageTypeUnknown MessageType = ""
	MessageTypeMessage MessageType = "MESSAGE" // general message (broadcast)
	MessageTypeDM      MessageType = "DM"      // direct message
	MessageTypeCommand MessageType = "COMMAND" // custom message (both)
)

// String returns the API spelling of t.
func (t MessageType) String() string { return string(t) }

// ParseMessageType parses any messageType; "" is an error (callers answer
// EMPTY_CHAT_ROOM_MESSAGE_TYPE before parsing).
func ParseMessageType(v string) (MessageType, error) {
	switch t := MessageType(v); t {
	case MessageTypeMessage, MessageTypeDM, MessageTypeCommand:
		return t, nil
	}
	return MessageTypeUnknown, fmt.Errorf("unknown messageType %q", v)
}

// AllowedFor reports whether t may be sent with delivery d: MESSAGE only as a
// broadcast, DM only as a direct message, COMMAND as either.
func (t MessageType) AllowedFor(d Delivery) bool {
	switch t {
	case MessageTypeMessage:
		return d == Broadcast
	case MessageTypeDM:
		return d == Direct
	}
	return t == MessageTypeCommand
}

// Delivery is how a chat message is addressed; stored as storage.ChatMessage.Delivery.
type Delivery string

// chatDelivery values (the deliveryType of a message view).
const (
	Broadcast Delivery = "BROADCAST"
	Direct    Delivery = "DIRECT"
)
