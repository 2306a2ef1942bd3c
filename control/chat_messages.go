package control

import (
	"encoding/json"

	"github.com/roomcast/roomcast/storage"
)

// ChatMessageRefJSON is the answer of the send endpoints (seed 002).
type ChatMessageRefJSON struct {
	VideoKey   string `json:"videoKey"`
	ChannelKey string `json:"channelKey"`
	MessageID  uint64 `json:"messageId"`
}

// ChatMessageJSON is a message (seed 002 "Get VideoRoom ChatRoom Message").
// deliveryType and hidden are Roomcast additions.
type ChatMessageJSON struct {
	VideoKey           string          `json:"videoKey"`
	ChannelKey         string          `json:"channelKey"`
	MessageID          uint64          `json:"messageId"`
	MessageType        string          `json:"messageType"`
	CustomType         *string         `json:"customType"`
	Message            *string         `json:"message"`
	Data               json.RawMessage `json:"data"`
	ReceiverAppUserIDs []string        `json:"receiverAppUserIds"`
	DeliveryType       string          `json:"deliveryType"`
	Hidden             bool            `json:"hidden"`
	CreatedAt          *string         `json:"createdAt"`
}

// NewChatMessageJSON converts a message of chat room cr.
func NewChatMessageJSON(cr *storage.ChatRoom, m *storage.ChatMessage) ChatMessageJSON {
	j := ChatMessageJSON{
		VideoKey: VideoKey(cr.RoomID), ChannelKey: cr.ChannelKey, MessageID: m.ID,
		MessageType: m.Type, CustomType: Opt(m.CustomType), Message: Opt(m.Message),
		Data: m.Data, ReceiverAppUserIDs: m.Receivers, DeliveryType: m.Delivery,
		Hidden: m.Hidden, CreatedAt: OptTime(m.CreatedAt),
	}
	if len(j.Data) == 0 {
		j.Data = json.RawMessage("null")
	}
	if j.ReceiverAppUserIDs == nil {
		j.ReceiverAppUserIDs = []string{}
	}
	return j
}
