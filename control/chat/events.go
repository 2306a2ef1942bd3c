package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// Chat delivery (admin messages over the member SSE stream):
//
//   - Every chat change writes one outbox event in the transaction of the change:
//     chat.message_sent (the message), chat.message_hidden,
//     chat.message_unhidden and chat.message_deleted (a CHANGE_DATA_CAPTURE
//     signal naming the message). A hide or unhide that changes nothing writes none.
//   - Over SSE they reach the members of the chat room (Event.Audience
//     AudienceChat), whether they joined it through the Member API video room
//     join or the App API chat-members endpoint; joining a room's channel alone
//     (no chat room, or a closed one) does not make a chat member.
//   - A message with appUserIds (always for DIRECT, optionally for BROADCAST)
//     reaches only the chat members among those receivers (Event.Receivers,
//     resolved to member IDs when the message is sent; unknown appUserIds reach
//     nobody). Its hide/unhide/delete signals follow the same receivers, so no
//     other member learns the message exists.
//   - A direct message a member sent (Sender set) also reaches its sender, so
//     that the sender's other connections show it; so do its signals.
//   - Webhooks carry every chat event, direct messages included: the app's own
//     backend sees everything it sent.
//   - The chat socket (control/chatsocket) delivers the same notifications to
//     the same audience (events.Broker.ListenChat).

// chatEventPayload is the webhook payload of chat.* events.
type chatEventPayload struct {
	VideoRoomID uint64      `json:"videoRoomId"`
	ChatMessage MessageJSON `json:"chatMessage"`
}

// AddEvent appends chat event name about message m of chat room cr (the
// message as it is after the change; for a delete, as it was).
func AddEvent(tx *storage.Tx, ob *events.Outbox, name string, cr *storage.ChatRoom, m *storage.ChatMessage, now time.Time) error {
	receivers, err := chatReceiverIDs(tx, cr.AppID, m.Receivers)
	if err != nil {
		return err
	}
	if receivers != nil && m.Sender != nil && !slices.Contains(receivers, m.Sender.MemberID) {
		receivers = append(receivers, m.Sender.MemberID)
	}
	ev := events.Event{Name: name, AppID: cr.AppID, RoomID: cr.RoomID, ChannelID: cr.RoomID, Time: now,
		Audience: events.AudienceChat, Receivers: receivers}
	stamp := now.UTC().Format(time.RFC3339Nano)
	msgID := strconv.FormatUint(m.ID, 10)
	var msg any
	if name == events.EventChatMessageSent {
		data := m.Data
		if len(data) == 0 {
			data = json.RawMessage("null")
		}
		msg = events.ChatMessage{MessageID: msgID, SentAt: m.CreatedAt.UTC().Format(time.RFC3339Nano),
			Origin: Origin(m), Type: m.Type, DeliveryType: m.Delivery, ChannelID: cr.RoomID,
			ChannelKey: cr.ChannelKey, VideoKey: control.VideoKey(cr.RoomID), CustomType: control.Opt(m.CustomType),
			Message: control.Opt(m.Message), Data: data, Sender: SenderJSON(m.Sender)}
	} else {
		state := events.ChatMessageVisible
		switch {
		case name == events.EventChatMessageDeleted:
			state = events.ChatMessageDeleted
		case m.Hidden:
			state = events.ChatMessageHidden
		}
		msg = events.ChatSignal{MessageID: stamp, SentAt: stamp, Origin: "SYSTEM", Type: "SIGNAL",
			DeliveryType: "BROADCAST", ChannelID: cr.RoomID, CustomType: "CHANGE_DATA_CAPTURE",
			CustomData: events.ChatSignalData{Type: "CHAT_MESSAGE", VideoRoomID: control.VideoKey(cr.RoomID),
				ChannelKey: cr.ChannelKey, MessageID: msgID, ChatMessageState: state}}
	}
	if ev.Message, err = json.Marshal(msg); err != nil {
		return fmt.Errorf("encode chat event message: %w", err)
	}
	return ob.Append(tx, ev, chatEventPayload{VideoRoomID: cr.RoomID, ChatMessage: NewMessageJSON(cr, m)})
}

// Origin is the origin of message m: events.OriginMember when a member sent it,
// else events.OriginAdmin.
func Origin(m *storage.ChatMessage) string {
	if m.Sender != nil {
		return events.OriginMember
	}
	return events.OriginAdmin
}

// SenderJSON is the sender view of s; nil (JSON null) for admin messages.
func SenderJSON(s *storage.ChatSender) *events.ChatSender {
	if s == nil {
		return nil
	}
	return &events.ChatSender{AppUserID: s.AppUserID, AppUserName: control.Opt(s.AppUserName),
		AppUserProfileImgURL: control.Opt(s.ProfileImgURL)}
}

// chatReceiverIDs resolves the appUserIds of a message to member IDs: nil for
// none (the whole chat room), else the known members among them (possibly none).
func chatReceiverIDs(tx *storage.Tx, appID uint64, appUserIDs []string) ([]uint64, error) {
	if len(appUserIDs) == 0 {
		return nil, nil
	}
	ids := make([]uint64, 0, len(appUserIDs))
	for _, u := range appUserIDs {
		m, err := tx.MemberByAppUserID(appID, u)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read receiver %q: %w", u, err)
		}
		ids = append(ids, m.ID)
	}
	return ids, nil
}
