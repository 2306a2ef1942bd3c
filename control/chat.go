package control

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/storage"
)

// Chat API errors. Seed 002 defines CHAT_ROOM_NOT_FOUND, CHAT_ROOM_ALREADY_EXISTS,
// CHAT_ROOM_MESSAGE_NOT_FOUND, EMPTY_CHAT_ROOM_MESSAGE_TYPE and
// EMPTY_CHAT_ROOM_APP_USER_IDS; CHAT_ROOM_CLOSED and CHAT_ROOM_MEMBER_NOT_FOUND are
// Roomcast's (the seed is silent on writes to a closed chat room and has no
// member removal).
var (
	ErrChatRoomNotFound         = apiError{http.StatusNotFound, "CHAT_ROOM_NOT_FOUND", "chat room not created for the video room"}
	ErrChatRoomAlreadyExists    = apiError{http.StatusBadRequest, "CHAT_ROOM_ALREADY_EXISTS", "a chat room for the video room already exists"}
	ErrChatRoomMessageNotFound  = apiError{http.StatusNotFound, "CHAT_ROOM_MESSAGE_NOT_FOUND", "chat room message not found"}
	ErrEmptyChatRoomMessageType = apiError{http.StatusBadRequest, "EMPTY_CHAT_ROOM_MESSAGE_TYPE", "messageType is required"}
	ErrEmptyChatRoomAppUserIDs  = apiError{http.StatusBadRequest, "EMPTY_CHAT_ROOM_APP_USER_IDS", "appUserIds is required"}
	ErrChatRoomClosed           = apiError{http.StatusBadRequest, "CHAT_ROOM_CLOSED", "the chat room is closed"}
	ErrChatRoomMemberNotFound   = apiError{http.StatusNotFound, "CHAT_ROOM_MEMBER_NOT_FOUND", "the member is not in the chat room"}
)

// chatRoomJSON is the ChatRoom of seed 002.
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
		VideoKey: videoKey(cr.RoomID), ChannelKey: cr.ChannelKey,
		TotalChatMessageCount: cr.MessageCount, TotalChatMemberCount: cr.MemberCount,
		Closed: cr.Closed, CreatedAt: optTime(cr.CreatedAt),
	}
}

// videoKey is the seed's videoKey of a room: its ID as a string.
func videoKey(roomID uint64) string { return strconv.FormatUint(roomID, 10) }

// loadChat reads the path room of appID (VIDEO_ROOM_NOT_FOUND for unknown,
// deleted and other apps' rooms) and its chat room; missing is the error for a
// room without one.
func loadChat(tx *storage.Tx, appID, roomID uint64, missing apiError) (storage.Room, storage.ChatRoom, error) {
	r, err := loadRoom(tx, appID, roomID)
	if err != nil {
		return r, storage.ChatRoom{}, err
	}
	cr, err := tx.ChatRoom(r.ID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && cr.AppID != appID) {
		return r, cr, missing
	}
	if err != nil {
		return r, cr, fmt.Errorf("read chat room %d: %w", r.ID, err)
	}
	return r, cr, nil
}

// onChatRoomCreate is POST /v2/apps/me/video-rooms/{id}/chat-room (seed 002):
// 200 with the new chat room; 400 CHAT_ROOM_ALREADY_EXISTS when the room has one
// (open or closed). The body is empty (any JSON object is accepted and ignored).
func (c *Control) onChatRoomCreate(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	var ignored struct{}
	if err := decodeOptionalBody(ec, &ignored); err != nil {
		return err
	}
	appID := appOf(ec).ID
	var cr storage.ChatRoom
	err = c.Store.Update(func(tx *storage.Tx) error {
		r, err := loadRoom(tx, appID, id)
		if err != nil {
			return err
		}
		cr = storage.ChatRoom{RoomID: r.ID, AppID: appID, ChannelKey: uuid.NewString(), CreatedAt: c.now().UTC()}
		err = tx.CreateChatRoom(&cr)
		if errors.Is(err, storage.ErrConflict) {
			return ErrChatRoomAlreadyExists
		}
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, newChatRoomJSON(&cr))
}

// onChatRoomGet is GET /v2/apps/me/video-rooms/{id}/chat-room (seed 002).
func (c *Control) onChatRoomGet(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	var cr storage.ChatRoom
	err = c.Store.View(func(tx *storage.Tx) error {
		var err error
		_, cr, err = loadChat(tx, appOf(ec).ID, id, ErrChatRoomNotFound)
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, newChatRoomJSON(&cr))
}

// onChatRoomClose is POST /v2/apps/me/video-rooms/{id}/chat-room/close (seed 002):
// 200 with closed: true. Members leave (the member list is "only available until
// the chat room is closed"); messages stay readable and moderatable; new messages
// and members are refused with CHAT_ROOM_CLOSED. Closing again answers 200.
func (c *Control) onChatRoomClose(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	var ignored struct{}
	if err := decodeOptionalBody(ec, &ignored); err != nil {
		return err
	}
	appID := appOf(ec).ID
	var cr storage.ChatRoom
	err = c.Store.Update(func(tx *storage.Tx) error {
		r, _, err := loadChat(tx, appID, id, ErrChatRoomNotFound)
		if err != nil {
			return err
		}
		cr, err = tx.SetChatRoomClosed(r.ID, c.now())
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, newChatRoomJSON(&cr))
}
