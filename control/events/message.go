package events

import "encoding/json"

// The member SSE notifications (Event.Message). Every one shares the
// notification envelope: messageId, sentAt, origin, type, deliveryType, channelId.

// Signal is the notification envelope of a SYSTEM signal (origin SYSTEM, type
// SIGNAL) with its customType and customData D; the signals below are its
// instances.
type Signal[D any] struct {
	MessageID    string `json:"messageId"`
	SentAt       string `json:"sentAt"`
	Origin       string `json:"origin"`
	Type         string `json:"type"`
	DeliveryType string `json:"deliveryType"`
	ChannelID    uint64 `json:"channelId"`
	CustomType   string `json:"customType"`
	CustomData   D      `json:"customData"`
}

// RoomSignal is the SSE notification of a room transition: a SYSTEM
// CHANGE_DATA_CAPTURE signal carrying the room's new states and URLs.
type RoomSignal = Signal[RoomSignalData]

// RoomSignalData is the customData of RoomSignal.
type RoomSignalData struct {
	Type           string  `json:"type"`
	VideoRoomID    string  `json:"videoRoomId"`
	VideoRoomState string  `json:"videoRoomState"`
	VODState       string  `json:"vodState"`
	PlayURL        *string `json:"playUrl"`
	VODURL         *string `json:"vodUrl"`
}

// HealthSignal is the SSE notification of a stream health warning raised or
// resolved, sent to the owner of the publishing stream key (the room's host):
// the notification envelope with deliveryType DIRECT and customType
// STREAM_HEALTH.
type HealthSignal = Signal[HealthSignalData]

// HealthSignalData is the customData of HealthSignal.
type HealthSignalData struct {
	Type        string  `json:"type"`        // STREAM_HEALTH
	Event       string  `json:"event"`       // the event name, e.g. stream_health.bitrate_low
	VideoRoomID *string `json:"videoRoomId"` // null for a publish not bound to a room (preview)
	StreamKeyID string  `json:"streamKeyId"`
	Warning     string  `json:"warning"`
	Resolved    bool    `json:"resolved"`
	Cause       *string `json:"cause"` // RECOVERED or PUBLISH_STOPPED when resolved
	Value       float64 `json:"value"`
	Threshold   float64 `json:"threshold"`
}

// Chat message states of ChatSignalData.
const (
	ChatMessageVisible = "VISIBLE"
	ChatMessageHidden  = "HIDDEN"
	ChatMessageDeleted = "DELETED"
)

// Origins of a ChatMessage.
const (
	OriginAdmin  = "ADMIN"  // sent through the App API admin endpoints
	OriginMember = "MEMBER" // sent by a member over the chat socket
)

// ChatMessage is the notification of a sent chat message (member SSE stream and
// chat socket): the notification envelope with the chat message. messageId is
// the chat messageId in decimal (a string, like every messageId of the stream);
// origin is OriginAdmin or OriginMember; sender (a Roomcast addition) is the
// member who sent it, null for admin messages.
type ChatMessage struct {
	MessageID    string          `json:"messageId"`
	SentAt       string          `json:"sentAt"`
	Origin       string          `json:"origin"`
	Type         string          `json:"type"`         // MESSAGE, DM, COMMAND
	DeliveryType string          `json:"deliveryType"` // BROADCAST, DIRECT
	ChannelID    uint64          `json:"channelId"`
	ChannelKey   string          `json:"channelKey"`
	VideoKey     string          `json:"videoKey"`
	CustomType   *string         `json:"customType"`
	Message      *string         `json:"message"`
	Data         json.RawMessage `json:"data"`
	Sender       *ChatSender     `json:"sender"`
}

// ChatSender is the member who sent a chat message, as it was when it sent it.
type ChatSender struct {
	AppUserID            string  `json:"appUserId"`
	AppUserName          *string `json:"appUserName"`
	AppUserProfileImgURL *string `json:"appUserProfileImgUrl"`
}

// ChatSignal is the CHANGE_DATA_CAPTURE signal of a hidden, visible again or
// deleted chat message (the same envelope as RoomSignal).
type ChatSignal = Signal[ChatSignalData]

// ChatSignalData is the customData of ChatSignal.
type ChatSignalData struct {
	Type             string `json:"type"` // CHAT_MESSAGE
	VideoRoomID      string `json:"videoRoomId"`
	ChannelKey       string `json:"channelKey"`
	MessageID        string `json:"messageId"`        // the chat messageId, decimal
	ChatMessageState string `json:"chatMessageState"` // VISIBLE, HIDDEN, DELETED
}

// Member is the member an SSE stream is served to (from its verified access
// token).
type Member struct {
	AppID    uint64
	MemberID uint64
}

// ChatMemberSignal is the SSE notification of a mute or unmute, sent to the
// muted member only (deliveryType DIRECT): the notification envelope with
// customType CHANGE_DATA_CAPTURE.
type ChatMemberSignal = Signal[ChatMemberSignalData]

// ChatMemberSignalData is the customData of ChatMemberSignal.
type ChatMemberSignalData struct {
	Type        string  `json:"type"` // CHAT_MEMBER
	VideoRoomID string  `json:"videoRoomId"`
	ChannelKey  string  `json:"channelKey"`
	AppUserID   string  `json:"appUserId"`
	Muted       bool    `json:"muted"`
	MutedUntil  *string `json:"mutedUntil"` // null: until unmuted (or not muted)
}
