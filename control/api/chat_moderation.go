package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// forbiddenWordsJSON is the body and answer of …/chat-room/forbidden-words.
type forbiddenWordsJSON struct {
	ForbiddenWords []string `json:"forbiddenWords"`
}

// onChatForbiddenWordsGet is GET …/chat-room/forbidden-words: the list in its
// stored (normalised) form, [] when none.
func (h *chatHandlers) onChatForbiddenWordsGet(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	out := forbiddenWordsJSON{ForbiddenWords: []string{}}
	err = h.c.Store.View(func(tx *storage.Tx) error {
		r, _, err := chat.Load(tx, appOf(ec).ID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		fw, err := tx.ChatForbiddenWords(r.ID)
		if len(fw.Words) > 0 {
			out.ForbiddenWords = fw.Words
		}
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, out)
}

// onChatForbiddenWordsPut is PUT …/chat-room/forbidden-words: replaces the list
// (also of a closed chat room) and answers it as stored. Member messages are
// checked against the new list from the next message on.
func (h *chatHandlers) onChatForbiddenWordsPut(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	var req request.ForbiddenWords
	if err := request.DecodeBody(ec, &req); err != nil {
		return err
	}
	words, err := req.Validate()
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		r, _, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		_, err = tx.SetChatForbiddenWords(r.ID, words, h.c.Time())
		return err
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, forbiddenWordsJSON{ForbiddenWords: words})
}

// onChatMemberMute is POST …/chat-room/members/{appUserId}/mute with an
// optional {"seconds": N}: 200 with the mute. The member need not be in the chat
// room (the mute waits for it); unknown members are 404 MEMBER_NOT_FOUND.
func (h *chatHandlers) onChatMemberMute(ec echo.Context) error {
	var req request.Mute
	if err := request.DecodeOptionalBody(ec, &req); err != nil {
		return err
	}
	d, err := req.Validate()
	if err != nil {
		return err
	}
	return h.muteTx(ec, func(tx *storage.Tx, ob *events.Outbox, cr *storage.ChatRoom, m storage.Member) (chat.MuteView, error) {
		now := h.c.Time()
		mute, err := chat.Mute(tx, ob, cr, m, d, now)
		return chat.NewMuteView(m.AppUserID, &mute, now), err
	})
}

// onChatMemberUnmute is POST …/chat-room/members/{appUserId}/unmute: 200 with
// muted false, also when the member was not muted.
func (h *chatHandlers) onChatMemberUnmute(ec echo.Context) error {
	return h.muteTx(ec, func(tx *storage.Tx, ob *events.Outbox, cr *storage.ChatRoom, m storage.Member) (chat.MuteView, error) {
		now := h.c.Time()
		return chat.NewMuteView(m.AppUserID, nil, now), chat.Unmute(tx, ob, cr, m, now)
	})
}

// muteTx runs fn on the path room's chat room and member in one write
// transaction, then emits its events and answers its view.
func (h *chatHandlers) muteTx(ec echo.Context, fn func(*storage.Tx, *events.Outbox, *storage.ChatRoom, storage.Member) (chat.MuteView, error)) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	appUserID, err := request.PathAppUserID(ec)
	if err != nil {
		return err
	}
	appID := appOf(ec).ID
	var ob events.Outbox
	var view chat.MuteView
	err = h.c.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		_, cr, err := chat.Load(tx, appID, id, chat.ErrRoomNotFound)
		if err != nil {
			return err
		}
		m, err := chat.MemberByAppUserID(tx, appID, appUserID)
		if err != nil {
			return err
		}
		view, err = fn(tx, &ob, &cr, m)
		return err
	})
	if err != nil {
		return err
	}
	ob.Emit(h.c.Events)
	return ec.JSON(http.StatusOK, view)
}
