package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/storage"
)

// Stop reasons Control itself uses (ingest has its own list: CLIENT_UNPUBLISH,
// IDLE_TIMEOUT, CONNECTION_ERROR, INVALID_MEDIA, KEY_RESET, SERVER_SHUTDOWN).
const StopReasonServerRestart = "SERVER_RESTART"

// PublishStart is the answer to PublishStarted.
type PublishStart struct {
	KeyID uint64
	AppID uint64
	Mode  string // CMAF, RTMP or RTMP_CMAF
	// RoomUUID and SessionNo are set when the key is bound to a room: the publish
	// resumed a LIVE_INACTIVE room, which is LIVE again with session SessionNo.
	RoomUUID  string
	SessionNo int
}

// PublishStarted validates a stream key secret and mode ("" = CMAF) and applies the
// "publish started" transition: key INACTIVE → ACTIVE (preview), or INACTIVE_LIVE →
// ACTIVE_LIVE with its room LIVE_INACTIVE → LIVE and a new session. Errors:
// ErrInvalidMode, ErrStreamKeyNotFound, ErrAlreadyPublishing (the first publisher
// keeps going).
func (c *Control) PublishStarted(ctx context.Context, streamKeySecret, mode string) (PublishStart, error) {
	m, err := ParseMode(mode)
	if err != nil {
		return PublishStart{}, ErrInvalidMode.WithMessage("%v", err)
	}
	if err := ctx.Err(); err != nil {
		return PublishStart{}, err
	}
	var cm committed
	var res PublishStart
	err = c.Store.Update(func(tx *storage.Tx) error {
		cm = committed{ev: eventPublishStarted}
		k, err := tx.StreamKeyBySecret(streamKeySecret)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrStreamKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("look up stream key: %w", err)
		}
		r, cur, err := keyAndRoom(tx, &k)
		if err != nil {
			return err
		}
		out, err := transition(cur, eventPublishStarted)
		if err != nil {
			return err
		}
		k.Mode = string(m)
		k.PublishSeq++
		res = PublishStart{KeyID: k.ID, AppID: k.AppID, Mode: string(m)}
		if err := c.commitTransition(tx, r, &k, out, &cm, ""); err != nil {
			return err
		}
		if r != nil {
			res.RoomUUID, res.SessionNo = r.UUID, r.LastSessionNo
		}
		return nil
	})
	if err != nil {
		return PublishStart{}, err
	}
	c.afterCommit(&cm)
	return res, nil
}

// keyAndRoom reads the room k is bound to (nil when unbound) and the pair's states.
func keyAndRoom(tx *storage.Tx, k *storage.StreamKey) (*storage.Room, states, error) {
	cur := states{Key: streamKeyStateOf(k.Publishing, k.RoomID != 0)}
	if k.RoomID == 0 {
		return nil, cur, nil
	}
	r, err := tx.Room(k.RoomID)
	if err != nil {
		return nil, cur, fmt.Errorf("read room %d of stream key %d: %w", k.RoomID, k.ID, err)
	}
	cur.Room = VideoRoomState(r.VideoRoomState)
	return &r, cur, nil
}

// PublishStopped applies the "publish stopped" transition to key keyID: ACTIVE →
// INACTIVE, or ACTIVE_LIVE → INACTIVE_LIVE with its room LIVE → LIVE_INACTIVE.
// reason is recorded in the stream_key.publish_stopped event. A key that is not
// publishing is left alone (nil error), so a repeated call is harmless.
func (c *Control) PublishStopped(ctx context.Context, keyID uint64, reason string) error {
	var cm committed
	err := c.Store.Update(func(tx *storage.Tx) error {
		cm = committed{ev: eventPublishStopped}
		k, err := tx.StreamKey(keyID)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrStreamKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("read stream key %d: %w", keyID, err)
		}
		r, cur, err := keyAndRoom(tx, &k)
		if err != nil {
			return err
		}
		out, err := transition(cur, eventPublishStopped)
		if err != nil {
			return err
		}
		return c.commitTransition(tx, r, &k, out, &cm, reason)
	})
	if errors.Is(err, errKeyNotPublishing) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish stopped (key %d): %w", keyID, err)
	}
	c.afterCommit(&cm)
	return nil
}

// Recover runs at boot, before ingest listens: every key still marked publishing
// (the process died while streams were up) gets "publish stopped" with reason
// SERVER_RESTART, so its LIVE room becomes LIVE_INACTIVE and can resume or end.
func (c *Control) Recover(ctx context.Context) error {
	var ids []uint64
	err := c.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachPublishingKey(func(k storage.StreamKey) error {
			ids = append(ids, k.ID)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("recover: list publishing keys: %w", err)
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.PublishStopped(ctx, id, StopReasonServerRestart); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
	}
	if len(ids) > 0 {
		c.Log.Info("recovered stream keys left publishing", "count", len(ids))
	}
	return nil
}

// VerifyStreamingToken verifies a viewer's streamingToken without a store read
// (signature, expiry, member token version).
func (c *Control) VerifyStreamingToken(token string) (member.Claims, error) {
	return c.verifyToken(token, member.TokenStreaming)
}

// VerifyAccessToken verifies a member accessToken without a store read (SSE).
func (c *Control) VerifyAccessToken(token string) (member.Claims, error) {
	return c.verifyToken(token, member.TokenAccess)
}

// ErrPlayInactive is what AuthorizePlay returns for a broadcast that may still
// resume with RTMP: the room is LIVE_INACTIVE, or LIVE with a session published
// without RTMP. An RTMP player already playing waits; a new one is refused.
var ErrPlayInactive = fmt.Errorf("%w: waiting for an RTMP publisher", ErrVideoRoomNotLive)

// AuthorizePlay authorizes an RTMP player of /play/{roomUUID}: the token must be a
// streaming token of the room's app and the room LIVE in a mode with RTMP. It
// returns the stream key ID (decimal = the hub StreamID), or ErrPlayInactive (see
// there), or another error when the room cannot be played (ended, deleted, bad
// token).
func (c *Control) AuthorizePlay(ctx context.Context, roomUUID, streamingToken string) (uint64, error) {
	cl, err := c.VerifyStreamingToken(streamingToken)
	if err != nil {
		return 0, err
	}
	r, err := c.roomByUUID(ctx, cl.AppID, roomUUID)
	if err != nil {
		return 0, err
	}
	switch st := VideoRoomState(r.VideoRoomState); {
	case st == VideoRoomStateLiveInactive, st == VideoRoomStateLive && !Mode(r.Mode).hasRTMP():
		return 0, ErrPlayInactive
	case st != VideoRoomStateLive:
		return 0, ErrVideoRoomNotLive
	}
	return r.StreamKeyID, nil
}

// roomByUUID reads a room of appID by UUID (0: any app); deleted → not found.
func (c *Control) roomByUUID(ctx context.Context, appID uint64, roomUUID string) (storage.Room, error) {
	if err := ctx.Err(); err != nil {
		return storage.Room{}, err
	}
	var r storage.Room
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		r, err = tx.RoomByUUID(roomUUID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) || (err == nil && ((appID != 0 && r.AppID != appID) || r.State != "ACTIVE")) {
		return storage.Room{}, ErrVideoRoomNotFound
	}
	if err != nil {
		return storage.Room{}, fmt.Errorf("read room %s: %w", roomUUID, err)
	}
	return r, nil
}

// RoomView is the public summary of a room for the player page.
type RoomView struct {
	ID             uint64
	UUID           string
	AppID          uint64
	Title          string
	Description    string
	Type           VideoRoomType
	VideoRoomState VideoRoomState
	VODState       VODState
	Mode           Mode
	SessionNo      int // the current (or last) live session
	// URLs: the live ones only while LIVE, VODURL once ARCHIVED; "" otherwise.
	PlayURL, CMAFHLSPlayURL, CMAFDASHPlayURL, RTMPPlayURL, VODURL string
	ScheduledAt, LiveStartedAt, LiveEndedAt                       time.Time
}

// Room returns the player-page view of room roomUUID (any app; the page checks the
// viewer's token itself). Unknown or deleted rooms: ErrVideoRoomNotFound.
func (c *Control) Room(ctx context.Context, roomUUID string) (RoomView, error) {
	r, err := c.roomByUUID(ctx, 0, roomUUID)
	if err != nil {
		return RoomView{}, err
	}
	u := c.playURLsOf(&r)
	return RoomView{
		ID: r.ID, UUID: r.UUID, AppID: r.AppID, Title: r.Title, Description: r.Description,
		Type: VideoRoomType(r.Type), VideoRoomState: VideoRoomState(r.VideoRoomState),
		VODState: VODState(r.VODState), Mode: Mode(r.Mode), SessionNo: r.LastSessionNo,
		PlayURL: u.Play, CMAFHLSPlayURL: u.HLS, CMAFDASHPlayURL: u.DASH, RTMPPlayURL: u.RTMP, VODURL: u.VOD,
		ScheduledAt: r.ScheduledAt, LiveStartedAt: r.LiveStartedAt, LiveEndedAt: r.LiveEndedAt,
	}, nil
}

// VODFinished records the end of archiving of an ENDED room: err == nil → ARCHIVED
// with vodUrl and vodArchivedAt (event video_room.vod_archived), otherwise
// FAILED_ARCHIVING (video_room.vod_failed). Called by cmd when the packager finishes.
func (c *Control) VODFinished(ctx context.Context, roomUUID string, archiveErr error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var ob events.Outbox
	err := c.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		r, err := tx.RoomByUUID(roomUUID)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrVideoRoomNotFound
		}
		if err != nil {
			return fmt.Errorf("read room %s: %w", roomUUID, err)
		}
		ev, name := vodEventArchived, events.EventVideoRoomVODArchived
		if archiveErr != nil {
			ev, name = vodEventFailed, events.EventVideoRoomVODFailed
		}
		vod, err := vodTransition(VODState(r.VODState), ev)
		if err != nil {
			return err
		}
		now := c.now().UTC()
		r.VODState, r.LastModifiedAt = string(vod), now
		if vod == VODStateArchived {
			r.VODArchivedAt = now
			r.VODURL = c.PublicHTTPURL + "/vod/" + r.UUID + "/index.m3u8"
		}
		if err := tx.PutRoom(&r); err != nil {
			return fmt.Errorf("put room %d: %w", r.ID, err)
		}
		return c.addRoomEvent(tx, &ob, name, &r, now)
	})
	if err != nil {
		return fmt.Errorf("vod finished (room %s): %w", roomUUID, err)
	}
	if archiveErr != nil {
		c.Log.Warn("vod archiving failed", "uuid", roomUUID, "err", archiveErr)
	}
	ob.Emit(c.Events)
	return nil
}

// capacityPayload is the webhook payload of ingest.concurrency_* events.
type capacityPayload struct {
	Current int `json:"current"`
	Limit   int `json:"limit"`
}

// IngestCapacity records an ingest capacity event (ingest's OnCapacity: event is
// events.EventIngestNearLimit at 80 % or events.EventIngestLimited at 100 % of the publisher
// limit). The event concerns the whole server: its AppID is 0, meaning every app.
// Unknown event names are logged and dropped.
func (c *Control) IngestCapacity(event string, current, limit int) {
	if event != events.EventIngestNearLimit && event != events.EventIngestLimited {
		c.Log.Warn("unknown ingest capacity event", "event", event)
		return
	}
	var ob events.Outbox
	err := c.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		ev := events.Event{Name: event, Time: c.now().UTC()}
		return ob.Append(tx, ev, capacityPayload{Current: current, Limit: limit})
	})
	if err != nil {
		c.Log.Error("record ingest capacity event", "event", event, "err", err)
		return
	}
	c.Log.Warn("ingest capacity", "event", event, "current", current, "limit", limit)
	ob.Emit(c.Events)
}
