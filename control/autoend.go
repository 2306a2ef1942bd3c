package control

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/roomcast/roomcast/storage"
)

// autoEnder ends rooms left LIVE_INACTIVE for their autoEnd.inactiveSeconds.
// One timer per room; Close stops them and waits for running callbacks.
type autoEnder struct {
	c      *Control
	mu     sync.Mutex
	closed bool
	timers map[uint64]*time.Timer
	wg     sync.WaitGroup
}

func (a *autoEnder) init(c *Control) {
	a.c = c
	a.timers = map[uint64]*time.Timer{}
}

// arm (re)starts the timer of room roomID.
func (a *autoEnder) arm(appID, roomID uint64, d time.Duration) {
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
func (a *autoEnder) disarm(roomID uint64) {
	a.mu.Lock()
	a.stopLocked(roomID)
	a.mu.Unlock()
}

// stopLocked stops and forgets the timer of roomID; a.mu is held.
func (a *autoEnder) stopLocked(roomID uint64) {
	if t := a.timers[roomID]; t != nil {
		if t.Stop() {
			a.wg.Done()
		}
		delete(a.timers, roomID)
	}
}

// fire ends the room; a room that resumed or ended meanwhile is left alone.
func (a *autoEnder) fire(appID, roomID uint64) {
	_, err := a.c.RoomAction(context.Background(), appID, roomID, 0, EventEnd)
	switch {
	case err == nil:
		a.c.Log.Info("video room auto-ended", "room", roomID)
	case errors.Is(err, ErrRequestLocked):
		a.c.Log.Debug("auto-end skipped: room busy", "room", roomID)
	default:
		a.c.Log.Debug("auto-end skipped", "room", roomID, "err", err)
	}
}

// close stops every timer and waits for callbacks that already started.
func (a *autoEnder) close() {
	a.mu.Lock()
	a.closed = true
	for id := range a.timers {
		a.stopLocked(id)
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// rearmAutoEnd runs at Initialize: every LIVE_INACTIVE room with autoEnd gets its
// timer back, due at the stored deadline InactiveSince + AutoEndSeconds (at once
// when that passed while the process was down), so autoEnd survives restarts. It
// walks every room of every app once (boot only).
func (c *Control) rearmAutoEnd() error {
	type due struct {
		appID, roomID uint64
		at            time.Time
	}
	var rooms []due
	err := c.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachApp(func(a storage.App) error {
			return tx.ForEachRoomOfApp(a.ID, false, func(r storage.Room) (bool, error) {
				if r.State == storage.RoomActive && r.AutoEndSeconds > 0 &&
					VideoRoomState(r.VideoRoomState) == VideoRoomStateLiveInactive {
					rooms = append(rooms, due{r.AppID, r.ID,
						r.InactiveSince.Add(time.Duration(r.AutoEndSeconds) * time.Second)})
				}
				return true, nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("re-arm autoEnd timers: %w", err)
	}
	now := c.now()
	for _, d := range rooms {
		c.autoEnd.arm(d.appID, d.roomID, max(d.at.Sub(now), 0))
	}
	if len(rooms) > 0 {
		c.Log.Info("autoEnd timers re-armed", "rooms", len(rooms))
	}
	return nil
}
