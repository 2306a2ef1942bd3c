package control

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// roomEventPayload is the webhook payload of video_room.* events.
type roomEventPayload struct {
	VideoRoom *RoomJSON `json:"videoRoom"`
	// Reason is why the room ended (video_room.ended only).
	Reason EndReason `json:"reason,omitempty"`
}

// keyEventPayload is the webhook payload of stream_key.* events (never the secret).
type keyEventPayload struct {
	StreamKey   roomKeyJSON `json:"streamKey"`
	MemberID    uint64      `json:"memberId"`
	Mode        string      `json:"mode"`
	VideoRoomID *uint64     `json:"videoRoomId"`
	Reason      string      `json:"reason,omitempty"`
}

// addRoomEvent appends a video_room.* event for room r (as stored after the
// change); why is the reason of an end ("" otherwise).
func (c *Control) addRoomEvent(tx *storage.Tx, ob *events.Outbox, name string, r *storage.Room, why EndReason, now time.Time) error {
	view := c.NewRoomJSON(r, c.LoadRoomDeps(tx, r, nil))
	msg := events.RoomSignal{
		MessageID: now.UTC().Format(time.RFC3339Nano), SentAt: now.UTC().Format(time.RFC3339Nano),
		Origin: "SYSTEM", Type: "SIGNAL", DeliveryType: "BROADCAST", ChannelID: r.ID,
		CustomType: "CHANGE_DATA_CAPTURE",
		CustomData: events.RoomSignalData{Type: "VIDEO_ROOM", VideoRoomID: strconv.FormatUint(r.ID, 10),
			VideoRoomState: r.VideoRoomState, VODState: r.VODState, PlayURL: view.PlayURL, VODURL: view.VODURL},
	}
	ev := events.Event{Name: name, AppID: r.AppID, RoomID: r.ID, ChannelID: r.ID, Time: now}
	var err error
	if ev.Message, err = json.Marshal(msg); err != nil {
		return fmt.Errorf("encode event message: %w", err)
	}
	return ob.Append(tx, ev, roomEventPayload{VideoRoom: view, Reason: why})
}

// addKeyEvent appends a stream_key.* event for key k.
func addKeyEvent(tx *storage.Tx, ob *events.Outbox, name string, k *storage.StreamKey, reason string, now time.Time) error {
	p := keyEventPayload{
		StreamKey: roomKeyJSON{ID: k.ID, State: StateActive, StreamKeyState: streamKeyStateOf(k.Publishing, k.RoomID != 0)},
		MemberID:  k.MemberID, Mode: k.Mode, Reason: reason,
	}
	ev := events.Event{Name: name, AppID: k.AppID, Time: now}
	if k.RoomID != 0 {
		id := k.RoomID
		p.VideoRoomID = &id
		ev.RoomID, ev.ChannelID = id, id
	}
	return ob.Append(tx, ev, p)
}

// roomEventName is the event of a room entering state s.
func roomEventName(s VideoRoomState) string {
	switch s {
	case VideoRoomStateLive:
		return events.EventVideoRoomLive
	case VideoRoomStateLiveInactive:
		return events.EventVideoRoomLiveInactive
	case VideoRoomStateEnded:
		return events.EventVideoRoomEnded
	case VideoRoomStateCancelled:
		return events.EventVideoRoomCancelled
	}
	return ""
}
