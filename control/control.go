package control

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// Defaults of the Control config fields.
const (
	DefaultPublicHTTPURL = "http://localhost:8080"
	DefaultPublicRTMPURL = "rtmp://localhost:1935"
	DefaultRTMPApp       = "live"
	DefaultTokenTTL      = 24 * time.Hour
	DefaultBodyLimit     = 1 << 20
	DefaultMaxInFlight   = 256
)

// Control is the REST control plane and the room logic. Set the exported fields,
// call Initialize, then Register (or Handler) and the seam methods; Close stops the
// autoEnd timers.
type Control struct {
	// Store is the open bbolt store (required).
	Store *storage.Store
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
	// BodyLimit is the largest request body in bytes; larger bodies get 400
	// INVALID_REQUEST. Default 1 MiB.
	BodyLimit int64
	// MaxInFlight bounds the App and Member API requests served at once
	// (--max-api-requests); more get 503 SERVER_BUSY with Retry-After at once, so a
	// flood of API requests (slow bodies included) cannot starve playback or
	// /healthz, which are not counted, nor are SSE streams. Default
	// DefaultMaxInFlight (256); negative = unlimited.
	MaxInFlight int
	// Now returns the current time (tests). Default time.Now.
	Now func() time.Time
	// Events receives every event after its transaction commits (events.Broker).
	// Default: discard. If it also implements events.Waker, a manual webhook
	// redelivery wakes it.
	Events events.Emitter
	// EventSource serves GET /v2/members/me/event-sources (events.Broker).
	// Nil: that route answers 503 EVENT_SOURCE_UNAVAILABLE.
	EventSource EventSource
	// OnSessionLive is called after commit when a room goes LIVE (start or resume).
	OnSessionLive func(SessionInfo)
	// OnRoomEnded is called after commit when a room is ENDED (VOD archiving starts).
	OnRoomEnded func(roomUUID string)
	// OnRoomDeleted is called after commit when a room is deleted (its media can go).
	OnRoomDeleted func(roomUUID string)
	// Registry receives the HTTP metrics and is served on /metrics. Nil: no metrics.
	Registry *prometheus.Registry
	// Ready reports readiness for /readyz (listeners up). Nil: ready.
	Ready func() error

	now     func() time.Time
	tokens  tokenSigner
	apps    appCache
	locks   roomLocks
	metrics *httpMetrics
	autoEnd autoEnder
	// authLimit keeps the failed-authentication budgets (auth_limit.go).
	authLimit authLimiter
	// inFlight is the semaphore of MaxInFlight (nil: unlimited).
	inFlight chan struct{}
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
	if c.BodyLimit <= 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxInFlight > 0 {
		c.inFlight = make(chan struct{}, c.MaxInFlight)
	}
	c.now = c.Now
	if c.now == nil {
		c.now = time.Now
	}
	if c.Events == nil {
		c.Events = events.Discard{}
	}
	var versions map[uint64]uint32
	err := c.Store.View(func(tx *storage.Tx) error {
		var err error
		versions, err = loadTokenVersions(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("control: load token versions: %w", err)
	}
	c.tokens.init(c.Store.InstallSecret(), versions)
	c.apps.init()
	c.authLimit.init()
	c.locks.init()
	c.autoEnd.init(c)
	if c.Registry != nil {
		m, err := newHTTPMetrics(c.Registry)
		if err != nil {
			return fmt.Errorf("control: %w", err)
		}
		c.metrics = m
	}
	if err := c.rearmAutoEnd(); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}

// Close stops pending autoEnd timers and waits for running ones.
func (c *Control) Close() {
	c.autoEnd.close()
}

// Register mounts every route of the REST API on e and installs the error handler
// (which then also answers unknown routes of e with JSON).
func (c *Control) Register(e *echo.Echo) {
	e.HTTPErrorHandler = c.httpErrorHandler
	if c.metrics != nil {
		e.Use(c.metrics.middleware)
	}
	e.GET("/healthz", c.onHealthz)
	e.GET("/readyz", c.onReadyz)
	e.GET("/openapi.yaml", c.onOpenAPI)
	if c.Registry != nil {
		e.GET("/metrics", echo.WrapHandler(metricsHandler(c.Registry)))
	}
	c.registerAppAPI(routes{e.Group("/v2/apps/me"), []echo.MiddlewareFunc{c.limitInFlight, c.limitBody, c.appAuth}})
	members := e.Group("/v2/members/me")
	c.registerMemberAPI(routes{members, []echo.MiddlewareFunc{c.limitInFlight, c.limitBody, c.memberAuth}})
	// SSE streams last as long as the member listens: not counted in MaxInFlight.
	members.GET("/event-sources", c.onEventSources, c.limitBody, c.memberAuth)
}

// Handler returns a new echo instance with every route registered.
func (c *Control) Handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	c.Register(e)
	return e
}

// registerAppAPI mounts the App API (seed 001, SPEC §5).
func (c *Control) registerAppAPI(g routes) {
	g.POST("/members", c.onMembersUpsert)
	g.GET("/members/:appUserId", c.onMembersGet)
	g.POST("/members/:appUserId/tokens", c.onMemberTokensCreate)
	g.GET("/members/:appUserId/stream-key", c.onMemberStreamKeyGet)
	g.POST("/members/:appUserId/stream-key/reset", c.onMemberStreamKeyReset)
	g.POST("/video-rooms", c.onAppVideoRoomsCreate)
	g.GET("/video-rooms", c.onAppVideoRoomsList)
	g.GET("/video-rooms/:id", c.onAppVideoRoomsGet)
	g.GET("/video-rooms/uuid/:uuid", c.onAppVideoRoomsGetByUUID)
	g.DELETE("/video-rooms/:id", c.onAppVideoRoomsDelete)
	g.POST("/video-rooms/:id/rtmp-broadcast/state/live", c.onAppVideoRoomsStart)
	g.POST("/video-rooms/:id/rtmp-broadcast/state/ended", c.onAppVideoRoomsEnd)
	g.POST("/video-rooms/:id/rtmp-broadcast/state/cancelled", c.onAppVideoRoomsCancel)
	c.registerChatAPI(g)
	g.GET("/callback", c.onCallbackGet)
	g.PUT("/callback", c.onCallbackPut)
	g.POST("/callback/secret", c.onCallbackSecretRotate)
	g.GET("/callback/deliveries", c.onCallbackDeliveriesList)
	g.POST("/callback/deliveries/:id/redeliver", c.onCallbackDeliveryRedeliver)
}

// registerChatAPI mounts the chat endpoints of the App API (seed 002; chat*.go).
func (c *Control) registerChatAPI(g routes) {
	g.POST("/video-rooms/:id/chat-room", c.onChatRoomCreate)
	g.GET("/video-rooms/:id/chat-room", c.onChatRoomGet)
	g.POST("/video-rooms/:id/chat-room/close", c.onChatRoomClose)
	g.GET("/video-rooms/:id/chat-room/members", c.onChatMembersList)
	g.POST("/video-rooms/:id/chat-room/members", c.onChatMembersAdd)
	g.DELETE("/video-rooms/:id/chat-room/members/:appUserId", c.onChatMembersRemove)
	g.POST("/video-rooms/:id/chat-room/admin/messages/broadcast", c.onChatBroadcast)
	g.POST("/video-rooms/:id/chat-room/admin/messages/direct", c.onChatDirect)
	g.GET("/video-rooms/:id/chat-room/messages", c.onChatMessagesList)
	g.GET("/video-rooms/:id/chat-room/messages/:messageId", c.onChatMessageGet)
	g.DELETE("/video-rooms/:id/chat-room/messages/:messageId", c.onChatMessageDelete)
	g.POST("/video-rooms/:id/chat-room/messages/:messageId/hide", c.onChatMessageHide)
	g.POST("/video-rooms/:id/chat-room/messages/:messageId/unhide", c.onChatMessageUnhide)
}

// registerMemberAPI mounts the Member API (seed 000, SPEC §5).
func (c *Control) registerMemberAPI(g routes) {
	g.GET("", c.onMe)
	g.GET("/", c.onMe)
	g.GET("/stream-key", c.onMeStreamKeyGet)
	g.POST("/video-rooms", c.onMemberVideoRoomsCreate)
	g.GET("/video-rooms", c.onMemberVideoRoomsList)
	g.GET("/video-rooms/:id", c.onMemberVideoRoomsGet)
	g.GET("/video-rooms/uuid/:uuid", c.onMemberVideoRoomsGetByUUID)
	g.POST("/video-rooms/:id/start", c.onMemberVideoRoomsStart)
	g.POST("/video-rooms/:id/end", c.onMemberVideoRoomsEnd)
	g.POST("/video-rooms/:id/cancel", c.onMemberVideoRoomsCancel)
	g.POST("/video-rooms/:id/join", c.onMemberVideoRoomsJoin)
	g.POST("/video-rooms/:id/leave", c.onMemberVideoRoomsLeave)
}

// routes adds routes to a group with per-route middleware. (Group.Use would make
// every unmatched path of the group a 404 route, hiding 405 answers.)
type routes struct {
	g  *echo.Group
	mw []echo.MiddlewareFunc
}

// GET adds a GET route.
func (r routes) GET(path string, h echo.HandlerFunc) { r.g.GET(path, h, r.mw...) }

// POST adds a POST route.
func (r routes) POST(path string, h echo.HandlerFunc) { r.g.POST(path, h, r.mw...) }

// PUT adds a PUT route.
func (r routes) PUT(path string, h echo.HandlerFunc) { r.g.PUT(path, h, r.mw...) }

// DELETE adds a DELETE route.
func (r routes) DELETE(path string, h echo.HandlerFunc) { r.g.DELETE(path, h, r.mw...) }

// onHealthz answers 200 while the process is up.
func (c *Control) onHealthz(ec echo.Context) error {
	return ec.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// onReadyz answers 200 when the store is open and Ready (if set) says so.
func (c *Control) onReadyz(ec echo.Context) error {
	err := c.Store.View(func(*storage.Tx) error { return nil })
	if err == nil && c.Ready != nil {
		err = c.Ready()
	}
	if err != nil {
		return apiError{http.StatusServiceUnavailable, "NOT_READY", err.Error()}
	}
	return ec.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// limitBody caps the request body at BodyLimit.
func (c *Control) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		r := ec.Request()
		if r.ContentLength > c.BodyLimit {
			return ErrInvalidRequest.withMessage("request body exceeds %d bytes", c.BodyLimit)
		}
		r.Body = http.MaxBytesReader(ec.Response(), r.Body, c.BodyLimit)
		return next(ec)
	}
}

// ErrServerBusy answers an API request while MaxInFlight requests are being served.
var ErrServerBusy = apiError{http.StatusServiceUnavailable, "SERVER_BUSY", "too many API requests in progress; retry later"}

// limitInFlight serves at most MaxInFlight API requests at once; the others get
// 503 SERVER_BUSY at once (Retry-After: 1, connection closed: the body is unread).
func (c *Control) limitInFlight(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		if c.inFlight == nil {
			return next(ec)
		}
		select {
		case c.inFlight <- struct{}{}:
		default:
			h := ec.Response().Header()
			h.Set("Retry-After", "1")
			h.Set("Connection", "close")
			return ErrServerBusy
		}
		defer func() { <-c.inFlight }()
		return next(ec)
	}
}

// roomLocks is the per-room try-lock behind REQUEST_LOCKED.
type roomLocks struct {
	mu   sync.Mutex
	held map[uint64]struct{}
}

func (l *roomLocks) init() { l.held = map[uint64]struct{}{} }

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
