package chat

import (
	"encoding/json"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// MessageRefJSON is the answer of the send endpoints.
type MessageRefJSON struct {
	VideoKey   string `json:"videoKey"`
	ChannelKey string `json:"channelKey"`
	MessageID  uint64 `json:"messageId"`
}

// MessageJSON is a message (the chat API's message).
// deliveryType, hidden, origin and sender are Roomcast additions.
type MessageJSON struct {
	VideoKey           string             `json:"videoKey"`
	ChannelKey         string             `json:"channelKey"`
	MessageID          uint64             `json:"messageId"`
	MessageType        string             `json:"messageType"`
	CustomType         *string            `json:"customType"`
	Message            *string            `json:"message"`
	Data               json.RawMessage    `json:"data"`
	ReceiverAppUserIDs []string           `json:"receiverAppUserIds"`
	DeliveryType       string             `json:"deliveryType"`
	Hidden             bool               `json:"hidden"`
	Origin             string             `json:"origin"`
	Sender             *events.ChatSender `json:"sender"`
	CreatedAt          *string            `json:"createdAt"`
}

// NewMessageJSON converts a message of chat room cr.
func NewMessageJSON(cr *storage.ChatRoom, m *storage.ChatMessage) MessageJSON {
	j := MessageJSON{
		VideoKey: control.VideoKey(cr.RoomID), ChannelKey: cr.ChannelKey, MessageID: m.ID,
		MessageType: m.Type, CustomType: control.Opt(m.CustomType), Message: control.Opt(m.Message),
		Data: m.Data, ReceiverAppUserIDs: m.Receivers, DeliveryType: m.Delivery,
		Hidden: m.Hidden, Origin: Origin(m), Sender: SenderJSON(m.Sender), CreatedAt: control.OptTime(m.CreatedAt),
	}
	if len(j.Data) == 0 {
		j.Data = json.RawMessage("null")
	}
	if j.ReceiverAppUserIDs == nil {
		j.ReceiverAppUserIDs = []string{}
	}
	return j
}
