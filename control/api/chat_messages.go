package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// sendChatMessageRequest is the body of the admin broadcast and direct message
// endpoints.
type sendChatMessageRequest struct {
	MessageType *string         `json:"messageType"`
	CustomType  *string         `json:"customType"`
	Message     *string         `json:"message"`
	Data        json.RawMessage `json:"data"`
	AppUserIDs  []string        `json:"appUserIds"`
}

// validate checks the request for delivery d in the order of the seed's error
// tables and returns the message to store.
func (r *sendChatMessageRequest) validate(d chat.Delivery) (storage.ChatMessage, error) {
	var m storage.ChatMessage
	if r.MessageType == nil || *r.MessageType == "" {
		return m, chat.ErrEmptyMessageType
	}
	t, err := chat.ParseMessageType(*r.MessageType)
	if err != nil || !t.AllowedFor(d) {
		return m, control.ErrInvalidRequest.WithMessage("messageType %q is not allowed for %s messages", *r.MessageType, d)
	}
	if d == chat.Direct && len(r.AppUserIDs) == 0 {
		return m, chat.ErrEmptyAppUserIDs
	}
	if utf8.RuneCountInString(request.Deref(r.CustomType)) > request.MaxCustomTypeLen {
		return m, control.ErrCustomTypeTooLong
	}
	if err := request.CheckLen("message", request.Deref(r.Message), maxChatMessageLen); err != nil {
		return m, err
	}
	data, err := chatData(r.Data)
	if err != nil {
		return m, err
	}
	receivers, err := chatReceivers(r.AppUserIDs)
	if err != nil {
		return m, err
	}
	return storage.ChatMessage{Delivery: string(d), Type: string(t), CustomType: request.Deref(r.CustomType),
		Message: request.Deref(r.Message), Data: data, Receivers: receivers}, nil
}

// chatData validates "data": absent, null or a JSON object, stored compact.
func chatData(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, control.ErrInvalidRequest.WithMessage("data must be a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, control.ErrInvalidRequest.WithMessage("data: %v", err)
	}
	if b.Len() > maxChatDataBytes {
		return nil, control.ErrInvalidRequest.WithMessage("data exceeds %d bytes", maxChatDataBytes)
	}
	return b.Bytes(), nil
}

// chatReceivers validates appUserIds (each 1..128 characters, at most 100) and
// drops duplicates, keeping the first occurrence.
func chatReceivers(ids []string) ([]string, error) {
	if len(ids) > maxChatReceivers {
		return nil, control.ErrInvalidRequest.WithMessage("appUserIds has more than %d entries", maxChatReceivers)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id == "" || utf8.RuneCountInString(id) > request.MaxAppUserIDLen {
			return nil, control.ErrInvalidRequest.WithMessage("appUserIds entries must be 1..%d characters", request.MaxAppUserIDLen)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// onChatBroadcast is POST .../chat-room/admin/messages/broadcast: 201.
// No appUserIds means every member receives it.
func (h *chatHandlers) onChatBroadcast(ec echo.Context) error {
	return h.sendChatMessage(ec, chat.Broadcast)
}

// onChatDirect is POST .../chat-room/admin/messages/direct: 201.
func (h *chatHandlers) onChatDirect(ec echo.Context) error {
	return h.sendChatMessage(ec, chat.Direct)
}

// sendChatMessage validates and stores an admin message of delivery d.
func (h *chatHandlers) sendChatMessage(ec echo.Context, d chat.Delivery) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	var req sendChatMessageRequest
	if err := request.DecodeBody(ec, &req); err != nil {
		return err
	}
	msg, err := req.validate(d)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	var ref chat.MessageRefJSON
	var ob events.Outbox
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		r, cr, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		if cr.Closed {
			return chat.ErrRoomClosed
		}
		now := h.c.Time().UTC()
		msg.CreatedAt, msg.LastModifiedAt = now, now
		if err := tx.AppendChatMessage(r.ID, &msg); err != nil {
			return fmt.Errorf("append chat message: %w", err)
		}
		ref = chat.MessageRefJSON{VideoKey: control.VideoKey(r.ID), ChannelKey: cr.ChannelKey, MessageID: msg.ID}
		return chat.AddEvent(tx, &ob, events.EventChatMessageSent, &cr, &msg, now)
	})
	if err != nil {
		return err
	}
	ob.Emit(h.c.Events)
	return ec.JSON(http.StatusCreated, ref)
}

// pathMessageID parses :messageId (404 CHAT_ROOM_MESSAGE_NOT_FOUND when not a
// positive integer).
func pathMessageID(ec echo.Context) (uint64, error) {
	id, err := strconv.ParseUint(ec.Param("messageId"), 10, 64)
	if err != nil || id == 0 {
		return 0, chat.ErrMessageNotFound.WithMessage("chat room message %q not found", ec.Param("messageId"))
	}
	return id, nil
}

// chatMessageTx runs fn on message :messageId of the path room's chat room. A
// room without a chat room has no messages: CHAT_ROOM_MESSAGE_NOT_FOUND, the only
// codes the API lists for the message endpoints being that and
// VIDEO_ROOM_NOT_FOUND.
func (h *chatHandlers) chatMessageTx(ec echo.Context, write bool, fn func(*storage.Tx, *storage.ChatRoom, *storage.ChatMessage) error) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	msgID, err := pathMessageID(ec)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	run := h.c.Store.View
	if write {
		run = h.c.Store.Update
	}
	return run(func(tx *storage.Tx) error {
		r, cr, err := chat.Load(tx, appID, id, chat.ErrMessageNotFound)
		if err != nil {
			return err
		}
		m, err := tx.ChatMessage(r.ID, msgID)
		if errors.Is(err, storage.ErrNotFound) {
			return chat.ErrMessageNotFound.WithMessage("chat room message %d not found", msgID)
		}
		if err != nil {
			return fmt.Errorf("read chat message: %w", err)
		}
		return fn(tx, &cr, &m)
	})
}

// onChatMessageGet is GET .../chat-room/messages/{messageId}. Hidden
// messages are returned too (hidden: true): the app moderates them.
func (h *chatHandlers) onChatMessageGet(ec echo.Context) error {
	var view chat.MessageJSON
	err := h.chatMessageTx(ec, false, func(_ *storage.Tx, cr *storage.ChatRoom, m *storage.ChatMessage) error {
		view = chat.NewMessageJSON(cr, m)
		return nil
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, view)
}

// onChatMessageHide is POST .../chat-room/messages/{messageId}/hide: 204,
// also when already hidden.
func (h *chatHandlers) onChatMessageHide(ec echo.Context) error {
	return h.setChatMessageHidden(ec, true)
}

// onChatMessageUnhide is POST .../chat-room/messages/{messageId}/unhide:
// 204, also when not hidden.
func (h *chatHandlers) onChatMessageUnhide(ec echo.Context) error {
	return h.setChatMessageHidden(ec, false)
}

// setChatMessageHidden stores the hidden flag of the path message and, when it
// changed, writes chat.message_hidden or chat.message_unhidden.
func (h *chatHandlers) setChatMessageHidden(ec echo.Context, hidden bool) error {
	var ob events.Outbox
	err := h.chatMessageTx(ec, true, func(tx *storage.Tx, cr *storage.ChatRoom, m *storage.ChatMessage) error {
		ob = events.Outbox{}
		if m.Hidden == hidden {
			return nil
		}
		now := h.c.Time().UTC()
		m.Hidden, m.LastModifiedAt = hidden, now
		if err := tx.PutChatMessage(m); err != nil {
			return err
		}
		name := events.EventChatMessageUnhidden
		if hidden {
			name = events.EventChatMessageHidden
		}
		return chat.AddEvent(tx, &ob, name, cr, m, now)
	})
	if err != nil {
		return err
	}
	ob.Emit(h.c.Events)
	return ec.NoContent(http.StatusNoContent)
}

// onChatMessageDelete is DELETE .../chat-room/messages/{messageId}: 204,
// with a chat.message_deleted event. The ID is never reused.
func (h *chatHandlers) onChatMessageDelete(ec echo.Context) error {
	var ob events.Outbox
	err := h.chatMessageTx(ec, true, func(tx *storage.Tx, cr *storage.ChatRoom, m *storage.ChatMessage) error {
		ob = events.Outbox{}
		if err := tx.DeleteChatMessage(m.RoomID, m.ID); err != nil {
			return err
		}
		return chat.AddEvent(tx, &ob, events.EventChatMessageDeleted, cr, m, h.c.Time().UTC())
	})
	if err != nil {
		return err
	}
	ob.Emit(h.c.Events)
	return ec.NoContent(http.StatusNoContent)
}

// chatMessagesQuery is the validated query of GET .../chat-room/messages.
type chatMessagesQuery struct {
	Page, PageSize int
	Desc           bool
}

// parseChatMessagesQuery validates page (0-based), pageSize (1..100, default 10)
// and sortBy (CREATED_AT_DESC, the default, or CREATED_AT_ASC; messages are never
// reordered by modification).
func parseChatMessagesQuery(ec echo.Context) (chatMessagesQuery, error) {
	q := chatMessagesQuery{PageSize: request.DefaultPageSize, Desc: true}
	var err error
	if v := ec.QueryParam("page"); v != "" {
		if q.Page, err = strconv.Atoi(v); err != nil || q.Page < 0 || q.Page > request.MaxPage {
			return q, control.ErrInvalidRequest.WithMessage("query page: must be an integer 0..%d", request.MaxPage)
		}
	}
	if v := ec.QueryParam("pageSize"); v != "" {
		if q.PageSize, err = strconv.Atoi(v); err != nil || q.PageSize < 1 || q.PageSize > request.MaxPageSize {
			return q, control.ErrInvalidRequest.WithMessage("query pageSize: must be an integer 1..%d", request.MaxPageSize)
		}
	}
	switch s, _ := control.ParseSortBy(ec.QueryParam("sortBy")); s {
	case control.SortByCreatedAtDesc:
	case control.SortByCreatedAtAsc:
		q.Desc = false
	default:
		return q, control.ErrInvalidRequest.WithMessage("query sortBy: messages sort by CREATED_AT_ASC or CREATED_AT_DESC")
	}
	return q, nil
}

// onChatMessagesList is GET .../chat-room/messages (Roomcast; the seed only gets
// one message): a Spring Page of the chat room's messages, hidden ones included,
// newest first by default. A page is one index range of the room.
func (h *chatHandlers) onChatMessagesList(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	q, err := parseChatMessagesQuery(ec)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	var page pageJSON[chat.MessageJSON]
	err = h.c.Store.View(func(tx *storage.Tx) error {
		r, cr, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		views := make([]chat.MessageJSON, 0, q.PageSize)
		total := int(cr.MessageCount)
		if q.Page*q.PageSize < total {
			err = tx.ForEachChatMessage(r.ID, q.Page*q.PageSize, q.Desc,
				func(m storage.ChatMessage) (bool, error) {
					views = append(views, chat.NewMessageJSON(&cr, &m))
					return len(views) < q.PageSize, nil
				})
		}
		page = newPage(views, q.Page, q.PageSize, total)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, page)
}

// Chat message limits (Roomcast's; the seed names none besides customType, which
// follows the Member API's 50 characters).
const (
	maxChatMessageLen = chat.MaxMessageLen // characters of "message" (member messages share it)
	maxChatDataBytes  = 16 * 1024          // compact JSON bytes of "data"
	maxChatReceivers  = 100                // entries of "appUserIds"
)
