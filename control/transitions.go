package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// SessionInfo describes a live session that just began (OnSessionLive).
type SessionInfo struct {
	KeyID     uint64
	AppID     uint64
	RoomID    uint64
	RoomUUID  string
	SessionNo int
	Mode      publish.Mode
	StartedAt time.Time
	// Node is the ID of the node ingesting the session (Control.NodeID of the
	// node where its key's publish started).
	Node string
}

// EndReason says why a room ended; it is the "reason" of the video_room.ended event.
type EndReason string

// End reasons.
const (
	EndRequested   EndReason = "REQUESTED"    // the end call, on a LIVE_INACTIVE room
	EndForced      EndReason = "FORCED"       // the end call with force: the publisher was disconnected
	EndAutoEnd     EndReason = "AUTO_END"     // autoEnd.inactiveSeconds passed in LIVE_INACTIVE
	EndMaxDuration EndReason = "MAX_DURATION" // autoCloseConfig's duration or the server's maximum
)

// committed is what a transaction hands to the after-commit step.
type committed struct {
	ob      events.Outbox
	room    storage.Room // zero when no room was involved
	out     outcome
	ev      RoomEvent
	why     EndReason // of an end
	keyID   uint64
	view    *RoomJSON
	changed bool // the room's state changed
	// kick is the stop reason to disconnect keyID's publisher with after commit
	// (a forced end of a LIVE room); "" for none.
	kick publish.StopReason
}

// LoadRoom reads room id of app appID; deleted rooms and other apps' rooms are
// VIDEO_ROOM_NOT_FOUND.
func LoadRoom(tx *storage.Tx, appID, id uint64) (storage.Room, error) {
	r, err := tx.Room(id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (r.AppID != appID || r.State != storage.RoomActive)) {
		return storage.Room{}, ErrVideoRoomNotFound.WithMessage("video room %d not found", id)
	}
	if err != nil {
		return storage.Room{}, fmt.Errorf("read room %d: %w", id, err)
	}
	return r, nil
}

// RoomAction applies an API event (start, end, force end, cancel) to room roomID
// of appID. memberID != 0 restricts it to the room's owner (Member API).
// Concurrent actions on one room: one runs, the others get ErrRequestLocked. A
// force end disconnects the room's publisher (KICKED) after the commit.
func (c *Control) RoomAction(ctx context.Context, appID, roomID, memberID uint64, ev RoomEvent) (*RoomJSON, error) {
	why := EndRequested
	if ev == EventForceEnd {
		why = EndForced
	}
	return c.roomAction(ctx, appID, roomID, memberID, ev, why)
}

// roomAction is RoomAction with the reason of an end.
func (c *Control) roomAction(ctx context.Context, appID, roomID, memberID uint64, ev RoomEvent, why EndReason) (*RoomJSON, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	unlock, err := c.lockRoom(ctx, roomID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var cm committed
	err = c.Store.Update(func(tx *storage.Tx) error {
		cm = committed{ev: ev, why: why}
		return c.roomActionTx(tx, appID, roomID, memberID, &cm)
	})
	if errors.Is(err, errInconsistent) {
		c.Log.Error("room transition refused", "room", roomID, "event", ev, "err", err)
		return nil, ErrMediaServiceFailure
	}
	if err != nil {
		return nil, err
	}
	c.afterCommit(&cm)
	return cm.view, nil
}

// roomActionTx is the transaction of roomAction.
func (c *Control) roomActionTx(tx *storage.Tx, appID, roomID, memberID uint64, cm *committed) error {
	r, err := LoadRoom(tx, appID, roomID)
	if err != nil {
		return err
	}
	if memberID != 0 && r.MemberID != memberID {
		return ErrVideoRoomNotOwned
	}
	if VideoRoomType(r.Type) != VideoRoomTypeBroadcastRTMP {
		return ErrVideoRoomTypeNotBroadcast
	}
	var key *storage.StreamKey
	if k, err := tx.StreamKey(r.StreamKeyID); err == nil {
		key = &k
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("read stream key %d: %w", r.StreamKeyID, err)
	} else if cm.ev != EventCancel {
		return ErrStreamKeyNotFound
	}
	cur := states{Room: VideoRoomState(r.VideoRoomState), Key: StreamKeyStateInactive}
	if key != nil {
		cur.Key = streamKeyStateOf(key.Publishing, key.RoomID != 0)
	}
	out, err := transition(cur, cm.ev)
	if err != nil {
		return err
	}
	if (cm.ev == EventEnd || cm.ev == EventForceEnd) && key.RoomID != r.ID {
		return ErrStreamKeyStateNotInactLive
	}
	if cm.ev == EventForceEnd && out.Key == StreamKeyStateActive {
		cm.kick = publish.StopKicked
		if cm.why == EndMaxDuration {
			cm.kick = publish.StopMaxDuration
		}
	}
	return c.commitTransition(tx, &r, key, out, cm, "")
}

// commitTransition writes the outcome of ev to room r (nil: no room) and key k (nil:
// no key), appends the events and fills cm.
func (c *Control) commitTransition(tx *storage.Tx, r *storage.Room, k *storage.StreamKey, out outcome, cm *committed, reason string) error {
	now := c.now().UTC()
	cm.out = out
	if k != nil && cm.ev != EventCancel {
		applyKey(k, r, out, now)
		if err := tx.PutStreamKey(k); err != nil {
			return fmt.Errorf("put stream key %d: %w", k.ID, err)
		}
		cm.keyID = k.ID
		name := map[RoomEvent]string{eventPublishStarted: events.EventPublishStarted, eventPublishStopped: events.EventPublishStopped}[cm.ev]
		if name != "" {
			if err := addKeyEvent(tx, &cm.ob, name, k, reason, now); err != nil {
				return err
			}
		}
	}
	if r == nil || out.Room == VideoRoomState(r.VideoRoomState) {
		return nil
	}
	if err := applyRoom(r, k, cm.ev, out, now); err != nil {
		return err
	}
	c.keepPeakViewers(r, out.Room)
	if err := tx.PutRoom(r); err != nil {
		return fmt.Errorf("put room %d: %w", r.ID, err)
	}
	cm.room, cm.changed = *r, true
	var why EndReason
	if out.Room == VideoRoomStateEnded {
		why = cm.why
	}
	if err := c.addRoomEvent(tx, &cm.ob, roomEventName(out.Room), r, why, now); err != nil {
		return err
	}
	cm.view = c.NewRoomJSON(r, c.LoadRoomDeps(tx, r, nil))
	return nil
}

// applyKey writes the new key state to k.
func applyKey(k *storage.StreamKey, r *storage.Room, out outcome, now time.Time) {
	k.Publishing = out.Key.publishing()
	switch {
	case !out.Key.bound():
		k.RoomID = 0
	case r != nil:
		k.RoomID = r.ID
	}
	k.UpdatedAt = now
}

// applyRoom writes the new room state to r.
func applyRoom(r *storage.Room, k *storage.StreamKey, ev RoomEvent, out outcome, now time.Time) error {
	r.VideoRoomState = string(out.Room)
	r.LastModifiedAt = now
	switch {
	case ev == EventStart:
		r.LiveStartedAt = now
	case ev == EventCancel:
		r.CancelledAt = now
	case ev == EventEnd || ev == EventForceEnd:
		r.LiveEndedAt = now
		r.InactiveSince = time.Time{}
		if n := len(r.Sessions); n > 0 && r.Sessions[n-1].EndedAt.IsZero() {
			r.Sessions[n-1].EndedAt = now // a forced end of a LIVE room
		}
		vod, err := vodTransition(VODState(r.VODState), vodEventEnded)
		if err != nil {
			return err
		}
		r.VODState = string(vod)
	case ev == eventPublishStopped && out.Room == VideoRoomStateLiveInactive:
		r.InactiveSince = now
		if n := len(r.Sessions); n > 0 {
			r.Sessions[n-1].EndedAt = now
		}
	}
	if out.NewSession {
		r.LastSessionNo++
		s := storage.Session{No: r.LastSessionNo, StartedAt: now}
		r.InactiveSince = time.Time{}
		if k != nil {
			r.Mode = k.Mode
			s.HTTPURL, s.RTMPURL, s.Node = k.NodeHTTPURL, k.NodeRTMPURL, k.Node
		}
		r.Sessions = append(r.Sessions, s)
	}
	return nil
}

// afterCommit emits the events and calls the hooks, outside any lock of ours.
func (c *Control) afterCommit(cm *committed) {
	cm.ob.Emit(c.Events)
	if !cm.changed {
		return
	}
	r := &cm.room
	c.Log.Info("video room transition", "room", r.ID, "uuid", r.UUID, "event", cm.ev,
		"videoRoomState", r.VideoRoomState, "sessionNo", r.LastSessionNo)
	c.armLiveTimers(r)
	switch VideoRoomState(r.VideoRoomState) {
	case VideoRoomStateLive:
		if cm.out.NewSession && c.OnSessionLive != nil {
			c.OnSessionLive(SessionInfo{KeyID: r.StreamKeyID, AppID: r.AppID, RoomID: r.ID, RoomUUID: r.UUID,
				SessionNo: r.LastSessionNo, Mode: publish.Mode(r.Mode), StartedAt: r.Sessions[len(r.Sessions)-1].StartedAt,
				Node: r.Sessions[len(r.Sessions)-1].Node})
		}
	case VideoRoomStateEnded:
		if cm.kick != "" {
			c.KickPublisher(cm.keyID, cm.kick)
		}
		if c.OnRoomEnded != nil {
			c.OnRoomEnded(r.UUID)
		}
	}
}

// KickPublisher disconnects the publisher of stream key keyID with reason
// (OnKick); the ingest then reports the stop, which applies "publish stopped"
// with that reason. A key marked publishing that no connection here holds gets
// "publish stopped" at once, so it is never left publishing.
func (c *Control) KickPublisher(keyID uint64, reason publish.StopReason) {
	if c.OnKick != nil && c.OnKick(keyID, reason) {
		return
	}
	if err := c.PublishStopped(context.Background(), keyID, reason.String()); err != nil {
		c.Log.Error("stop a publish nobody holds", "key", keyID, "reason", reason, "err", err)
	}
}
