package api

import (
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/storage"
)

// chatRoomJSON is the ChatRoom.
type chatRoomJSON struct {
	VideoKey              string  `json:"videoKey"`
	ChannelKey            string  `json:"channelKey"`
	TotalChatMessageCount uint64  `json:"totalChatMessageCount"`
	TotalChatMemberCount  uint64  `json:"totalChatMemberCount"`
	Closed                bool    `json:"closed"`
	CreatedAt             *string `json:"createdAt"`
}

// newChatRoomJSON converts a chat room record.
func newChatRoomJSON(cr *storage.ChatRoom) chatRoomJSON {
	return chatRoomJSON{
		VideoKey: control.VideoKey(cr.RoomID), ChannelKey: cr.ChannelKey,
		TotalChatMessageCount: cr.MessageCount, TotalChatMemberCount: cr.MemberCount,
		Closed: cr.Closed, CreatedAt: control.OptTime(cr.CreatedAt),
	}
}

// onChatRoomCreate is POST /v2/apps/me/video-rooms/{id}/chat-room:
// 200 with the new chat room; 400 CHAT_ROOM_ALREADY_EXISTS when the room has one
// (open or closed). The body is empty or {} (server.go noBody).
func (h *chatHandlers) onChatRoomCreate(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	var cr storage.ChatRoom
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		r, err := control.LoadRoom(tx, appID, id)
		if err != nil {
			return err
		}
		cr = storage.ChatRoom{RoomID: r.ID, AppID: appID, ChannelKey: uuid.NewString(), CreatedAt: h.c.Time().UTC()}
		err = tx.CreateChatRoom(&cr)
		if errors.Is(err, storage.ErrConflict) {
			return chat.ErrRoomAlreadyExists
		}
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, newChatRoomJSON(&cr))
}

// onChatRoomGet is GET /v2/apps/me/video-rooms/{id}/chat-room.
func (h *chatHandlers) onChatRoomGet(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	var cr storage.ChatRoom
	err = h.c.Store.View(func(tx *storage.Tx) error {
		var err error
		_, cr, err = chat.Load(tx, appOf(ec).ID, id, chat.ErrRoomNotFound)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, newChatRoomJSON(&cr))
}

// onChatRoomClose is POST /v2/apps/me/video-rooms/{id}/chat-room/close:
// 200 with closed: true. Members leave (the member list is "only available until
// the chat room is closed"); messages stay readable and moderatable; new messages
// and members are refused with CHAT_ROOM_CLOSED. Closing again answers 200.
func (h *chatHandlers) onChatRoomClose(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	var cr storage.ChatRoom
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		r, _, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		cr, err = tx.SetChatRoomClosed(r.ID, h.c.Time())
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, newChatRoomJSON(&cr))
}
