package api

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/storage"
)

// onAppVideoRoomsStart is POST /v2/apps/me/video-rooms/{id}/rtmp-broadcast/state/live.
func (h *roomHandlers) onAppVideoRoomsStart(ec echo.Context) error {
	return h.appRoomAction(ec, control.EventStart)
}

// endRequest is the optional body of the App API's end: {"force": true} ends a
// LIVE room too, disconnecting its publisher (KICKED).
type endRequest struct {
	Force *bool `json:"force"`
}

// onAppVideoRoomsEnd is POST /v2/apps/me/video-rooms/{id}/rtmp-broadcast/state/ended.
// Without force (the seeds' semantics) the room must be LIVE_INACTIVE.
func (h *roomHandlers) onAppVideoRoomsEnd(ec echo.Context) error {
	var req endRequest
	if err := request.DecodeOptionalBody(ec, &req); err != nil {
		return err
	}
	if req.Force != nil && *req.Force {
		return h.appRoomAction(ec, control.EventForceEnd)
	}
	return h.appRoomAction(ec, control.EventEnd)
}

// onAppVideoRoomsCancel is POST /v2/apps/me/video-rooms/{id}/rtmp-broadcast/state/cancelled.
func (h *roomHandlers) onAppVideoRoomsCancel(ec echo.Context) error {
	return h.appRoomAction(ec, control.EventCancel)
}

// onMemberVideoRoomsStart is POST /v2/members/me/video-rooms/{id}/start (owner only).
func (h *roomHandlers) onMemberVideoRoomsStart(ec echo.Context) error {
	return h.memberRoomAction(ec, control.EventStart)
}

// onMemberVideoRoomsEnd is POST /v2/members/me/video-rooms/{id}/end (owner only).
func (h *roomHandlers) onMemberVideoRoomsEnd(ec echo.Context) error {
	return h.memberRoomAction(ec, control.EventEnd)
}

// onMemberVideoRoomsCancel is POST /v2/members/me/video-rooms/{id}/cancel (owner only).
func (h *roomHandlers) onMemberVideoRoomsCancel(ec echo.Context) error {
	return h.memberRoomAction(ec, control.EventCancel)
}

// appRoomAction runs ev on the path's room for the App API.
func (h *roomHandlers) appRoomAction(ec echo.Context, ev control.RoomEvent) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	view, err := h.c.RoomAction(ec.Request().Context(), appOf(ec).ID, id, 0, ev)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, view)
}

// memberRoomAction runs ev on the path's room for its owner (Member API).
func (h *roomHandlers) memberRoomAction(ec echo.Context, ev control.RoomEvent) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	cl := claimsOf(ec)
	view, err := h.c.RoomAction(ec.Request().Context(), cl.AppID, id, cl.MemberID, ev)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, view)
}

// joinRequest is the optional body of POST .../join.
type joinRequest struct {
	Password *string `json:"password"`
}

// onMemberVideoRoomsJoin is POST /v2/members/me/video-rooms/{id}/join: the member
// joins the room's channel (and so receives its events over SSE) and, when the
// room has an open chat room, the chat room too (and so receives its messages;
// joining again keeps the first joinedAt). A room with a password needs
// {"password": "..."}.
func (h *roomHandlers) onMemberVideoRoomsJoin(ec echo.Context) error {
	var req joinRequest
	if err := request.DecodeOptionalBody(ec, &req); err != nil {
		return err
	}
	return h.channelChange(ec, true, func(r *storage.Room, ids []uint64, me uint64) ([]uint64, error) {
		if len(r.PasswordHash) > 0 {
			got := control.PasswordHash(r.UUID, request.Deref(req.Password))
			if subtle.ConstantTimeCompare(got, r.PasswordHash) != 1 {
				return nil, control.ErrVideoRoomPasswordMismatch
			}
		}
		if slices.Contains(ids, me) {
			return ids, nil
		}
		return append(ids, me), nil
	})
}

// onMemberVideoRoomsLeave is POST /v2/members/me/video-rooms/{id}/leave: the
// member leaves the room's channel and its chat room (however it joined it).
// Leaving what one is not in is not an error.
func (h *roomHandlers) onMemberVideoRoomsLeave(ec echo.Context) error {
	return h.channelChange(ec, false, func(_ *storage.Room, ids []uint64, me uint64) ([]uint64, error) {
		return slices.DeleteFunc(ids, func(id uint64) bool { return id == me }), nil
	})
}

// channelChange edits the member list of the path room's channel, joins (join) or
// leaves the room's chat room in the same transaction, and answers with the room.
func (h *roomHandlers) channelChange(ec echo.Context, join bool, edit func(*storage.Room, []uint64, uint64) ([]uint64, error)) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	cl := claimsOf(ec)
	var view *control.RoomJSON
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		r, err := control.LoadRoom(tx, cl.AppID, id)
		if err != nil {
			return err
		}
		ids, err := control.ChannelMembersOf(tx, r.ID)
		if err != nil {
			return err
		}
		if ids, err = edit(&r, ids, cl.MemberID); err != nil {
			return err
		}
		if err := control.PutChannelMembers(tx, r.ID, ids); err != nil {
			return err
		}
		if err := h.followChat(tx, &r, cl, join); err != nil {
			return err
		}
		view = h.c.NewRoomJSON(&r, h.c.LoadRoomDeps(tx, &r, nil))
		return nil
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, view)
}

// followChat makes the member of cl join (or leave) the chat room of r along with
// its channel. No chat room, a closed one (join) or no membership (leave) is
// nothing to do: the video room join never fails because of its chat.
func (h *roomHandlers) followChat(tx *storage.Tx, r *storage.Room, cl member.Claims, join bool) error {
	m, err := tx.Member(cl.AppID, cl.MemberID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // a member deleted since its token was issued: no chat to follow
	}
	if err != nil {
		return fmt.Errorf("read member %d: %w", cl.MemberID, err)
	}
	if join {
		_, _, err = chat.Join(tx, r, m, h.c.Time())
	} else {
		err = chat.Leave(tx, r, m)
	}
	if errors.Is(err, chat.ErrRoomNotFound) || errors.Is(err, chat.ErrRoomClosed) || errors.Is(err, chat.ErrMemberNotFound) {
		return nil
	}
	return err
}
