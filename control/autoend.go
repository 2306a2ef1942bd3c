package control

import (
	"context"
	"errors"
	"sync"
	"time"
)

// autoEnder ends rooms left LIVE_INACTIVE for their autoEnd.inactiveSeconds (SPEC
// §4.8). One timer per room; Close stops them and waits for running callbacks.
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
	_, err := a.c.roomAction(context.Background(), appID, roomID, 0, eventEnd)
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
