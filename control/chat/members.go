package chat

import (
	"errors"
	"fmt"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/storage"
)

// MemberByAppUserID reads member appUserID of appID (404 MEMBER_NOT_FOUND).
func MemberByAppUserID(tx *storage.Tx, appID uint64, appUserID string) (storage.Member, error) {
	m, err := tx.MemberByAppUserID(appID, appUserID)
	if errors.Is(err, storage.ErrNotFound) {
		return m, control.ErrMemberNotFound.WithMessage("member %q not found", appUserID)
	}
	if err != nil {
		return m, fmt.Errorf("read member: %w", err)
	}
	return m, nil
}

// Join adds member m to the chat room of room r inside tx: added is false
// when m was already in it (cm is then the stored membership). Errors:
// CHAT_ROOM_NOT_FOUND, CHAT_ROOM_CLOSED. The Member API join could call it too.
func Join(tx *storage.Tx, r *storage.Room, m storage.Member, now time.Time) (cm storage.ChatMember, added bool, err error) {
	cr, err := tx.ChatRoom(r.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return cm, false, ErrRoomNotFound
	}
	if err != nil {
		return cm, false, fmt.Errorf("read chat room %d: %w", r.ID, err)
	}
	if cr.Closed {
		return cm, false, ErrRoomClosed
	}
	cm = storage.ChatMember{MemberID: m.ID, JoinedAt: now.UTC()}
	added, err = tx.AddChatMember(r.ID, &cm)
	if err != nil {
		return cm, false, fmt.Errorf("add chat member: %w", err)
	}
	return cm, added, nil
}

// Leave removes member m from the chat room of room r inside tx
// (404 CHAT_ROOM_MEMBER_NOT_FOUND when m is not in it).
func Leave(tx *storage.Tx, r *storage.Room, m storage.Member) error {
	err := tx.RemoveChatMember(r.ID, m.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrMemberNotFound.WithMessage("member %q is not in the chat room", m.AppUserID)
	}
	if err != nil {
		return fmt.Errorf("remove chat member: %w", err)
	}
	return nil
}
