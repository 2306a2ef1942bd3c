package control

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// Two deadlines end rooms by themselves, both kept in the room record so that
// they survive restarts (rearmTimers re-arms them at Initialize):
//   - autoEnd: a room left LIVE_INACTIVE for autoEnd.inactiveSeconds ends
//     (InactiveSince + AutoEndSeconds).
//   - the maximum live duration: a room that first went LIVE longer ago than its
//     autoCloseConfig duration (or the server's MaxLiveDuration) is ended with
//     force, its publisher disconnected (LiveStartedAt + the limit).

// roomTimers holds one timer per room that calls fire when it is due. Close stops
// them and waits for running callbacks.
type roomTimers struct {
	fire   func(appID, roomID uint64)
	mu     sync.Mutex
	closed bool
	timers map[uint64]*time.Timer
	wg     sync.WaitGroup
}

func (a *roomTimers) init(fire func(appID, roomID uint64)) {
	a.fire = fire
	a.timers = map[uint64]*time.Timer{}
}

// arm (re)starts the timer of room roomID.
func (a *roomTimers) arm(appID, roomID uint64, d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.stopLocked(roomID)
	a.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer a.wg.Done()
		a.mu.Lock()
		if a.timers[roomID] == t {
			delete(a.timers, roomID)
		}
		a.mu.Unlock()
		a.fire(appID, roomID)
	})
	a.timers[roomID] = t
}

// disarm stops the timer of room roomID, if any.
func (a *roomTimers) disarm(roomID uint64) {
	a.mu.Lock()
	a.stopLocked(roomID)
	a.mu.Unlock()
}

// stopLocked stops and forgets the timer of roomID; a.mu is held.
func (a *roomTimers) stopLocked(roomID uint64) {
	if t := a.timers[roomID]; t != nil {
		if t.Stop() {
			a.wg.Done()
		}
		delete(a.timers, roomID)
	}
}

// close stops every timer and waits for callbacks that already started.
func (a *roomTimers) close() {
	a.mu.Lock()
	a.closed = true
	for id := range a.timers {
		a.stopLocked(id)
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// autoEndRoom ends a room whose autoEnd came due; a room that resumed or ended
// meanwhile is left alone.
func (c *Control) autoEndRoom(appID, roomID uint64) {
	c.timerAction(appID, roomID, EventEnd, EndAutoEnd)
}

// maxLiveEndRoom ends a room that reached its maximum live duration, with force:
// its publisher, if any, is disconnected (MAX_DURATION).
func (c *Control) maxLiveEndRoom(appID, roomID uint64) {
	c.timerAction(appID, roomID, EventForceEnd, EndMaxDuration)
}

// timerAction runs ev for a timer. A busy room (another API call holds its lock)
// is retried shortly, so a deadline is never lost to a concurrent request.
func (c *Control) timerAction(appID, roomID uint64, ev RoomEvent, why EndReason) {
	_, err := c.roomAction(context.Background(), appID, roomID, 0, ev, why)
	switch {
	case err == nil:
		c.Log.Info("video room ended by its deadline", "room", roomID, "reason", why)
	case errors.Is(err, ErrRequestLocked):
		c.Log.Debug("deadline: room busy, retrying", "room", roomID, "reason", why)
		t := &c.autoEnd
		if why == EndMaxDuration {
			t = &c.maxLive
		}
		t.arm(appID, roomID, time.Second)
	default:
		c.Log.Debug("deadline: room not ended", "room", roomID, "reason", why, "err", err)
	}
}

// LiveLimit is the maximum live duration of room r: its autoCloseConfig, else
// the server's MaxLiveDuration; 0 is no limit.
func (c *Control) LiveLimit(r *storage.Room) time.Duration {
	if r.AutoCloseType != "" {
		return time.Duration(r.AutoCloseMinutes) * c.AutoCloseUnit
	}
	return c.MaxLiveDuration
}

// armLiveTimers arms the deadlines of room r after a change to state s.
func (c *Control) armLiveTimers(r *storage.Room) {
	switch VideoRoomState(r.VideoRoomState) {
	case VideoRoomStateLive, VideoRoomStateLiveInactive:
		if limit := c.LiveLimit(r); limit > 0 && !r.LiveStartedAt.IsZero() {
			c.maxLive.arm(r.AppID, r.ID, max(r.LiveStartedAt.Add(limit).Sub(c.now()), 0))
		}
	default:
		c.maxLive.disarm(r.ID)
	}
	if VideoRoomState(r.VideoRoomState) == VideoRoomStateLiveInactive && r.AutoEndSeconds > 0 {
		c.autoEnd.arm(r.AppID, r.ID, max(r.InactiveSince.Add(time.Duration(r.AutoEndSeconds)*time.Second).Sub(c.now()), 0))
	} else {
		c.autoEnd.disarm(r.ID)
	}
}

// rearmTimers runs at Initialize (and, in a cluster, periodically on the
// deadline leader): every LIVE or LIVE_INACTIVE room gets its deadlines back, due
// at the stored times (at once when they passed while the process was down). It
// reads those rooms through the list index by state, so its cost follows the
// rooms that are live, not every room ever created.
func (c *Control) rearmTimers() error {
	var rooms []storage.Room
	err := c.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachApp(func(a storage.App) error {
			for _, st := range []VideoRoomState{VideoRoomStateLive, VideoRoomStateLiveInactive} {
				rs, _, err := tx.ListRooms(storage.RoomQuery{AppID: a.ID, State: string(st), Limit: math.MaxInt})
				if err != nil {
					return err
				}
				rooms = append(rooms, rs...)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("re-arm room deadlines: %w", err)
	}
	for i := range rooms {
		c.armLiveTimers(&rooms[i])
	}
	if len(rooms) > 0 {
		c.Log.Info("room deadlines re-armed", "rooms", len(rooms))
	}
	return nil
}

// RearmTimers re-arms the deadlines of every LIVE or LIVE_INACTIVE room from the
// store, as Initialize does. A cluster's deadline leader calls it periodically,
// so that the deadlines of rooms whose transitions another node made (and that
// node may have died since) fire here; firing is a transition, so a deadline
// armed on several nodes ends its room once.
func (c *Control) RearmTimers() error { return c.rearmTimers() }
