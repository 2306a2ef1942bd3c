package control

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/storage"
)

// onAppVideoRoomsStart is POST /v2/apps/me/video-rooms/{id}/rtmp-broadcast/state/live.
func (c *Control) onAppVideoRoomsStart(ec echo.Context) error {
	return c.appRoomAction(ec, eventStart)
}

// onAppVideoRoomsEnd is POST /v2/apps/me/video-rooms/{id}/rtmp-broadcast/state/ended.
func (c *Control) onAppVideoRoomsEnd(ec echo.Context) error {
	return c.appRoomAction(ec, eventEnd)
}

// onAppVideoRoomsCancel is POST /v2/apps/me/video-rooms/{id}/rtmp-broadcast/state/cancelled.
func (c *Control) onAppVideoRoomsCancel(ec echo.Context) error {
	return c.appRoomAction(ec, eventCancel)
}

// onMemberVideoRoomsStart is POST /v2/members/me/video-rooms/{id}/start (owner only).
func (c *Control) onMemberVideoRoomsStart(ec echo.Context) error {
	return c.memberRoomAction(ec, eventStart)
}

// onMemberVideoRoomsEnd is POST /v2/members/me/video-rooms/{id}/end (owner only).
func (c *Control) onMemberVideoRoomsEnd(ec echo.Context) error {
	return c.memberRoomAction(ec, eventEnd)
}

// onMemberVideoRoomsCancel is POST /v2/members/me/video-rooms/{id}/cancel (owner only).
func (c *Control) onMemberVideoRoomsCancel(ec echo.Context) error {
	return c.memberRoomAction(ec, eventCancel)
}

// appRoomAction runs ev on the path's room for the App API.
func (c *Control) appRoomAction(ec echo.Context, ev roomEvent) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	view, err := c.roomAction(ec.Request().Context(), appOf(ec).ID, id, 0, ev)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, view)
}

// memberRoomAction runs ev on the path's room for its owner (Member API).
func (c *Control) memberRoomAction(ec echo.Context, ev roomEvent) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	cl := claimsOf(ec)
	view, err := c.roomAction(ec.Request().Context(), cl.AppID, id, cl.MemberID, ev)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, view)
}

// joinRequest is the optional body of POST .../join.
type joinRequest struct {
	Password *string `json:"password"`
}

// metaChannelMembers is the meta key prefix of a room channel's member list
// ("control.channel.<roomID>" → JSON array of member IDs).
const metaChannelMembers = "control.channel."

// onMemberVideoRoomsJoin is POST /v2/members/me/video-rooms/{id}/join: the member
// joins the room's channel (and so receives its events over SSE) and, when the
// room has an open chat room, the chat room too (and so receives its messages;
// joining again keeps the first joinedAt). A room with a password needs
// {"password": "..."}.
func (c *Control) onMemberVideoRoomsJoin(ec echo.Context) error {
	var req joinRequest
	if err := decodeOptionalBody(ec, &req); err != nil {
		return err
	}
	return c.channelChange(ec, true, func(r *storage.Room, ids []uint64, me uint64) ([]uint64, error) {
		if len(r.PasswordHash) > 0 {
			got := passwordHash(r.UUID, deref(req.Password))
			if subtle.ConstantTimeCompare(got, r.PasswordHash) != 1 {
				return nil, ErrVideoRoomPasswordMismatch
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
func (c *Control) onMemberVideoRoomsLeave(ec echo.Context) error {
	return c.channelChange(ec, false, func(_ *storage.Room, ids []uint64, me uint64) ([]uint64, error) {
		return slices.DeleteFunc(ids, func(id uint64) bool { return id == me }), nil
	})
}

// channelChange edits the member list of the path room's channel, joins (join) or
// leaves the room's chat room in the same transaction, and answers with the room.
func (c *Control) channelChange(ec echo.Context, join bool, edit func(*storage.Room, []uint64, uint64) ([]uint64, error)) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	cl := claimsOf(ec)
	var view *roomJSON
	err = c.Store.Update(func(tx *storage.Tx) error {
		r, err := loadRoom(tx, cl.AppID, id)
		if err != nil {
			return err
		}
		ids, err := channelMembers(tx, r.ID)
		if err != nil {
			return err
		}
		if ids, err = edit(&r, ids, cl.MemberID); err != nil {
			return err
		}
		raw, err := json.Marshal(ids)
		if err != nil {
			return fmt.Errorf("encode channel members: %w", err)
		}
		if err := tx.PutMeta(metaChannelMembers+strconv.FormatUint(r.ID, 10), raw); err != nil {
			return err
		}
		if err := c.followChat(tx, &r, cl, join); err != nil {
			return err
		}
		view = c.newRoomJSON(&r, c.loadRoomDeps(tx, &r, nil))
		return nil
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, view)
}

// channelMembers reads the member IDs joined to room roomID's channel.
func channelMembers(tx *storage.Tx, roomID uint64) ([]uint64, error) {
	raw := tx.GetMeta(metaChannelMembers + strconv.FormatUint(roomID, 10))
	if raw == nil {
		return []uint64{}, nil
	}
	var ids []uint64
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, fmt.Errorf("decode channel members of room %d: %w", roomID, err)
	}
	return ids, nil
}

// ChannelMembers returns the IDs of the members joined to the channel of room
// roomID (SSE delivery). Unknown rooms have none.
func (c *Control) ChannelMembers(roomID uint64) ([]uint64, error) {
	var ids []uint64
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		ids, err = channelMembers(tx, roomID)
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	return ids, nil
}

// followChat makes the member of cl join (or leave) the chat room of r along with
// its channel. No chat room, a closed one (join) or no membership (leave) is
// nothing to do: the video room join never fails because of its chat.
func (c *Control) followChat(tx *storage.Tx, r *storage.Room, cl TokenClaims, join bool) error {
	m, err := tx.Member(cl.AppID, cl.MemberID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // a member deleted since its token was issued: no chat to follow
	}
	if err != nil {
		return fmt.Errorf("read member %d: %w", cl.MemberID, err)
	}
	if join {
		_, _, err = c.joinChatTx(tx, r, m, c.now())
	} else {
		err = c.leaveChatTx(tx, r, m)
	}
	if errors.Is(err, ErrChatRoomNotFound) || errors.Is(err, ErrChatRoomClosed) || errors.Is(err, ErrChatRoomMemberNotFound) {
		return nil
	}
	return err
}
