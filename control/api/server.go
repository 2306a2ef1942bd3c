package api

import (
	"github.com/roomcast/roomcast/cluster"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/storage"
)

// Defaults of the Server config fields.
const (
	DefaultBodyLimit   = 1 << 20
	DefaultMaxInFlight = 256
)

// Server is the echo/v4 REST API of a Control: the App API (/v2/apps/me), the
// Member API (/v2/members/me, with its SSE stream and chat socket), /healthz, /readyz, /metrics and /openapi.yaml. Set
// the exported fields, call Initialize, then Register (or Handler).
type Server struct {
	// Control is the initialized control plane the handlers call (required).
	Control *control.Control
	// Nodes lists the live nodes of the cluster for GET /v2/cluster/nodes (nil:
	// 404, no cluster).
	Nodes func(ctx context.Context) ([]cluster.NodeInfo, error)
	// Log receives request failures. Default: Control.Log.
	Log *slog.Logger
	// BodyLimit is the largest request body in bytes; larger bodies get 400
	// INVALID_REQUEST. Default 1 MiB.
	BodyLimit int64
	// MaxInFlight bounds the App and Member API requests served at once
	// (--max-api-requests); more get 503 SERVER_BUSY with Retry-After at once, so a
	// flood of API requests (slow bodies included) cannot starve playback or
	// /healthz, which are not counted, nor are SSE streams. Default
	// DefaultMaxInFlight (256); negative = unlimited.
	MaxInFlight int
	// EventSource serves GET /v2/members/me/event-sources (events.Broker).
	// Nil: that route answers 503 EVENT_SOURCE_UNAVAILABLE.
	EventSource EventSource
	// ChatSocket serves GET /v2/members/me/chat-socket (chatsocket.Server).
	// Nil: that route answers 503 CHAT_SOCKET_UNAVAILABLE.
	ChatSocket ChatSocket
	// Registry receives the HTTP metrics and is served on /metrics. Nil: no metrics.
	Registry *prometheus.Registry
	// Ready reports readiness for /readyz (listeners up). Nil: ready.
	Ready func() error
	// Moderator checks member chat messages (the member send path calls its
	// Moderate). Nil: Initialize makes one with the default limits, its refusal
	// counter registered on Registry.
	Moderator *chat.Moderator

	metrics *httpMetrics
	// authLimit keeps the failed-authentication budgets (auth_limit.go).
	authLimit authLimiter
	// inFlight is the semaphore of MaxInFlight (nil: unlimited).
	inFlight chan struct{}
	// The handlers, grouped by resource.
	rooms     roomHandlers
	members   memberHandlers
	chat      chatHandlers
	callbacks callbackHandlers
}

// roomHandlers serve the video rooms of both APIs (rooms.go, rooms_broadcast.go).
type roomHandlers struct{ c *control.Control }

// memberHandlers serve members, their tokens and stream keys (members.go).
type memberHandlers struct{ c *control.Control }

// chatHandlers serve the chat room of a video room (chat*.go).
type chatHandlers struct{ c *control.Control }

// callbackHandlers serve the app's webhook settings and delivery log
// (callback.go, deliveries.go).
type callbackHandlers struct{ c *control.Control }

// Initialize applies defaults and registers the metrics.
func (s *Server) Initialize() error {
	if s.Control == nil {
		return errors.New("api: Control is required")
	}
	if s.Log == nil {
		s.Log = s.Control.Log
	}
	if s.BodyLimit <= 0 {
		s.BodyLimit = DefaultBodyLimit
	}
	if s.MaxInFlight == 0 {
		s.MaxInFlight = DefaultMaxInFlight
	}
	if s.MaxInFlight > 0 {
		s.inFlight = make(chan struct{}, s.MaxInFlight)
	}
	s.authLimit.init()
	s.rooms.c, s.members.c, s.chat.c, s.callbacks.c = s.Control, s.Control, s.Control, s.Control
	if s.Registry != nil {
		m, err := newHTTPMetrics(s.Registry)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		s.metrics = m
	}
	if s.Moderator == nil {
		s.Moderator = &chat.Moderator{}
		if s.Registry != nil {
			s.Moderator.Registerer = s.Registry
		}
		if err := s.Moderator.Initialize(); err != nil {
			return fmt.Errorf("api: %w", err)
		}
	}
	return nil
}

// Register mounts every route of the REST API on e and installs the error handler
// (which then also answers unknown routes of e with JSON).
func (s *Server) Register(e *echo.Echo) {
	e.HTTPErrorHandler = s.httpErrorHandler
	e.Pre(memberCORS())
	if s.metrics != nil {
		e.Use(s.metrics.middleware)
	}
	e.GET("/healthz", s.onHealthz)
	e.GET("/readyz", s.onReadyz)
	e.GET("/openapi.yaml", s.onOpenAPI)
	if s.Registry != nil {
		e.GET("/metrics", echo.WrapHandler(metricsHandler(s.Registry)))
	}
	e.GET("/v2/cluster/nodes", s.onClusterNodes, s.limitInFlight, s.limitBody, s.appAuth)
	s.registerAppAPI(routes{e.Group("/v2/apps/me"), []echo.MiddlewareFunc{s.limitInFlight, s.limitBody, s.appAuth}})
	members := e.Group("/v2/members/me")
	s.registerMemberAPI(routes{members, []echo.MiddlewareFunc{s.limitInFlight, s.limitBody, s.memberAuth}})
	// SSE streams last as long as the member listens: not counted in MaxInFlight.
	// A browser's EventSource cannot set headers: ?accessToken= is accepted here.
	members.GET("/event-sources", s.onEventSources, s.limitBody, s.memberAuthOrQuery)
	// The chat socket authenticates itself (the token may come in STOMP CONNECT)
	// and lasts as long as the member chats: not counted in MaxInFlight either.
	members.GET("/chat-socket", s.onChatSocket, s.limitBody)
}

// Handler returns a new echo instance with every route registered.
func (s *Server) Handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s.Register(e)
	return e
}

// registerAppAPI mounts the App API.
func (s *Server) registerAppAPI(g routes) {
	g.POST("/members", s.members.onMembersUpsert)
	g.GET("/members/:appUserId", s.members.onMembersGet)
	g.POST("/members/:appUserId/tokens", s.members.onMemberTokensCreate)
	g.GET("/members/:appUserId/stream-key", s.members.onMemberStreamKeyGet)
	g.POST("/members/:appUserId/stream-key/reset", noBody(s.members.onMemberStreamKeyReset))
	g.POST("/video-rooms", s.rooms.onAppVideoRoomsCreate)
	g.GET("/video-rooms", s.rooms.onAppVideoRoomsList)
	g.GET("/video-rooms/:id", s.rooms.onAppVideoRoomsGet)
	g.GET("/video-rooms/uuid/:uuid", s.rooms.onAppVideoRoomsGetByUUID)
	g.GET("/video-rooms/:id/health", s.rooms.onAppVideoRoomsHealth)
	g.DELETE("/video-rooms/:id", s.rooms.onAppVideoRoomsDelete)
	g.POST("/video-rooms/:id/rtmp-broadcast/state/live", noBody(s.rooms.onAppVideoRoomsStart))
	g.POST("/video-rooms/:id/rtmp-broadcast/state/ended", s.rooms.onAppVideoRoomsEnd) // optional {"force":bool}
	g.POST("/video-rooms/:id/rtmp-broadcast/state/cancelled", noBody(s.rooms.onAppVideoRoomsCancel))
	s.registerChatAPI(g)
	g.GET("/callback", s.callbacks.onCallbackGet)
	g.PUT("/callback", s.callbacks.onCallbackPut)
	g.POST("/callback/secret", noBody(s.callbacks.onCallbackSecretRotate))
	g.GET("/callback/deliveries", s.callbacks.onCallbackDeliveriesList)
	g.POST("/callback/deliveries/:id/redeliver", noBody(s.callbacks.onCallbackDeliveryRedeliver))
}

// registerChatAPI mounts the chat endpoints of the App API (chat*.go).
func (s *Server) registerChatAPI(g routes) {
	g.POST("/video-rooms/:id/chat-room", noBody(s.chat.onChatRoomCreate))
	g.GET("/video-rooms/:id/chat-room", s.chat.onChatRoomGet)
	g.POST("/video-rooms/:id/chat-room/close", noBody(s.chat.onChatRoomClose))
	g.GET("/video-rooms/:id/chat-room/members", s.chat.onChatMembersList)
	g.POST("/video-rooms/:id/chat-room/members", s.chat.onChatMembersAdd)
	g.DELETE("/video-rooms/:id/chat-room/members/:appUserId", s.chat.onChatMembersRemove)
	g.POST("/video-rooms/:id/chat-room/members/:appUserId/mute", s.chat.onChatMemberMute) // optional {"seconds":N}
	g.POST("/video-rooms/:id/chat-room/members/:appUserId/unmute", noBody(s.chat.onChatMemberUnmute))
	g.GET("/video-rooms/:id/chat-room/forbidden-words", s.chat.onChatForbiddenWordsGet)
	g.PUT("/video-rooms/:id/chat-room/forbidden-words", s.chat.onChatForbiddenWordsPut)
	g.POST("/video-rooms/:id/chat-room/admin/messages/broadcast", s.chat.onChatBroadcast)
	g.POST("/video-rooms/:id/chat-room/admin/messages/direct", s.chat.onChatDirect)
	g.GET("/video-rooms/:id/chat-room/messages", s.chat.onChatMessagesList)
	g.GET("/video-rooms/:id/chat-room/messages/:messageId", s.chat.onChatMessageGet)
	g.DELETE("/video-rooms/:id/chat-room/messages/:messageId", s.chat.onChatMessageDelete)
	g.POST("/video-rooms/:id/chat-room/messages/:messageId/hide", noBody(s.chat.onChatMessageHide))
	g.POST("/video-rooms/:id/chat-room/messages/:messageId/unhide", noBody(s.chat.onChatMessageUnhide))
}

// registerMemberAPI mounts the Member API.
func (s *Server) registerMemberAPI(g routes) {
	g.GET("", s.members.onMe)
	g.GET("/", s.members.onMe)
	g.GET("/stream-key", s.members.onMeStreamKeyGet)
	g.POST("/video-rooms", s.rooms.onMemberVideoRoomsCreate)
	g.GET("/video-rooms", s.rooms.onMemberVideoRoomsList)
	g.GET("/video-rooms/:id", s.rooms.onMemberVideoRoomsGet)
	g.GET("/video-rooms/uuid/:uuid", s.rooms.onMemberVideoRoomsGetByUUID)
	g.POST("/video-rooms/:id/start", noBody(s.rooms.onMemberVideoRoomsStart))
	g.POST("/video-rooms/:id/end", noBody(s.rooms.onMemberVideoRoomsEnd))
	g.POST("/video-rooms/:id/cancel", noBody(s.rooms.onMemberVideoRoomsCancel))
	g.POST("/video-rooms/:id/join", s.rooms.onMemberVideoRoomsJoin)
	g.POST("/video-rooms/:id/leave", noBody(s.rooms.onMemberVideoRoomsLeave))
}

// noBody wraps the handler of a POST that takes no body: an empty body or an
// empty object is accepted, a member is refused as an unknown field (it would
// have no effect).
func noBody(h echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		if err := request.NoBody(ec); err != nil {
			return err
		}
		return h(ec)
	}
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
func (s *Server) onHealthz(ec echo.Context) error {
	return ec.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// onReadyz answers 200 when the store is open and Ready (if set) says so.
func (s *Server) onReadyz(ec echo.Context) error {
	err := s.Control.Store.View(func(*storage.Tx) error { return nil })
	if err == nil && s.Ready != nil {
		err = s.Ready()
	}
	if err != nil {
		return control.NewAPIError(http.StatusServiceUnavailable, "NOT_READY", err.Error())
	}
	return ec.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// limitBody caps the request body at BodyLimit.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		r := ec.Request()
		if r.ContentLength > s.BodyLimit {
			return control.ErrInvalidRequest.WithMessage("request body exceeds %d bytes", s.BodyLimit)
		}
		r.Body = http.MaxBytesReader(ec.Response(), r.Body, s.BodyLimit)
		return next(ec)
	}
}

// ErrServerBusy answers an API request while MaxInFlight requests are being served.
var ErrServerBusy = control.NewAPIError(http.StatusServiceUnavailable, "SERVER_BUSY", "too many API requests in progress; retry later")

// limitInFlight serves at most MaxInFlight API requests at once; the others get
// 503 SERVER_BUSY at once (Retry-After: 1, connection closed: the body is unread).
func (s *Server) limitInFlight(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		if s.inFlight == nil {
			return next(ec)
		}
		select {
		case s.inFlight <- struct{}{}:
		default:
			h := ec.Response().Header()
			h.Set("Retry-After", "1")
			h.Set("Connection", "close")
			return ErrServerBusy
		}
		defer func() { <-s.inFlight }()
		return next(ec)
	}
}
