package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// healthEventPayload is the webhook payload of stream_health.* events.
type healthEventPayload struct {
	VideoRoomID *uint64 `json:"videoRoomId"`
	StreamKeyID uint64  `json:"streamKeyId"`
	MemberID    uint64  `json:"memberId"`
	Warning     string  `json:"warning"`
	Resolved    bool    `json:"resolved"`
	// Cause is RECOVERED or PUBLISH_STOPPED for a resolved warning, else null.
	Cause     *string        `json:"cause"`
	Value     float64        `json:"value"`
	Threshold float64        `json:"threshold"`
	Health    publish.Health `json:"health"`
}

// StreamHealthChanged records health warnings raised or resolved (ingest's
// OnHealth) as stream_health.* events, all in one transaction: a webhook to the
// key's app (and the room's webhook when the key publishes into a room) and an
// SSE message to the key's owner. Changes of keys that no longer exist are
// dropped.
func (c *Control) StreamHealthChanged(changes []publish.HealthChange) {
	var ob events.Outbox
	err := c.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		now := c.now().UTC()
		for i := range changes {
			if err := c.addHealthEvent(tx, &ob, &changes[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.Log.Error("record stream health events", "changes", len(changes), "err", err)
		return
	}
	ob.Emit(c.Events)
}

// addHealthEvent appends the event of one health change.
func (c *Control) addHealthEvent(tx *storage.Tx, ob *events.Outbox, ch *publish.HealthChange, now time.Time) error {
	k, err := tx.StreamKey(uint64(ch.StreamID))
	if errors.Is(err, storage.ErrNotFound) {
		c.Log.Warn("stream health of an unknown stream key", "key", ch.StreamID, "warning", ch.Warning)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stream key %d: %w", ch.StreamID, err)
	}
	name := events.HealthEventName(ch.Warning, ch.Resolved)
	p := healthEventPayload{StreamKeyID: k.ID, MemberID: k.MemberID, Warning: string(ch.Warning),
		Resolved: ch.Resolved, Value: ch.Value, Threshold: ch.Threshold, Health: ch.Health}
	sig := events.HealthSignalData{Type: "STREAM_HEALTH", Event: name, StreamKeyID: strconv.FormatUint(k.ID, 10),
		Warning: string(ch.Warning), Resolved: ch.Resolved, Value: ch.Value, Threshold: ch.Threshold}
	if ch.Resolved {
		cause := string(ch.Cause)
		p.Cause, sig.Cause = &cause, &cause
	}
	ev := events.Event{Name: name, AppID: k.AppID, Time: now, Audience: events.AudienceReceivers,
		Receivers: []uint64{k.MemberID}}
	if k.RoomID != 0 {
		id := k.RoomID
		room := strconv.FormatUint(id, 10)
		p.VideoRoomID, sig.VideoRoomID = &id, &room
		ev.RoomID, ev.ChannelID = id, id
	}
	msg := events.HealthSignal{MessageID: now.Format(time.RFC3339Nano), SentAt: now.Format(time.RFC3339Nano),
		Origin: "SYSTEM", Type: "SIGNAL", DeliveryType: "DIRECT", ChannelID: ev.ChannelID,
		CustomType: "STREAM_HEALTH", CustomData: sig}
	if ev.Message, err = json.Marshal(msg); err != nil {
		return fmt.Errorf("encode event message: %w", err)
	}
	return ob.Append(tx, ev, p)
}

// RoomHealthJSON is the answer of GET /video-rooms/{id}/health: the room's
// ingest health now and its last 5 minutes, one sample a second, oldest first
// (empty while its key does not publish into it).
type RoomHealthJSON struct {
	VideoRoomID    uint64                 `json:"videoRoomId"`
	VideoRoomState string                 `json:"videoRoomState"`
	StreamKeyID    *uint64                `json:"streamKeyId"`
	Ingest         *publish.Health        `json:"ingest"`
	History        []publish.HealthSample `json:"history"`
}

// RoomHealth returns the ingest health of room roomID of appID.
func (c *Control) RoomHealth(ctx context.Context, appID, roomID uint64) (*RoomHealthJSON, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var r storage.Room
	var key *storage.StreamKey
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		if r, err = LoadRoom(tx, appID, roomID); err != nil {
			return err
		}
		if r.StreamKeyID != 0 {
			if k, err := tx.StreamKey(r.StreamKeyID); err == nil {
				key = &k
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	j := &RoomHealthJSON{VideoRoomID: r.ID, VideoRoomState: r.VideoRoomState, History: []publish.HealthSample{}}
	if key == nil {
		return j, nil
	}
	j.StreamKeyID = &key.ID
	if key.Publishing && key.RoomID == r.ID {
		j.Ingest = c.Live.IngestHealth(key.ID)
		j.History = append(j.History, c.Live.IngestHistory(key.ID)...)
	}
	return j, nil
}
