package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/publish"
	"github.com/roomcast/roomcast/storage"
)

// Defaults of the Control config fields.
const (
	DefaultPublicHTTPURL = "http://localhost:8080"
	DefaultPublicRTMPURL = "rtmp://localhost:1935"
	DefaultRTMPApp       = "live"
	DefaultTokenTTL      = 24 * time.Hour
)

// Control is the room logic: apps, members and their tokens and stream keys,
// rooms and their state machine, chat, and the seams ingest and the packager call
// through cmd. Set the exported fields, call Initialize, then serve it (api.Server)
// and call the seam methods; Close stops the autoEnd timers.
type Control struct {
	// Store is the open store (required).
	Store *storage.Store
	// RoomLocker makes REQUEST_LOCKED hold across the nodes of a cluster (nil:
	// one process).
	RoomLocker RoomLocker
	// Log receives request failures and transitions. Default slog.Default().
	Log *slog.Logger
	// PublicHTTPURL is the base of playUrl, vodUrl and the player page
	// (--public-http-url). Default DefaultPublicHTTPURL.
	PublicHTTPURL string
	// PublicRTMPURL is the base of ingestUrl and rtmpPlayUrl (--public-rtmp-url).
	// Default DefaultPublicRTMPURL.
	PublicRTMPURL string
	// RTMPApp is the ingest application name (--rtmp-app): ingestUrl is
	// PublicRTMPURL/RTMPApp. Default DefaultRTMPApp ("live").
	RTMPApp string
	// TokenTTL is the lifetime of member access and streaming tokens. Default 24 h.
	TokenTTL time.Duration
	// Now returns the current time (tests). Default time.Now; Time reads it.
	Now func() time.Time
	// Events receives every event after its transaction commits (events.Broker).
	// Default: discard. If it also implements events.Waker, a manual webhook
	// redelivery wakes it.
	Events events.Emitter
	// OnSessionLive is called after commit when a room goes LIVE (start or resume).
	OnSessionLive func(SessionInfo)
	// OnRoomEnded is called after commit when a room is ENDED (VOD archiving starts).
	OnRoomEnded func(roomUUID string)
	// OnRoomDeleted is called after commit when a room is deleted (its media can go).
	OnRoomDeleted func(roomUUID string)
	// OnKick disconnects the publisher of stream key keyID with reason (force end,
	// key reset, maximum live duration) and reports whether one was connected
	// here; when none was, Control applies "publish stopped" itself.
	OnKick func(keyID uint64, reason publish.StopReason) bool
	// MaxLiveDuration ends a room that first went LIVE longer ago than this when
	// it has no autoCloseConfig (--max-live-duration); 0 is no limit.
	MaxLiveDuration time.Duration
	// AutoCloseUnit is the length of one autoCloseConfig.duration unit: a minute
	// (the default); tests and demos shorten it.
	AutoCloseUnit time.Duration
	// Live supplies the measured stats of live rooms (ingest health, viewers).
	// Default: none (stats show zero viewers and a null ingest).
	Live LiveStats

	now     func() time.Time
	tokens  member.Signer
	apps    appCache
	locks   roomLocks
	autoEnd roomTimers // autoEnd.inactiveSeconds of LIVE_INACTIVE rooms
	maxLive roomTimers // the maximum live duration of LIVE and LIVE_INACTIVE rooms
}

// Initialize applies defaults, loads the install secret and the token versions.
func (c *Control) Initialize() error {
	if c.Store == nil {
		return errors.New("control: Store is required")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	c.PublicHTTPURL = strings.TrimRight(defaultString(c.PublicHTTPURL, DefaultPublicHTTPURL), "/")
	c.PublicRTMPURL = strings.TrimRight(defaultString(c.PublicRTMPURL, DefaultPublicRTMPURL), "/")
	c.RTMPApp = strings.Trim(defaultString(c.RTMPApp, DefaultRTMPApp), "/")
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	c.now = c.Now
	if c.now == nil {
		c.now = time.Now
	}
	if c.Events == nil {
		c.Events = events.Discard{}
	}
	if c.AutoCloseUnit <= 0 {
		c.AutoCloseUnit = time.Minute
	}
	if c.Live == nil {
		c.Live = noLiveStats{}
	}
	var versions map[uint64]uint32
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		versions, err = member.LoadVersions(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("control: load token versions: %w", err)
	}
	c.tokens.Init(c.Store.InstallSecret(), versions)
	c.apps.init()
	c.locks.init()
	c.autoEnd.init(c.autoEndRoom)
	c.maxLive.init(c.maxLiveEndRoom)
	if err := c.rearmTimers(); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}

// Time is the current time of the control plane's clock (Now).
func (c *Control) Time() time.Time { return c.now() }

// Close stops pending room deadlines and waits for running ones.
func (c *Control) Close() {
	c.autoEnd.close()
	c.maxLive.close()
}

// roomLocks is the per-room try-lock behind REQUEST_LOCKED.
type roomLocks struct {
	mu   sync.Mutex
	held map[uint64]struct{}
}

func (l *roomLocks) init() { l.held = map[uint64]struct{}{} }

// RoomLocker takes the per-room lock behind REQUEST_LOCKED across processes (a
// cluster: a lease-held key per room). TryLock returns ErrRequestLocked when
// another request holds it.
type RoomLocker interface {
	TryLock(ctx context.Context, roomID uint64) (unlock func(), err error)
}

// lockRoom takes the lock of room id: in this process, then, with a RoomLocker,
// cluster-wide.
func (c *Control) lockRoom(ctx context.Context, id uint64) (unlock func(), err error) {
	if err := c.locks.tryLock(id); err != nil {
		return nil, err
	}
	if c.RoomLocker == nil {
		return func() { c.locks.unlock(id) }, nil
	}
	release, err := c.RoomLocker.TryLock(ctx, id)
	if err != nil {
		c.locks.unlock(id)
		return nil, err
	}
	return func() { release(); c.locks.unlock(id) }, nil
}

// tryLock takes the lock of room id or returns ErrRequestLocked.
func (l *roomLocks) tryLock(id uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, busy := l.held[id]; busy {
		return ErrRequestLocked
	}
	l.held[id] = struct{}{}
	return nil
}

// unlock releases the lock of room id.
func (l *roomLocks) unlock(id uint64) {
	l.mu.Lock()
	delete(l.held, id)
	l.mu.Unlock()
}

// defaultString returns s, or def when s is empty.
func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
