package chatsocket

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// sendBody is the JSON body of a SEND to /chat-rooms/{channelKey}/messages.
// type defaults to MESSAGE; appUserIds makes it a direct message (type DM or
// COMMAND) to those members of the chat room (and its sender).
type sendBody struct {
	Type       *string         `json:"type"`
	CustomType *string         `json:"customType"`
	Message    *string         `json:"message"`
	Data       json.RawMessage `json:"data"`
	AppUserIDs []string        `json:"appUserIds"`
}

// draft decodes a SEND body (strict: unknown fields are refused) into a draft
// and its delivery.
func draft(body []byte) (chat.Draft, chat.Delivery, error) {
	var b sendBody
	if err := request.DecodeJSON(body, &b); err != nil {
		return chat.Draft{}, "", err
	}
	d := chat.Draft{Type: string(chat.MessageTypeMessage), CustomType: b.CustomType, Message: b.Message,
		Data: b.Data, AppUserIDs: b.AppUserIDs}
	if b.Type != nil {
		d.Type = *b.Type
	}
	del := chat.Broadcast
	if len(d.AppUserIDs) > 0 || d.Type == string(chat.MessageTypeDM) {
		del = chat.Direct
	}
	return d, del, nil
}

// chatOf loads, for the connection's member, the chat room of channelKey
// (CHAT_ROOM_NOT_FOUND when unknown or another app's), its video room
// (VIDEO_ROOM_NOT_FOUND when deleted) and the member (MEMBER_NOT_FOUND when
// deleted since its token was issued).
func (c *conn) chatOf(tx *storage.Tx, channelKey string) (storage.ChatRoom, storage.Room, storage.Member, error) {
	var r storage.Room
	var m storage.Member
	cr, err := tx.ChatRoomByChannelKey(channelKey)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && cr.AppID != c.appID) {
		return cr, r, m, chat.ErrRoomNotFound.WithMessage("no chat room %q", truncate(channelKey))
	}
	if err != nil {
		return cr, r, m, fmt.Errorf("read chat room: %w", err)
	}
	if r, err = control.LoadRoom(tx, c.appID, cr.RoomID); err != nil {
		return cr, r, m, err
	}
	m, err = tx.Member(c.appID, c.memberID)
	if errors.Is(err, storage.ErrNotFound) {
		return cr, r, m, control.ErrMemberNotFound.WithMessage("the member no longer exists")
	}
	if err != nil {
		return cr, r, m, fmt.Errorf("read member %d: %w", c.memberID, err)
	}
	return cr, r, m, nil
}

// join makes the connection's member a member of the chat room of channelKey
// (chat.Join, as the Member API's video room join does for an open chat room)
// and returns the chat room's ID (its video room's). A member already in it is
// not asked for the password; others need the room's password, if it has one
// (the password header of SUBSCRIBE). Errors: CHAT_ROOM_NOT_FOUND,
// VIDEO_ROOM_NOT_FOUND, CHAT_ROOM_CLOSED, VIDEO_ROOM_PASSWORD_MISMATCH,
// MEMBER_NOT_FOUND.
func (s *Server) join(c *conn, channelKey, password string) (uint64, error) {
	var roomID uint64
	joined := false
	err := s.Control.Store.View(func(tx *storage.Tx) error {
		cr, _, m, err := c.chatOf(tx, channelKey)
		if err != nil {
			return err
		}
		roomID = cr.RoomID
		_, err = tx.ChatMember(cr.RoomID, m.ID)
		joined = err == nil
		return nil
	})
	if err != nil || joined {
		return roomID, err
	}
	return roomID, s.Control.Store.Update(func(tx *storage.Tx) error {
		cr, r, m, err := c.chatOf(tx, channelKey)
		if err != nil {
			return err
		}
		if cr.Closed {
			return chat.ErrRoomClosed
		}
		if len(r.PasswordHash) > 0 {
			if subtle.ConstantTimeCompare(control.PasswordHash(r.UUID, password), r.PasswordHash) != 1 {
				return control.ErrVideoRoomPasswordMismatch
			}
		}
		_, _, err = chat.Join(tx, &r, m, s.Control.Time())
		return err
	})
}

// send stores a member's message to the chat room of channelKey through the
// send path of admin messages (chat.Send) and returns its messageId. The
// member must be in the chat room (CHAT_ROOM_MEMBER_NOT_FOUND); moderate
// decides before anything is stored.
func (s *Server) send(c *conn, channelKey string, body []byte) (uint64, error) {
	d, del, err := draft(body)
	if err != nil {
		return 0, err
	}
	var msg storage.ChatMessage
	var ob events.Outbox
	err = s.Control.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		cr, _, m, err := c.chatOf(tx, channelKey)
		if err != nil {
			return err
		}
		if _, err := tx.ChatMember(cr.RoomID, m.ID); errors.Is(err, storage.ErrNotFound) {
			return chat.ErrMemberNotFound.WithMessage("subscribe to the chat room (join it) before sending")
		} else if err != nil {
			return fmt.Errorf("read chat member: %w", err)
		}
		if err := s.moderate(tx, &cr, m, &d); err != nil {
			return err
		}
		if msg, err = d.Validate(del); err != nil {
			return err
		}
		msg.Sender = &storage.ChatSender{MemberID: m.ID, AppUserID: m.AppUserID,
			AppUserName: m.AppUserName, ProfileImgURL: m.ProfileImgURL}
		return chat.Send(tx, &ob, &cr, &msg, s.Control.Time())
	})
	if err != nil {
		return 0, err
	}
	ob.Emit(s.Control.Events)
	return msg.ID, nil
}

// moderate runs every check of a member's message before it is stored, in the
// send transaction, with the chat room (cr), the sender (m) and the message as
// written (d), before d is validated: chat.Moderator's length, rate,
// membership, mute and forbidden words, each refusal counted. A refusal is a
// control.APIError the client receives as a non-fatal refusal (RECEIPT error
// header, error queue).
func (s *Server) moderate(tx *storage.Tx, cr *storage.ChatRoom, m storage.Member, d *chat.Draft) error {
	text := ""
	if d.Message != nil {
		text = *d.Message
	}
	return s.Moderator.Moderate(tx, cr, m, text, s.Control.Time())
}
