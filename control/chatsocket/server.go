package chatsocket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/events"
)

// Defaults of the Server config fields.
const (
	DefaultHeartBeat         = 10 * time.Second
	DefaultConnectTimeout    = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultPingInterval      = 30 * time.Second
	DefaultMaxFrameSize      = 64 << 10
	DefaultSendQueue         = 256
	DefaultMaxSubscriptions  = 100
	DefaultMaxConnsPerMember = 10
	DefaultMaxConnections    = 20000
)

// Subprotocols are the WebSocket subprotocols the server accepts, in its order
// of preference. Whichever the client picks, the server speaks STOMP 1.2
// (@stomp/stompjs offers all three and negotiates 1.2 in CONNECT).
var Subprotocols = []string{"v12.stomp", "v11.stomp", "v10.stomp"}

// ChatEvents is where the server gets chat events after commit (events.Broker).
type ChatEvents interface {
	ListenChat(fn events.ChatFunc) (stop func())
}

// Server is the member chat socket: STOMP 1.2 over WebSocket. The API routes
// GET /v2/members/me/chat-socket to ServeChat. Set the exported fields, call
// Initialize, and Close when done (before the Broker closes).
type Server struct {
	// Control verifies access tokens and owns the store (required).
	Control *control.Control
	// Events delivers chat events (required; the events.Broker).
	Events ChatEvents
	// Log receives connection failures. Default: Control.Log.
	Log *slog.Logger

	// HeartBeat is the interval the server offers both ways in CONNECTED
	// (heart-beat: HeartBeat,HeartBeat in ms; the client's values may make it
	// longer, 0 turns a direction off). A client that promised beats and is
	// silent for twice the negotiated interval is closed. Default 10 s.
	HeartBeat time.Duration
	// ConnectTimeout is how long a new socket may take to send CONNECT. Default 10 s.
	ConnectTimeout time.Duration
	// WriteTimeout bounds each write to a client. Default 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often a connection without client heart-beats is
	// pinged (WebSocket ping; no pong within WriteTimeout closes it). Default 30 s.
	PingInterval time.Duration
	// MaxFrameSize is the largest WebSocket message (and so frame) in bytes; a
	// larger one is a fatal FRAME_TOO_LARGE. Default 64 KiB.
	MaxFrameSize int
	// SendQueue is how many frames may wait for one connection; a connection
	// that falls further behind is closed (SLOW_CONSUMER). Default 256.
	SendQueue int
	// MaxSubscriptions bounds the subscriptions of one connection. Default 100.
	MaxSubscriptions int
	// MaxConnsPerMember bounds the connections of one member. Default 10.
	MaxConnsPerMember int
	// MaxConnections bounds all connections (more get 503 before the upgrade).
	// Default 20 000.
	MaxConnections int
	// Moderator decides on every member message before it is stored (length,
	// rate, membership, mute, forbidden words; chat.Moderator). Share the API
	// server's. Default: a Moderator of its own with chat's defaults.
	Moderator *chat.Moderator
	// OriginPatterns restricts the browser origins allowed to open a socket
	// (coder/websocket AcceptOptions.OriginPatterns). Empty: any origin: the
	// socket authenticates with tokens, never with cookies, so a foreign page
	// gains nothing it does not already hold.
	OriginPatterns []string

	stopListen func()

	mu        sync.RWMutex
	closed    bool
	conns     map[*conn]struct{}
	perMember map[uint64]int
	rooms     map[uint64]map[*subscription]struct{} // chat room (video room ID) → subscriptions
	nextID    uint64
	stats     Stats
	wg        sync.WaitGroup // ServeChat calls
}

// Stats are counters of a Server since Initialize.
type Stats struct {
	Connections   int    // open now
	Subscriptions int    // chat room subscriptions now
	Dropped       uint64 // connections closed for being too slow (SLOW_CONSUMER)
	Delivered     uint64 // MESSAGE frames queued for chat events
}

// Initialize applies defaults and starts listening for chat events.
func (s *Server) Initialize() error {
	if s.Control == nil || s.Events == nil {
		return errors.New("chatsocket: Control and Events are required")
	}
	if s.Log == nil {
		s.Log = s.Control.Log
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setDur(&s.HeartBeat, DefaultHeartBeat)
	setDur(&s.ConnectTimeout, DefaultConnectTimeout)
	setDur(&s.WriteTimeout, DefaultWriteTimeout)
	setDur(&s.PingInterval, DefaultPingInterval)
	setInt := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	setInt(&s.MaxFrameSize, DefaultMaxFrameSize)
	setInt(&s.SendQueue, DefaultSendQueue)
	setInt(&s.MaxSubscriptions, DefaultMaxSubscriptions)
	setInt(&s.MaxConnsPerMember, DefaultMaxConnsPerMember)
	setInt(&s.MaxConnections, DefaultMaxConnections)
	if s.Moderator == nil {
		s.Moderator = &chat.Moderator{}
		if err := s.Moderator.Initialize(); err != nil {
			return fmt.Errorf("chatsocket: %w", err)
		}
	}
	s.conns = map[*conn]struct{}{}
	s.perMember = map[uint64]int{}
	s.rooms = map[uint64]map[*subscription]struct{}{}
	s.stopListen = s.Events.ListenChat(s.deliver)
	return nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.stats
	st.Connections = len(s.conns)
	for _, subs := range s.rooms {
		st.Subscriptions += len(subs)
	}
	return st
}

// Close stops listening for chat events, ends every connection with an ERROR
// (SERVER_SHUTDOWN) and waits for their goroutines. New sockets get 503.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed || s.conns == nil {
		s.closed = true
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.stopListen()
	for _, c := range conns {
		c.fail(ErrServerShutdown)
	}
	s.wg.Wait()
}

// ServeChat serves one chat socket: the WebSocket upgrade of r, then STOMP
// until the client disconnects, fails, or the Server closes. token is the
// access token presented with the upgrade (Authorization: Bearer or
// ?accessToken=), already verified by the caller, or "" when CONNECT carries it.
// Errors before the upgrade are written as {"errorCode","message"}.
func (s *Server) ServeChat(w http.ResponseWriter, r *http.Request, token string) {
	c, err := s.admit()
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	defer s.wg.Done()
	defer s.remove(c)
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: Subprotocols,
		InsecureSkipVerify: len(s.OriginPatterns) == 0, OriginPatterns: s.OriginPatterns})
	if err != nil {
		s.Log.Debug("chat socket upgrade refused", "err", err)
		return // Accept wrote the answer
	}
	c.ws, c.token = ws, token
	c.run()
}

// admit registers a new connection (not yet upgraded), or refuses it.
func (s *Server) admit() (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed || s.conns == nil:
		return nil, ErrServerShutdown
	case len(s.conns) >= s.MaxConnections:
		return nil, ErrTooManyConnections.WithMessage("the server has %d chat socket connections", len(s.conns))
	}
	s.nextID++
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{s: s, id: s.nextID, ctx: ctx, cancel: cancel, out: make(chan outFrame, s.SendQueue),
		failed: make(chan struct{}), subs: map[string]*subscription{}}
	c.wctx, c.abortWrite = context.WithCancel(ctx)
	c.log = s.Log.With("component", "chatsocket", "conn", c.id)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c, nil
}

// remove forgets a finished connection and its subscriptions.
func (s *Server) remove(c *conn) {
	c.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if c.memberID != 0 {
		if s.perMember[c.memberID]--; s.perMember[c.memberID] <= 0 {
			delete(s.perMember, c.memberID)
		}
	}
	for _, sub := range c.subs {
		s.unregisterLocked(sub)
	}
}

// login counts c as a connection of its member, or refuses it.
func (s *Server) login(c *conn, appID, memberID uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perMember[memberID] >= s.MaxConnsPerMember {
		return ErrTooManyConnections.WithMessage("the member has %d chat socket connections", s.perMember[memberID])
	}
	s.perMember[memberID]++
	c.appID, c.memberID = appID, memberID
	return nil
}

// register adds a chat room subscription (deliveries start with the next
// chat event fanned out).
func (s *Server) register(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub.conn.subs[sub.id] = sub
	if sub.roomID == 0 {
		return
	}
	if s.rooms[sub.roomID] == nil {
		s.rooms[sub.roomID] = map[*subscription]struct{}{}
	}
	s.rooms[sub.roomID][sub] = struct{}{}
}

// unregister removes a subscription.
func (s *Server) unregister(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(sub.conn.subs, sub.id)
	s.unregisterLocked(sub)
}

func (s *Server) unregisterLocked(sub *subscription) {
	if subs := s.rooms[sub.roomID]; subs != nil {
		delete(subs, sub)
		if len(subs) == 0 {
			delete(s.rooms, sub.roomID)
		}
	}
}

// slowConsumer counts a connection dropped for its full queue.
func (s *Server) slowConsumer() {
	s.mu.Lock()
	s.stats.Dropped++
	s.mu.Unlock()
}

// deliver queues a chat event for every subscription of its chat room whose
// member is in the event's audience. It runs on the Broker's fan-out
// goroutine, one event at a time and in order, so every connection's queue
// holds the events of a room in order, once per subscription.
func (s *Server) deliver(d events.ChatDelivery) {
	s.mu.RLock()
	subs := s.rooms[d.Event.RoomID]
	targets := make([]*subscription, 0, len(subs))
	for sub := range subs {
		if _, ok := slices.BinarySearch(d.Members, sub.conn.memberID); ok && sub.conn.appID == d.Event.AppID {
			targets = append(targets, sub)
		}
	}
	s.mu.RUnlock()
	var queued uint64
	ev := &chatEvent{seq: d.Event.Seq, body: d.Event.Message}
	for _, sub := range targets {
		if sub.conn.push(outFrame{kind: outMessage, sub: sub, ev: ev}) {
			queued++
		}
	}
	s.mu.Lock()
	s.stats.Delivered += queued
	s.mu.Unlock()
}
