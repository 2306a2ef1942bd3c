package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/yutopp/go-rtmp"

	"github.com/roomcast/roomcast/ingest/admission"
	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/publish"
)

// Defaults of the Server's optional fields.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultMaxChunkSize     = 64 << 10
	DefaultMaxMessageSize   = 8 << 20
	DefaultTrackWait        = 2 * time.Second
	DefaultRelayResumeWait  = 5 * time.Minute
	// bitrateWindow is the window MaxBitrate is measured over.
	bitrateWindow = 4 * time.Second
	// maxChunkStreams bounds the chunk streams a peer may open (OBS and ffmpeg use < 10).
	maxChunkStreams = 64
	// maxCreateStreams bounds the createStream commands of a connection (OBS and
	// ffmpeg send one).
	maxCreateStreams = 16
)

// playApp is the RTMP app of players: rtmp://host/play/{roomUUID}?streamingToken=…
const playApp = "play"

// Admitter is admission control as the Server uses it; *admission.Controller is
// one. The Server starts it in Initialize with itself as the admission.Host (slots
// in use, publishers' backlogs, OnCapacity), and waits for it in Close.
type Admitter interface {
	// Start validates the admitter and starts what it runs until ctx ends.
	Start(ctx context.Context, host admission.Host, log *slog.Logger) error
	// Wait waits, after ctx ended, for what Start started.
	Wait()
	// Admit is asked, with no Server lock held, before a new publisher takes a
	// slot while current are in use: an error refuses it (its text is what the
	// publisher is told).
	Admit(current int) error
	// RefusedAtLimit records a publisher refused because MaxPublishers is reached.
	RefusedAtLimit()
}

// Server is the RTMP listener: publishers (OBS, ffmpeg) and RTMP players.
type Server struct {
	// Addr to listen on, e.g. ":1935" or "127.0.0.1:0" (--rtmp-addr).
	Addr string
	// App is the RTMP application publishers connect to (--rtmp-app, default "live").
	App string
	// Log receives connection events; nil discards.
	Log *slog.Logger
	// Registry receives each live stream under its PublishGrant.StreamID's String.
	Registry *hub.Registry
	// HandshakeTimeout bounds the RTMP handshake (default 10 s). IdleTimeout ends a
	// publisher without media, or any connection without incoming bytes except
	// players, after that long (default 10 s). WriteTimeout bounds a write to a peer
	// (default 10 s).
	HandshakeTimeout, IdleTimeout, WriteTimeout time.Duration
	// MaxPublishers and MaxPlayersPerStream limit connections; 0 = unlimited.
	MaxPublishers, MaxPlayersPerStream int
	// MaxBitrate in bits/s per publisher measured over 4 s; 0 = unlimited.
	MaxBitrate int64
	// MaxChunkSize is the largest chunk size a peer may set (default 64 KiB);
	// MaxMessageSize the largest audio/video message in bytes (default 8 MiB). Both
	// are enforced by the chunk guard when a chunk header arrives, before go-rtmp
	// buffers anything; the chunk streams of a connection may hold at most
	// 2×MaxMessageSize+64 KiB of messages together, and a command or data message
	// at most 64 KiB.
	MaxChunkSize, MaxMessageSize int
	// TrackWait bounds the wall-clock time spent waiting for the announced tracks'
	// sequence headers before the stream starts with what it has (default 2 s; the
	// media bound is 1 s of timestamps).
	TrackWait time.Duration
	// RelayResumeWait is how long an RTMP player stays connected, receiving
	// nothing, after its stream's publisher dropped, waiting for the broadcast to
	// resume (default 5 min). It goes on with the resumed stream (timestamps
	// continue) and is closed, after what it was sent is flushed, when the
	// broadcast ends (OnPlay answers anything but ErrStreamInactive) or the wait
	// runs out.
	RelayResumeWait time.Duration
	// Upstream, on a node of a cluster, names the node that ingests stream id of
	// room roomUUID when a player asks for it and it is not published here: that
	// node's RTMP base URL (rtmp://host:port), or "" when no other node holds it.
	// The stream is then pulled from there, one connection per stream for all of
	// this node's players (relay_edge.go). nil: players play local publishes only.
	Upstream func(ctx context.Context, roomUUID string, id publish.StreamID) (string, error)
	// EdgeKey authenticates the pulls between nodes: the pulling node signs its
	// play request with it, and the holder accepts a signed request in place of a
	// viewer's streaming token. Every node of a cluster must have the same key;
	// empty, no pull is made or accepted.
	EdgeKey []byte

	// OnPublishStart validates key+mode and applies the "publish started"
	// transition. An error refuses the publish (NetStream.Publish.BadName) and
	// closes the connection.
	OnPublishStart func(ctx context.Context, req PublishRequest) (PublishGrant, error)
	// OnStreamReady is called when the tracks are known and the stream is registered
	// in Registry under g.StreamID.String(), before the first unit is written.
	OnStreamReady func(g PublishGrant, s *hub.Stream)
	// OnPublishStop is called exactly once per successful OnPublishStart.
	OnPublishStop func(g PublishGrant, reason publish.StopReason)
	// OnPlay authorizes an RTMP player of /play/{roomUUID}?streamingToken=… and
	// returns the StreamID to play. nil refuses every player. It is asked again
	// while a player waits for a dropped publisher to resume: ErrStreamInactive
	// (wrapped or not) then means "keep waiting".
	OnPlay func(ctx context.Context, roomUUID, streamingToken string) (publish.StreamID, error)
	// OnPlayerStart is called when an RTMP player of /play/{roomUUID} starts
	// playing and OnPlayerStop, exactly once for each, when its connection ends
	// (a player waiting for a dropped publisher to resume is still playing): the
	// viewers of a room counted by their connection. Both run on the player's
	// connection goroutines and must not block. Optional.
	OnPlayerStart, OnPlayerStop func(roomUUID string)
	// OnCapacity reports publish.CapacityNearLimit at 80 % and publish.CapacityLimited
	// at 100 % of MaxPublishers, once per upward crossing, and Admission's
	// crossings.
	OnCapacity func(event publish.CapacityEvent, current, limit int)
	// Admission, if set, refuses new publishers while the process is overloaded
	// (an *admission.Controller: CPU, scheduler latency, ingest backlog).
	// MaxPublishers stays the hard cap; live publishers are never stopped by it.
	Admission Admitter
	// OnHealth receives the health warnings raised or resolved (package
	// ingest/health), in order per publish: from the health sampler once a
	// second, and from a stopping publish (its active warnings, resolved with
	// publish.CausePublishStopped) before its OnPublishStop. It may block briefly
	// (a store write): the next sample waits.
	OnHealth func(changes []publish.HealthChange)
	// Registerer, if set, receives the per-stream health metrics
	// (roomcast_ingest_stream_*{stream_key_id}), collected from the live
	// publishes at scrape time.
	Registerer prometheus.Registerer

	ln         net.Listener
	srv        *rtmp.Server
	ctx        context.Context
	cancel     context.CancelFunc
	serveDone  chan struct{}
	loopDone   chan struct{}
	healthDone chan struct{}
	connWG     sync.WaitGroup
	healthMu   sync.Mutex // orders health reports (health_sampler.go)
	collector  *healthCollector

	mu         sync.Mutex
	closing    bool
	conns      map[*conn]struct{}
	publishers map[publish.StreamID]*publisher
	publishing int                      // publish slots in use (incl. pending OnPublishStart)
	capLevel   int                      // last capacity level reported: 0, 80, 100
	players    map[publish.StreamID]int // players per stream

	edges edgePulls // pulls from and to other nodes (relay_edge.go)

	refusedInputs atomic.Int64 // connections ended by the chunk guard
	writeCalls    atomic.Int64 // conn.Write calls (≈ write syscalls), for tests

	// chunkSize is the chunk size of what we send (0: DefaultSendChunkSize; tests
	// set 128 to measure go-rtmp's default).
	chunkSize uint32
	// playerQueue is the hub queue of a relay player in units (0: playerQueue;
	// tests that need every unit from a player slowed by a loaded machine raise it).
	playerQueue int
}

// DefaultSendChunkSize is the chunk size the server sends with (announced with Set
// Chunk Size after the handshake): nginx-rtmp's default. go-rtmp's 128 bytes cost
// a chunk header and a write syscall per 128 bytes of a relayed frame.
const DefaultSendChunkSize = 4096

// sendChunkSize is the chunk size we send with, within MaxChunkSize.
func (s *Server) sendChunkSize() uint32 {
	size := s.chunkSize
	if size == 0 {
		size = DefaultSendChunkSize
	}
	return min(size, uint32(s.MaxChunkSize))
}

// Initialize applies defaults, listens on Addr and starts serving.
func (s *Server) Initialize() error {
	if s.Registry == nil {
		return errors.New("ingest: Registry is required")
	}
	if s.OnPublishStart == nil {
		return errors.New("ingest: OnPublishStart is required")
	}
	if s.App == "" {
		s.App = "live"
	}
	if s.App == playApp {
		return fmt.Errorf("ingest: app %q is reserved for players", playApp)
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.Log = s.Log.With("component", "rtmp")
	setDefault(&s.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&s.IdleTimeout, DefaultIdleTimeout)
	setDefault(&s.WriteTimeout, DefaultWriteTimeout)
	setDefault(&s.TrackWait, DefaultTrackWait)
	setDefault(&s.RelayResumeWait, DefaultRelayResumeWait)
	setDefault(&s.MaxChunkSize, DefaultMaxChunkSize)
	setDefault(&s.MaxMessageSize, DefaultMaxMessageSize)

	s.conns = make(map[*conn]struct{})
	s.publishers = make(map[publish.StreamID]*publisher)
	s.players = make(map[publish.StreamID]int)
	if s.Registerer != nil {
		s.collector = newHealthCollector(s)
		if err := s.Registerer.Register(s.collector); err != nil {
			return fmt.Errorf("ingest: register health metrics: %w", err)
		}
		if err := s.registerEdgeMetrics(); err != nil {
			s.unregister()
			return fmt.Errorf("ingest: %w", err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.Admission != nil {
		if err := s.Admission.Start(s.ctx, admissionHost{s}, s.Log.With("component", "rtmp-admission")); err != nil {
			s.cancel()
			s.unregister()
			return fmt.Errorf("ingest: %w", err)
		}
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		s.cancel()
		s.waitAdmission()
		s.unregister()
		return fmt.Errorf("rtmp listen %s: %w", s.Addr, err)
	}
	s.ln = &trackedListener{Listener: ln, s: s}
	s.srv = rtmp.NewServer(&rtmp.ServerConfig{OnConnect: s.onConnect})
	s.serveDone = make(chan struct{})
	s.loopDone = make(chan struct{})
	s.healthDone = make(chan struct{})
	go s.serve()
	go s.runWatchdog()
	go s.runHealth()
	s.Log.Info("listening", "addr", ln.Addr().String(), "app", s.App)
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// ListenAddr returns the bound address (useful with port 0).
func (s *Server) ListenAddr() net.Addr { return s.ln.Addr() }

func (s *Server) serve() {
	defer close(s.serveDone)
	err := s.srv.Serve(s.ln)
	if err != nil && !errors.Is(err, rtmp.ErrClosed) {
		s.Log.Error("rtmp serve", "err", err)
	}
}

// Close stops accepting, ends every publisher with SERVER_SHUTDOWN (OnPublishStop is
// called for each), closes every connection and waits for all goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	_ = s.srv.Close()
	// go-rtmp's Close only closes a listener Serve has registered: a Close right
	// after Initialize, before serve ran, would leave Serve accepting forever.
	_ = s.ln.Close()
	<-s.serveDone
	for _, c := range conns {
		c.kill(publish.StopServerShutdown)
	}
	s.connWG.Wait()
	<-s.loopDone
	<-s.healthDone
	s.waitAdmission()
	s.unregister()
}

// unregister removes the health metrics from Registerer.
func (s *Server) unregister() {
	if s.collector != nil {
		s.Registerer.Unregister(s.collector)
	}
	for _, c := range s.edges.metrics {
		s.Registerer.Unregister(c)
	}
}

func (s *Server) waitAdmission() {
	if s.Admission != nil {
		s.Admission.Wait()
	}
}

// Kick ends the publish of streamID with reason (e.g. STORAGE_ERROR) and
// returns at once; it reports whether streamID was publishing here.
func (s *Server) Kick(streamID publish.StreamID, reason publish.StopReason) bool {
	return s.kick(streamID, reason) != nil
}

// StopPublish ends the publish of streamID with reason (KICKED, KEY_RESET,
// MAX_DURATION) and waits until it is finished (OnPublishStop returned) or ctx
// ends; it reports whether streamID was publishing here. Never call it from a
// goroutine the publish's finish waits for (the packager's): use Kick there.
func (s *Server) StopPublish(ctx context.Context, streamID publish.StreamID, reason publish.StopReason) bool {
	p := s.kick(streamID, reason)
	if p == nil {
		return false
	}
	select {
	case <-p.finished:
	case <-ctx.Done():
		s.Log.Warn("stop publish: still finishing", "stream", streamID, "reason", reason, "err", ctx.Err())
	}
	return true
}

// kick closes the connection of streamID's publisher with reason and returns it
// (nil when streamID is not publishing here).
func (s *Server) kick(streamID publish.StreamID, reason publish.StopReason) *publisher {
	s.mu.Lock()
	p := s.publishers[streamID]
	s.mu.Unlock()
	if p != nil {
		p.c.kill(reason)
	}
	return p
}

// runWatchdog ends publishers that sent no media for IdleTimeout.
func (s *Server) runWatchdog() {
	defer close(s.loopDone)
	tick := min(s.IdleTimeout/4, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			var idle []*publisher
			for _, p := range s.publishers {
				if now.Sub(time.Unix(0, p.lastMedia.Load())) > s.IdleTimeout {
					idle = append(idle, p)
				}
			}
			s.mu.Unlock()
			for _, p := range idle {
				p.log.Warn("no media, ending publish", "idle", s.IdleTimeout)
				p.c.kill(publish.StopIdleTimeout)
			}
		}
	}
}

// onConnect is go-rtmp's per-connection hook, called on the connection goroutine
// before the handshake.
func (s *Server) onConnect(nc net.Conn) (io.ReadWriteCloser, *rtmp.ConnConfig) {
	c := &conn{Conn: nc, s: s, log: s.Log.With("conn", nc.RemoteAddr().String()),
		guard: newChunkGuard(s.MaxChunkSize, s.MaxMessageSize)}
	_ = nc.SetDeadline(time.Now().Add(s.HandshakeTimeout))
	s.mu.Lock()
	closing := s.closing
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if closing {
		c.kill(publish.StopServerShutdown)
	}
	lg := logrus.New()
	lg.Out = io.Discard
	return c, &rtmp.ConnConfig{
		Handler: &handler{c: c, s: s},
		// go-rtmp reads each chunk body (4 KiB from OBS and ffmpeg) with a read of
		// the chunk size, which bypasses a 4 KiB (default) bufio.Reader: one read
		// syscall per chunk. 32 KiB batches a frame's chunks into one or two reads.
		ReaderBufferSize: readBufferSize,
		// a whole chunk (header and payload) in go-rtmp's bufio.Writer, flushed
		// after each chunk: one write syscall per chunk
		WriterBufferSize: int(s.sendChunkSize()) + maxChunkHeader,
		// go-rtmp v0.0.7 does not enforce MaxMessageSize; the chunk guard does.
		ControlState: rtmp.StreamControlStateConfig{
			MaxChunkSize:      uint32(s.MaxChunkSize),
			MaxMessageSize:    uint32(s.MaxMessageSize),
			MaxChunkStreams:   maxChunkStreams,
			MaxMessageStreams: maxCreateStreams + 1, // and the control stream
		},
		Logger: lg,
	}
}

// readBufferSize is the size of go-rtmp's bufio.Reader on each connection.
const readBufferSize = 32 << 10

// errTooManyPublishers: reservePublisher refused at MaxPublishers (the hard cap).
var errTooManyPublishers = errors.New("too many publishers")

// reservePublisher takes a publish slot, or says why there is none: MaxPublishers
// is reached, or Admission's error.
func (s *Server) reservePublisher() error {
	s.mu.Lock()
	full, n := s.fullLocked()
	s.mu.Unlock()
	if !full && s.Admission != nil {
		if err := s.Admission.Admit(n); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if full, n = s.fullLocked(); full { // checked again: admitting took no slot
		s.mu.Unlock()
		s.Log.Warn("max publishers reached, refusing publisher", "limit", s.MaxPublishers, "current", n)
		if s.Admission != nil {
			s.Admission.RefusedAtLimit()
		}
		return errTooManyPublishers
	}
	s.publishing++
	events := s.capacityLocked()
	n = s.publishing
	s.mu.Unlock()
	s.emitCapacity(events, n)
	return nil
}

// fullLocked reports whether MaxPublishers slots are in use, and how many are.
func (s *Server) fullLocked() (bool, int) {
	return s.MaxPublishers > 0 && s.publishing >= s.MaxPublishers, s.publishing
}

func (s *Server) releasePublisher() {
	s.mu.Lock()
	s.publishing--
	s.capacityLocked()
	s.mu.Unlock()
}

// capacityLocked updates capLevel and returns the events of an upward crossing.
func (s *Server) capacityLocked() []publish.CapacityEvent {
	if s.MaxPublishers <= 0 {
		return nil
	}
	level := 0
	if s.publishing*5 >= s.MaxPublishers*4 {
		level = 80
	}
	if s.publishing >= s.MaxPublishers {
		level = 100
	}
	var events []publish.CapacityEvent
	if level >= 80 && s.capLevel < 80 {
		events = append(events, publish.CapacityNearLimit)
	}
	if level == 100 && s.capLevel < 100 {
		events = append(events, publish.CapacityLimited)
	}
	s.capLevel = level
	return events
}

func (s *Server) emitCapacity(events []publish.CapacityEvent, current int) {
	for _, e := range events {
		s.Log.Warn("publisher capacity", "event", e, "current", current, "limit", s.MaxPublishers)
		if s.OnCapacity != nil {
			s.OnCapacity(e, current, s.MaxPublishers)
		}
	}
}

// trackedListener counts accepted connections in connWG before go-rtmp starts their
// goroutine; conn.Close (go-rtmp's last step) marks them done.
//
// go-rtmp's accept loop retries a failed Accept at once, so a persistent failure
// (EMFILE: out of descriptors) would spin a core. Accept therefore retries failures
// itself with net/http's backoff (5 ms doubling to 1 s), logging at most once per
// acceptLogInterval, and returns only when the listener is closed.
type trackedListener struct {
	net.Listener
	s *Server

	failing  bool      // the last Accept failed (only the serve goroutine touches these)
	failures int       // failures since the last log line
	loggedAt time.Time // when the last failure was logged
}

// Accept backoff bounds (net/http's Server.Serve) and the log rate limit.
const (
	acceptMinDelay    = 5 * time.Millisecond
	acceptMaxDelay    = time.Second
	acceptLogInterval = 10 * time.Second
)

// Accept returns the next connection, retrying failures with backoff until the
// listener is closed or the server is closing.
func (l *trackedListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err == nil {
			l.recovered()
			l.s.connWG.Add(1)
			return nc, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		delay = min(max(2*delay, acceptMinDelay), acceptMaxDelay)
		l.failed(err, delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.s.ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("accept: %w", err)
		}
	}
}

// failed logs an accept failure, at most once per acceptLogInterval.
func (l *trackedListener) failed(err error, delay time.Duration) {
	l.failing = true
	l.failures++
	now := time.Now()
	if now.Sub(l.loggedAt) < acceptLogInterval {
		return
	}
	l.s.Log.Warn("accept failed, retrying", "err", err, "retry_in", delay, "failures", l.failures)
	l.loggedAt, l.failures = now, 0
}

// recovered logs the first successful accept after failures.
func (l *trackedListener) recovered() {
	if !l.failing {
		return
	}
	l.s.Log.Info("accept recovered", "unlogged_failures", l.failures)
	l.failing, l.failures, l.loggedAt = false, 0, time.Time{}
}

// admissionHost is the Server as its Admission sees it (admission.Host).
type admissionHost struct{ s *Server }

// Publishers is the number of publish slots in use.
func (h admissionHost) Publishers() int {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.s.publishing
}

// AppendLags appends every publisher's ingest backlog to dst.
func (h admissionHost) AppendLags(dst []time.Duration) []time.Duration {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for _, p := range h.s.publishers {
		dst = append(dst, p.backlog.Value())
	}
	return dst
}

// Capacity passes an admission capacity event to OnCapacity.
func (h admissionHost) Capacity(event publish.CapacityEvent, current, limit int) {
	if h.s.OnCapacity != nil {
		h.s.OnCapacity(event, current, limit)
	}
}
