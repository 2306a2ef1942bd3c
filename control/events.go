package control

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/roomcast/roomcast/storage"
)

// Event names (SPEC §5 Events; vocabulary after seed 003).
const (
	EventVideoRoomLive         = "video_room.live"
	EventVideoRoomLiveInactive = "video_room.live_inactive"
	EventVideoRoomEnded        = "video_room.ended"
	EventVideoRoomCancelled    = "video_room.cancelled"
	EventVideoRoomVODArchived  = "video_room.vod_archived"
	EventVideoRoomVODFailed    = "video_room.vod_failed"
	EventPublishStarted        = "stream_key.publish_started"
	EventPublishStopped        = "stream_key.publish_stopped"
	// Chat events (seed 002 admin messages): sent, hidden, visible again, deleted.
	EventChatMessageSent     = "chat.message_sent"
	EventChatMessageHidden   = "chat.message_hidden"
	EventChatMessageUnhidden = "chat.message_unhidden"
	EventChatMessageDeleted  = "chat.message_deleted"
)

// Audiences of an event's SSE message (Event.Audience).
const (
	// AudienceChannel: the members joined to the room's channel (Member API join).
	AudienceChannel = ""
	// AudienceChat: the members of the room's chat room (ChatMembers).
	AudienceChat = "CHAT"
)

// Emitter receives events after the transaction that wrote them to the outbox
// commits. Emit must not block (queue and return); the outbox keeps every event, so
// an Emitter that drops one can replay it with storage ForEachEventAfter and
// DecodeEvent.
type Emitter interface {
	Emit(Event)
}

// Event is one outbox event: a room transition or a publish start/stop.
type Event struct {
	// ID is unique and stable across retries (webhook header Roomcast-Event-Id).
	ID string `json:"id"`
	// Seq is the outbox sequence (storage.Event.Seq), increasing; the SSE id.
	Seq uint64 `json:"-"`
	// Name is e.g. "video_room.live".
	Name  string `json:"name"`
	AppID uint64 `json:"appId"`
	// RoomID and ChannelID are 0 for events not about a room.
	RoomID    uint64    `json:"roomId"`
	ChannelID uint64    `json:"channelId"`
	Time      time.Time `json:"time"`
	// Message is the seed 000 SSE notification ("VideoRoom State Change Member
	// EventSource API Notification"); nil for events not delivered over SSE.
	Message json.RawMessage `json:"message,omitempty"`
	// Audience is who may receive Message over SSE: AudienceChannel (room
	// transitions) or AudienceChat (chat messages). Membership is read when the
	// message is fanned out or replayed.
	Audience string `json:"audience,omitempty"`
	// Receivers, when not nil, narrows the audience to these member IDs (direct
	// messages, addressed broadcasts); an empty non-nil set reaches nobody over SSE.
	// nil means the whole audience.
	Receivers []uint64 `json:"receivers,omitzero"`
	// Webhook is the webhook body {"id","event","eventTs","payload"} (SPEC §5).
	Webhook json.RawMessage `json:"webhook"`
}

// ForMember reports whether ev's receiver set admits member (true when the event
// has none). Audience membership is checked separately (ChannelMembers,
// ChatMembers).
func (ev *Event) ForMember(member uint64) bool {
	return ev.Receivers == nil || slices.Contains(ev.Receivers, member)
}

// DecodeEvent rebuilds an Event from its outbox record (replay after a restart).
func DecodeEvent(rec storage.Event) (Event, error) {
	var ev Event
	if err := json.Unmarshal(rec.Payload, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event %d: %w", rec.Seq, err)
	}
	ev.Seq = rec.Seq
	return ev, nil
}

// discardEmitter is the default Emitter.
type discardEmitter struct{}

// Emit implements Emitter.
func (discardEmitter) Emit(Event) {}

// sseMessage is the seed 000 SSE notification.
type sseMessage struct {
	MessageID    string         `json:"messageId"`
	SentAt       string         `json:"sentAt"`
	Origin       string         `json:"origin"`
	Type         string         `json:"type"`
	DeliveryType string         `json:"deliveryType"`
	ChannelID    uint64         `json:"channelId"`
	CustomType   string         `json:"customType"`
	CustomData   sseMessageData `json:"customData"`
}

// sseMessageData is the customData of sseMessage.
type sseMessageData struct {
	Type           string  `json:"type"`
	VideoRoomID    string  `json:"videoRoomId"`
	VideoRoomState string  `json:"videoRoomState"`
	VODState       string  `json:"vodState"`
	PlayURL        *string `json:"playUrl"`
	VODURL         *string `json:"vodUrl"`
}

// webhookBody is the webhook JSON {id, event, eventTs, payload}; id is the
// Roomcast-Event-Id header value.
type webhookBody struct {
	ID      string `json:"id"`
	Event   string `json:"event"`
	EventTs int64  `json:"eventTs"` // unix milliseconds
	Payload any    `json:"payload"`
}

// roomEventPayload is the webhook payload of video_room.* events.
type roomEventPayload struct {
	VideoRoom *roomJSON `json:"videoRoom"`
}

// keyEventPayload is the webhook payload of stream_key.* events (never the secret).
type keyEventPayload struct {
	StreamKey   roomKeyJSON `json:"streamKey"`
	MemberID    uint64      `json:"memberId"`
	Mode        string      `json:"mode"`
	VideoRoomID *uint64     `json:"videoRoomId"`
	Reason      string      `json:"reason,omitempty"`
}

// outbox collects the events of one transaction and emits them after commit.
type outbox struct {
	events []Event
}

// roomEvent appends a video_room.* event for room r (as stored after the change).
func (c *Control) addRoomEvent(tx *storage.Tx, ob *outbox, name string, r *storage.Room, now time.Time) error {
	view := c.newRoomJSON(r, c.loadRoomDeps(tx, r, nil))
	msg := sseMessage{
		MessageID: now.UTC().Format(time.RFC3339Nano), SentAt: now.UTC().Format(time.RFC3339Nano),
		Origin: "SYSTEM", Type: "SIGNAL", DeliveryType: "BROADCAST", ChannelID: r.ID,
		CustomType: "CHANGE_DATA_CAPTURE",
		CustomData: sseMessageData{Type: "VIDEO_ROOM", VideoRoomID: strconv.FormatUint(r.ID, 10),
			VideoRoomState: r.VideoRoomState, VODState: r.VODState, PlayURL: view.PlayURL, VODURL: view.VODURL},
	}
	ev := Event{Name: name, AppID: r.AppID, RoomID: r.ID, ChannelID: r.ID, Time: now}
	var err error
	if ev.Message, err = json.Marshal(msg); err != nil {
		return fmt.Errorf("encode event message: %w", err)
	}
	return c.appendEvent(tx, ob, ev, roomEventPayload{VideoRoom: view})
}

// addKeyEvent appends a stream_key.* event for key k.
func (c *Control) addKeyEvent(tx *storage.Tx, ob *outbox, name string, k *storage.StreamKey, reason string, now time.Time) error {
	p := keyEventPayload{
		StreamKey: roomKeyJSON{ID: k.ID, State: "ACTIVE", StreamKeyState: streamKeyStateOf(k.Publishing, k.RoomID != 0)},
		MemberID:  k.MemberID, Mode: k.Mode, Reason: reason,
	}
	ev := Event{Name: name, AppID: k.AppID, Time: now}
	if k.RoomID != 0 {
		id := k.RoomID
		p.VideoRoomID = &id
		ev.RoomID, ev.ChannelID = id, id
	}
	return c.appendEvent(tx, ob, ev, p)
}

// appendEvent completes ev, writes it to the outbox and queues it for emission.
func (c *Control) appendEvent(tx *storage.Tx, ob *outbox, ev Event, payload any) error {
	ev.ID = uuid.NewString()
	wh, err := json.Marshal(webhookBody{ID: ev.ID, Event: ev.Name, EventTs: ev.Time.UnixMilli(), Payload: payload})
	if err != nil {
		return fmt.Errorf("encode webhook: %w", err)
	}
	ev.Webhook = wh
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	rec := storage.Event{AppID: ev.AppID, RoomID: ev.RoomID, Name: ev.Name, Payload: raw, CreatedAt: ev.Time}
	if err := tx.AppendEvent(&rec); err != nil {
		return fmt.Errorf("append event %s: %w", ev.Name, err)
	}
	ev.Seq = rec.Seq
	ob.events = append(ob.events, ev)
	return nil
}

// emit hands the committed events to the Emitter, in order.
func (c *Control) emit(ob *outbox) {
	for _, ev := range ob.events {
		c.Events.Emit(ev)
	}
}

// roomEventName is the event of a room entering state s.
func roomEventName(s VideoRoomState) string {
	switch s {
	case VideoRoomStateLive:
		return EventVideoRoomLive
	case VideoRoomStateLiveInactive:
		return EventVideoRoomLiveInactive
	case VideoRoomStateEnded:
		return EventVideoRoomEnded
	case VideoRoomStateCancelled:
		return EventVideoRoomCancelled
	}
	return ""
}
