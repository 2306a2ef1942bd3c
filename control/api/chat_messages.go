package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

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

// draft is the request as a chat.Draft ("" for an absent messageType).
func (r *sendChatMessageRequest) draft() chat.Draft {
	return chat.Draft{Type: request.Deref(r.MessageType), CustomType: r.CustomType, Message: r.Message,
		Data: r.Data, AppUserIDs: r.AppUserIDs}
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
	draft := req.draft()
	msg, err := draft.Validate(d)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	var ref chat.MessageRefJSON
	var ob events.Outbox
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		_, cr, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		if err := chat.Send(tx, &ob, &cr, &msg, h.c.Time()); err != nil {
			return err
		}
		ref = chat.MessageRefJSON{VideoKey: control.VideoKey(cr.RoomID), ChannelKey: cr.ChannelKey, MessageID: msg.ID}
		return nil
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
