package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/storage"
)

// Member list paging (cursor default 0, count default 20).
const (
	defaultChatMemberCount = 20
	maxChatMemberCount     = 100
)

// chatMemberJSON is the MemberSimpleDTO.
type chatMemberJSON struct {
	AppUserID            string  `json:"appUserId"`
	AppUserName          *string `json:"appUserName"`
	AppUserProfileImgURL *string `json:"appUserProfileImgUrl"`
	JoinedAt             *string `json:"joinedAt"`
	// Muted and MutedUntil are Roomcast's: an active mute (null: until unmuted).
	Muted      bool    `json:"muted"`
	MutedUntil *string `json:"mutedUntil"`
}

// newChatMemberJSON converts a membership and its member, whose mute is mute
// (nil: not muted).
func newChatMemberJSON(cm *storage.ChatMember, m *storage.Member, mute *storage.ChatMute) chatMemberJSON {
	j := chatMemberJSON{AppUserID: m.AppUserID, AppUserName: control.Opt(m.AppUserName),
		AppUserProfileImgURL: control.Opt(m.ProfileImgURL), JoinedAt: control.OptTime(cm.JoinedAt)}
	if mute != nil {
		j.Muted, j.MutedUntil = true, control.OptTime(mute.Until)
	}
	return j
}

// chatMemberListJSON is the answer of GET .../chat-room/members.
type chatMemberListJSON struct {
	NextCursor uint64           `json:"nextCursor"`
	Count      int              `json:"count"`
	Content    []chatMemberJSON `json:"content"`
}

// parseChatMemberQuery validates cursor (≥ 0, default 0) and count (1..100,
// default 20).
func parseChatMemberQuery(ec echo.Context) (cursor uint64, count int, err error) {
	count = defaultChatMemberCount
	if v := ec.QueryParam("cursor"); v != "" {
		if cursor, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, control.ErrInvalidRequest.WithMessage("query cursor: must be an integer >= 0")
		}
	}
	if v := ec.QueryParam("count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil || count < 1 || count > maxChatMemberCount {
			return 0, 0, control.ErrInvalidRequest.WithMessage("query count: must be an integer 1..%d", maxChatMemberCount)
		}
	}
	return cursor, count, nil
}

// onChatMembersList is GET /v2/apps/me/video-rooms/{id}/chat-room/members
// 002): members in join order after cursor. nextCursor is the position of the last
// member returned (pass it as the next cursor); an empty content means the end.
// A closed chat room has no members.
func (h *chatHandlers) onChatMembersList(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	cursor, count, err := parseChatMemberQuery(ec)
	if err != nil {
		return err
	}
	appID, now := appOf(ec).ID, h.c.Time()
	out := chatMemberListJSON{NextCursor: cursor, Content: make([]chatMemberJSON, 0, min(count, 16))}
	err = h.c.Store.View(func(tx *storage.Tx) error {
		r, _, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		return tx.ForEachChatMember(r.ID, cursor, func(cm storage.ChatMember) (bool, error) {
			out.NextCursor = cm.JoinSeq
			m, err := tx.Member(appID, cm.MemberID)
			if errors.Is(err, storage.ErrNotFound) {
				return true, nil
			}
			if err != nil {
				return false, fmt.Errorf("read member %d: %w", cm.MemberID, err)
			}
			mute, err := chat.MuteOf(tx, r.ID, cm.MemberID, now)
			if err != nil {
				return false, err
			}
			out.Content = append(out.Content, newChatMemberJSON(&cm, &m, mute))
			return len(out.Content) < count, nil
		})
	})
	if err != nil {
		return err
	}
	out.Count = len(out.Content)
	return ec.JSON(http.StatusOK, out)
}

// addChatMemberRequest is the body of POST .../chat-room/members (Roomcast: the
// seed's members join over its chat WebSocket, which Roomcast does not have).
type addChatMemberRequest struct {
	AppUserID *string `json:"appUserId"`
}

// onChatMembersAdd is POST /v2/apps/me/video-rooms/{id}/chat-room/members: the
// member joins the chat room (201), or is already in it (200, joinedAt unchanged).
func (h *chatHandlers) onChatMembersAdd(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	var req addChatMemberRequest
	if err := request.DecodeBody(ec, &req); err != nil {
		return err
	}
	if req.AppUserID == nil || *req.AppUserID == "" {
		return control.ErrEmptyMemberUserID
	}
	if err := request.CheckLen("appUserId", *req.AppUserID, request.MaxAppUserIDLen); err != nil {
		return err
	}
	appID := appOf(ec).ID
	var view chatMemberJSON
	added := false
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		r, _, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		m, err := chat.MemberByAppUserID(tx, appID, *req.AppUserID)
		if err != nil {
			return err
		}
		now := h.c.Time()
		var cm storage.ChatMember
		if cm, added, err = chat.Join(tx, &r, m, now); err != nil {
			return err
		}
		mute, err := chat.MuteOf(tx, r.ID, m.ID, now)
		view = newChatMemberJSON(&cm, &m, mute)
		return err
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
	}
	return ec.JSON(status, view)
}

// onChatMembersRemove is DELETE
// /v2/apps/me/video-rooms/{id}/chat-room/members/{appUserId}: 204.
func (h *chatHandlers) onChatMembersRemove(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	appUserID, err := request.PathAppUserID(ec)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		r, _, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		m, err := chat.MemberByAppUserID(tx, appID, appUserID)
		if err != nil {
			return err
		}
		return chat.Leave(tx, &r, m)
	})
	if err != nil {
		return err
	}
	return ec.NoContent(http.StatusNoContent)
}
