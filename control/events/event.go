package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// Event names. Room transitions, publish start/stop, VOD archiving, ingest
// capacity and admin chat messages.
const (
	EventVideoRoomLive         = "video_room.live"
	EventVideoRoomLiveInactive = "video_room.live_inactive"
	EventVideoRoomEnded        = "video_room.ended"
	EventVideoRoomCancelled    = "video_room.cancelled"
	EventVideoRoomVODArchived  = "video_room.vod_archived"
	EventVideoRoomVODFailed    = "video_room.vod_failed"
	EventPublishStarted        = "stream_key.publish_started"
	EventPublishStopped        = "stream_key.publish_stopped"
	// Ingest capacity: 80 % and 100 % of the publisher limit. These events concern
	// the whole server: their AppID is 0, meaning every app.
	EventIngestNearLimit = string(publish.CapacityNearLimit)
	EventIngestLimited   = string(publish.CapacityLimited)
	// Chat events (admin messages): sent, hidden, visible again, deleted.
	EventChatMessageSent     = "chat.message_sent"
	EventChatMessageHidden   = "chat.message_hidden"
	EventChatMessageUnhidden = "chat.message_unhidden"
	EventChatMessageDeleted  = "chat.message_deleted"
	// Chat moderation: a member muted (again, e.g. with a new end) or unmuted in a
	// chat room by the app.
	EventChatMemberMuted   = "chat.member_muted"
	EventChatMemberUnmuted = "chat.member_unmuted"
	// Stream health warnings (publish.HealthWarning) of a publish, raised and
	// resolved: HealthEventName.
	EventHealthKeyframeInterval         = "stream_health.keyframe_interval_high"
	EventHealthKeyframeIntervalResolved = "stream_health.keyframe_interval_high_resolved"
	EventHealthBitrateLow               = "stream_health.bitrate_low"
	EventHealthBitrateLowResolved       = "stream_health.bitrate_low_resolved"
	EventHealthFrameRateDrop            = "stream_health.frame_rate_drop"
	EventHealthFrameRateDropResolved    = "stream_health.frame_rate_drop_resolved"
	EventHealthIngestLag                = "stream_health.ingest_lag_high"
	EventHealthIngestLagResolved        = "stream_health.ingest_lag_high_resolved"
)

// HealthEventName is the event of health warning w being raised
// ("stream_health.<w>") or resolved ("stream_health.<w>_resolved").
func HealthEventName(w publish.HealthWarning, resolved bool) string {
	if resolved {
		return "stream_health." + string(w) + "_resolved"
	}
	return "stream_health." + string(w)
}

// known are the event names a webhook may subscribe to.
var known = map[string]bool{
	EventVideoRoomLive: true, EventVideoRoomLiveInactive: true, EventVideoRoomEnded: true,
	EventVideoRoomCancelled: true, EventVideoRoomVODArchived: true, EventVideoRoomVODFailed: true,
	EventPublishStarted: true, EventPublishStopped: true,
	EventIngestNearLimit: true, EventIngestLimited: true,
	EventChatMessageSent: true, EventChatMessageHidden: true, EventChatMessageUnhidden: true,
	EventChatMessageDeleted: true, EventChatMemberMuted: true, EventChatMemberUnmuted: true,
	EventHealthKeyframeInterval: true, EventHealthKeyframeIntervalResolved: true,
	EventHealthBitrateLow: true, EventHealthBitrateLowResolved: true,
	EventHealthFrameRateDrop: true, EventHealthFrameRateDropResolved: true,
	EventHealthIngestLag: true, EventHealthIngestLagResolved: true,
}

// Known reports whether name is an event name a webhook may subscribe to.
func Known(name string) bool { return known[name] }

// Audiences of an event's SSE message (Event.Audience).
const (
	// AudienceChannel: the members joined to the room's channel (Member API join).
	AudienceChannel = ""
	// AudienceChat: the members of the room's chat room (ChatDirectory).
	AudienceChat = "CHAT"
	// AudienceReceivers: exactly the members of Event.Receivers, joined to
	// anything or not (stream health warnings go to the room's owner).
	AudienceReceivers = "RECEIVERS"
)

// Emitter receives events after the transaction that wrote them to the outbox
// commits. Emit must not block (queue and return); the outbox keeps every event, so
// an Emitter that drops one can replay it with storage ForEachEventAfter and
// DecodeEvent. Broker implements it.
type Emitter interface {
	Emit(Event)
}

// Waker is implemented by an Emitter that delivers webhooks (Broker): Wake makes
// it look at pending deliveries now, e.g. after a manual redelivery. It must not
// block.
type Waker interface {
	Wake()
}

// Discard is the Emitter that drops every event (they stay in the outbox).
type Discard struct{}

// Emit implements Emitter.
func (Discard) Emit(Event) {}

// Event is one outbox event: a room transition, a publish start/stop, a chat
// change or an ingest capacity warning.
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
	// Message is the member SSE notification (RoomSignal, ChatMessage or
	// ChatSignal, encoded); nil for events not delivered over SSE.
	Message json.RawMessage `json:"message,omitempty"`
	// Audience is who may receive Message over SSE: AudienceChannel (room
	// transitions), AudienceChat (chat messages) or AudienceReceivers (health
	// warnings). Membership is read when the
	// message is fanned out or replayed.
	Audience string `json:"audience,omitempty"`
	// Receivers, when not nil, narrows the audience to these member IDs (direct
	// messages, addressed broadcasts); an empty non-nil set reaches nobody over SSE.
	// nil means the whole audience.
	Receivers []uint64 `json:"receivers,omitzero"`
	// Webhook is the webhook body {"id","event","eventTs","payload"}.
	Webhook json.RawMessage `json:"webhook"`
}

// ForMember reports whether ev's receiver set admits member (true when the event
// has none). Audience membership is checked separately (ChannelDirectory,
// ChatDirectory).
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

// webhookBody is the webhook JSON {id, event, eventTs, payload}; id is the
// Roomcast-Event-Id header value.
type webhookBody struct {
	ID      string `json:"id"`
	Event   string `json:"event"`
	EventTs int64  `json:"eventTs"` // unix milliseconds
	Payload any    `json:"payload"`
}

// Outbox collects the events written by one transaction and emits them after it
// commits. The zero value is ready; reset it at the start of each Update attempt.
type Outbox struct {
	events []Event
}

// Append completes ev (ID, Webhook with payload, Seq), writes it to the outbox of
// tx and keeps it for Emit.
func (o *Outbox) Append(tx *storage.Tx, ev Event, payload any) error {
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
	o.events = append(o.events, ev)
	return nil
}

// Events returns the events appended so far, in order.
func (o *Outbox) Events() []Event { return o.events }

// Emit hands the committed events to e, in order. Call it after the commit only.
func (o *Outbox) Emit(e Emitter) {
	for _, ev := range o.events {
		e.Emit(ev)
	}
}
