package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// Mutes (App API …/chat-room/members/{appUserId}/mute and /unmute):
//
//   - A mute belongs to (chat room, member), not to a membership: it survives
//     leaving and joining again, and a member may be muted before joining.
//   - Without a duration it lasts until unmuted; with one it ends by itself at
//     mutedUntil (no event then: nothing happens at that instant).
//   - Each mute (also re-muting with a new end) writes chat.member_muted, an unmute
//     of a muted member chat.member_unmuted; unmuting a member who is not muted
//     writes nothing. Over SSE only the member concerned is told (other members
//     do not learn who is muted); the webhook carries every one.

// MuteView is a member's mute state in a chat room, as the App API shows it.
type MuteView struct {
	AppUserID  string  `json:"appUserId"`
	Muted      bool    `json:"muted"`
	MutedAt    *string `json:"mutedAt"`
	MutedUntil *string `json:"mutedUntil"`
}

// NewMuteView is the state of member appUserID given its mute (nil: none) at now.
func NewMuteView(appUserID string, mute *storage.ChatMute, now time.Time) MuteView {
	v := MuteView{AppUserID: appUserID}
	if mute != nil && mute.Active(now) {
		v.Muted, v.MutedAt, v.MutedUntil = true, control.OptTime(mute.MutedAt), control.OptTime(mute.Until)
	}
	return v
}

// MuteOf returns the mute of member memberID in chat room roomID, nil when there
// is none or it has ended at now.
func MuteOf(tx *storage.Tx, roomID, memberID uint64, now time.Time) (*storage.ChatMute, error) {
	m, err := tx.ChatMute(roomID, memberID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !m.Active(now)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read chat mute: %w", err)
	}
	return &m, nil
}

// Mute mutes member m in chat room cr from now for d (0: until unmuted) and
// appends chat.member_muted to ob.
func Mute(tx *storage.Tx, ob *events.Outbox, cr *storage.ChatRoom, m storage.Member, d time.Duration, now time.Time) (storage.ChatMute, error) {
	now = now.UTC()
	mute := storage.ChatMute{RoomID: cr.RoomID, MemberID: m.ID, MutedAt: now}
	if d > 0 {
		mute.Until = now.Add(d)
	}
	if err := tx.PutChatMute(&mute); err != nil {
		return mute, fmt.Errorf("put chat mute: %w", err)
	}
	return mute, addMuteEvent(tx, ob, events.EventChatMemberMuted, cr, m, &mute, now)
}

// Unmute lifts the mute of member m in chat room cr. An active mute is removed
// with chat.member_unmuted appended to ob; an ended one is removed silently; none
// is nothing to do.
func Unmute(tx *storage.Tx, ob *events.Outbox, cr *storage.ChatRoom, m storage.Member, now time.Time) error {
	active, err := MuteOf(tx, cr.RoomID, m.ID, now)
	if err != nil {
		return err
	}
	if _, err := tx.DeleteChatMute(cr.RoomID, m.ID); err != nil {
		return fmt.Errorf("delete chat mute: %w", err)
	}
	if active == nil {
		return nil
	}
	return addMuteEvent(tx, ob, events.EventChatMemberUnmuted, cr, m, nil, now.UTC())
}

// muteEventPayload is the webhook payload of chat.member_muted and
// chat.member_unmuted.
type muteEventPayload struct {
	VideoRoomID uint64   `json:"videoRoomId"`
	ChannelKey  string   `json:"channelKey"`
	Mute        MuteView `json:"mute"`
}

// addMuteEvent appends a mute event (mute nil: unmuted) for member m.
func addMuteEvent(tx *storage.Tx, ob *events.Outbox, name string, cr *storage.ChatRoom, m storage.Member, mute *storage.ChatMute, now time.Time) error {
	view := NewMuteView(m.AppUserID, mute, now)
	stamp := now.Format(time.RFC3339Nano)
	msg, err := json.Marshal(events.ChatMemberSignal{MessageID: stamp, SentAt: stamp, Origin: "SYSTEM",
		Type: "SIGNAL", DeliveryType: "DIRECT", ChannelID: cr.RoomID, CustomType: "CHANGE_DATA_CAPTURE",
		CustomData: events.ChatMemberSignalData{Type: "CHAT_MEMBER", VideoRoomID: control.VideoKey(cr.RoomID),
			ChannelKey: cr.ChannelKey, AppUserID: m.AppUserID, Muted: view.Muted, MutedUntil: view.MutedUntil}})
	if err != nil {
		return fmt.Errorf("encode chat member signal: %w", err)
	}
	ev := events.Event{Name: name, AppID: cr.AppID, RoomID: cr.RoomID, ChannelID: cr.RoomID, Time: now,
		Audience: events.AudienceChat, Receivers: []uint64{m.ID}, Message: msg}
	return ob.Append(tx, ev, muteEventPayload{VideoRoomID: cr.RoomID, ChannelKey: cr.ChannelKey, Mute: view})
}
