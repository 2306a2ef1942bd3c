package control

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/storage"
)

// Member list paging (seed 002: cursor default 0, count default 20).
const (
	defaultChatMemberCount = 20
	maxChatMemberCount     = 100
)

// chatMemberJSON is the MemberSimpleDTO of seed 002.
type chatMemberJSON struct {
	AppUserID            string  `json:"appUserId"`
	AppUserName          *string `json:"appUserName"`
	AppUserProfileImgURL *string `json:"appUserProfileImgUrl"`
	JoinedAt             *string `json:"joinedAt"`
}

// newChatMemberJSON converts a membership and its member.
func newChatMemberJSON(cm *storage.ChatMember, m *storage.Member) chatMemberJSON {
	return chatMemberJSON{AppUserID: m.AppUserID, AppUserName: opt(m.AppUserName),
		AppUserProfileImgURL: opt(m.ProfileImgURL), JoinedAt: optTime(cm.JoinedAt)}
}

// chatMemberListJSON is the answer of GET .../chat-room/members (seed 002).
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
			return 0, 0, ErrInvalidRequest.withMessage("query cursor: must be an integer >= 0")
		}
	}
	if v := ec.QueryParam("count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil || count < 1 || count > maxChatMemberCount {
			return 0, 0, ErrInvalidRequest.withMessage("query count: must be an integer 1..%d", maxChatMemberCount)
		}
	}
	return cursor, count, nil
}

// onChatMembersList is GET /v2/apps/me/video-rooms/{id}/chat-room/members (seed
// 002): members in join order after cursor. nextCursor is the position of the last
// member returned (pass it as the next cursor); an empty content means the end.
// A closed chat room has no members.
func (c *Control) onChatMembersList(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	cursor, count, err := parseChatMemberQuery(ec)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	out := chatMemberListJSON{NextCursor: cursor, Content: make([]chatMemberJSON, 0, min(count, 16))}
	err = c.Store.View(func(tx *storage.Tx) error {
		r, _, err := loadChat(tx, appID, id, ErrChatRoomNotFound)
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
			out.Content = append(out.Content, newChatMemberJSON(&cm, &m))
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
func (c *Control) onChatMembersAdd(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	var req addChatMemberRequest
	if err := decodeBody(ec, &req); err != nil {
		return err
	}
	if req.AppUserID == nil || *req.AppUserID == "" {
		return ErrEmptyMemberUserID
	}
	if err := checkLen("appUserId", *req.AppUserID, maxAppUserIDLen); err != nil {
		return err
	}
	appID := appOf(ec).ID
	var view chatMemberJSON
	added := false
	err = c.Store.Update(func(tx *storage.Tx) error {
		r, _, err := loadChat(tx, appID, id, ErrChatRoomNotFound)
		if err != nil {
			return err
		}
		m, err := chatMemberByAppUserID(tx, appID, *req.AppUserID)
		if err != nil {
			return err
		}
		var cm storage.ChatMember
		if cm, added, err = c.joinChatTx(tx, &r, m, c.now()); err != nil {
			return err
		}
		view = newChatMemberJSON(&cm, &m)
		return nil
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
func (c *Control) onChatMembersRemove(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	appUserID, err := pathAppUserID(ec)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	err = c.Store.Update(func(tx *storage.Tx) error {
		r, _, err := loadChat(tx, appID, id, ErrChatRoomNotFound)
		if err != nil {
			return err
		}
		m, err := chatMemberByAppUserID(tx, appID, appUserID)
		if err != nil {
			return err
		}
		return c.leaveChatTx(tx, &r, m)
	})
	if err != nil {
		return err
	}
	return ec.NoContent(http.StatusNoContent)
}

// chatMemberByAppUserID reads member appUserID of appID (404 MEMBER_NOT_FOUND).
func chatMemberByAppUserID(tx *storage.Tx, appID uint64, appUserID string) (storage.Member, error) {
	m, err := tx.MemberByAppUserID(appID, appUserID)
	if errors.Is(err, storage.ErrNotFound) {
		return m, ErrMemberNotFound.withMessage("member %q not found", appUserID)
	}
	if err != nil {
		return m, fmt.Errorf("read member: %w", err)
	}
	return m, nil
}

// joinChatTx adds member m to the chat room of room r inside tx: added is false
// when m was already in it (cm is then the stored membership). Errors:
// CHAT_ROOM_NOT_FOUND, CHAT_ROOM_CLOSED. The Member API join could call it too.
func (c *Control) joinChatTx(tx *storage.Tx, r *storage.Room, m storage.Member, now time.Time) (cm storage.ChatMember, added bool, err error) {
	cr, err := tx.ChatRoom(r.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return cm, false, ErrChatRoomNotFound
	}
	if err != nil {
		return cm, false, fmt.Errorf("read chat room %d: %w", r.ID, err)
	}
	if cr.Closed {
		return cm, false, ErrChatRoomClosed
	}
	cm = storage.ChatMember{MemberID: m.ID, JoinedAt: now.UTC()}
	added, err = tx.AddChatMember(r.ID, &cm)
	if err != nil {
		return cm, false, fmt.Errorf("add chat member: %w", err)
	}
	return cm, added, nil
}

// leaveChatTx removes member m from the chat room of room r inside tx
// (404 CHAT_ROOM_MEMBER_NOT_FOUND when m is not in it).
func (c *Control) leaveChatTx(tx *storage.Tx, r *storage.Room, m storage.Member) error {
	err := tx.RemoveChatMember(r.ID, m.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrChatRoomMemberNotFound.withMessage("member %q is not in the chat room", m.AppUserID)
	}
	if err != nil {
		return fmt.Errorf("remove chat member: %w", err)
	}
	return nil
}

// ChatMembers returns the IDs of the members of room roomID's chat room (SSE
// fan-out of chat messages, Event.Audience AudienceChat). A room without a chat
// room, or a closed one, has none.
func (c *Control) ChatMembers(roomID uint64) ([]uint64, error) {
	var ids []uint64
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		ids, err = tx.ChatMemberIDs(roomID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chat members of room %d: %w", roomID, err)
	}
	return ids, nil
}
