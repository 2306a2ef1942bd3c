package chat

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/storage"
)

// Chat API errors. Seed 002 defines CHAT_ROOM_NOT_FOUND, CHAT_ROOM_ALREADY_EXISTS,
// CHAT_ROOM_MESSAGE_NOT_FOUND, EMPTY_CHAT_ROOM_MESSAGE_TYPE and
// EMPTY_CHAT_ROOM_APP_USER_IDS; CHAT_ROOM_CLOSED and CHAT_ROOM_MEMBER_NOT_FOUND are
// Roomcast's (the seed is silent on writes to a closed chat room and has no
// member removal).
var (
	ErrRoomNotFound      = control.NewAPIError(http.StatusNotFound, "CHAT_ROOM_NOT_FOUND", "chat room not created for the video room")
	ErrRoomAlreadyExists = control.NewAPIError(http.StatusBadRequest, "CHAT_ROOM_ALREADY_EXISTS", "a chat room for the video room already exists")
	ErrMessageNotFound   = control.NewAPIError(http.StatusNotFound, "CHAT_ROOM_MESSAGE_NOT_FOUND", "chat room message not found")
	ErrEmptyMessageType  = control.NewAPIError(http.StatusBadRequest, "EMPTY_CHAT_ROOM_MESSAGE_TYPE", "messageType is required")
	ErrEmptyAppUserIDs   = control.NewAPIError(http.StatusBadRequest, "EMPTY_CHAT_ROOM_APP_USER_IDS", "appUserIds is required")
	ErrRoomClosed        = control.NewAPIError(http.StatusBadRequest, "CHAT_ROOM_CLOSED", "the chat room is closed")
	ErrMemberNotFound    = control.NewAPIError(http.StatusNotFound, "CHAT_ROOM_MEMBER_NOT_FOUND", "the member is not in the chat room")
)

// Moderation errors of a member's message (Moderator.Moderate), Roomcast's:
// the seed names forbidden words but no codes. The forbidden-word refusal does
// not name the word: the sender knows what they wrote, and the list stays the
// app's (nobody learns it by probing the error text).
var (
	ErrMessageForbiddenWord = control.NewAPIError(http.StatusBadRequest, "CHAT_MESSAGE_FORBIDDEN_WORD", "the message contains a forbidden word")
	ErrMessageTooLong       = control.NewAPIError(http.StatusBadRequest, "CHAT_MESSAGE_TOO_LONG", "the message exceeds the length limit")
	ErrMemberMuted          = control.NewAPIError(http.StatusForbidden, "CHAT_MEMBER_MUTED", "the member is muted in this chat room")
	ErrRateLimited          = control.NewAPIError(http.StatusTooManyRequests, "CHAT_RATE_LIMITED", "too many messages; slow down")
)

// Load reads the path room of appID (VIDEO_ROOM_NOT_FOUND for unknown,
// deleted and other apps' rooms) and its chat room; missing is the error for a
// room without one.
func Load(tx *storage.Tx, appID, roomID uint64, missing control.APIError) (storage.Room, storage.ChatRoom, error) {
	r, err := control.LoadRoom(tx, appID, roomID)
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
