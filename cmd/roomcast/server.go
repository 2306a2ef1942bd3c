package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"github.com/roomcast/roomcast/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"

	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/roomcast/roomcast/control"
	controlapi "github.com/roomcast/roomcast/control/api"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/chatsocket"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/ingest"
	"github.com/roomcast/roomcast/ingest/admission"
	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/objstore"
	"github.com/roomcast/roomcast/packager"
	"github.com/roomcast/roomcast/packager/headroom"
	"github.com/roomcast/roomcast/packager/viewers"
	pub "github.com/roomcast/roomcast/publish" // package main has a publish test helper
	"github.com/roomcast/roomcast/storage"
)

// server wires the components together; it owns them and closes them in order.
type server struct {
	Config Config
	Log    *slog.Logger

	store  *storage.Store
	etcd   *clientv3.Client    // --store etcd: the store's and the coordinator's client
	coord  cluster.Coordinator // cluster.Local on bbolt
	claims claims              // the publishes this node holds (cluster.go)
	react  reactor             // what this node does about other nodes' transitions (cluster_reactor.go)
	// clusterStop ends the goroutines of startCluster; clusterWG waits for them.
	clusterStop context.CancelFunc
	clusterWG   sync.WaitGroup
	// clusterNodes is the number of live nodes at the last registry update.
	clusterNodes atomic.Int64
	// nodeURLs maps the live nodes' IDs to their --node-url (edge fetches).
	nodeURLs     atomic.Pointer[map[string]string]
	sessionNodes sessionNodes // the nodes of recently played sessions (cluster.go)
	control      *control.Control
	api          *controlapi.Server
	broker       *events.Broker
	chat         *chatsocket.Server
	live         *liveStats
	streams      *hub.Registry
	packager     *packager.Packager
	objects      *objstore.Client // --object-store, nil without
	viewers      *viewers.Counter
	headroom     *headroom.Watcher
	ingest       *ingest.Server
	httpLn       net.Listener
	http         *http.Server
	pprof        *http.Server
	ops          *http.Server // operator socket (ops_socket.go)
	errCh        chan error
	wg           sync.WaitGroup
}

// Initialize opens the store, builds every component and starts the listeners.
// On error everything already started is closed again.
func (s *server) Initialize() error {
	if err := s.initialize(); err != nil {
		s.Close()
		return err
	}
	return nil
}

func (s *server) initialize() error {
	c := s.Config
	s.errCh = make(chan error, 3)
	if err := s.openStore(); err != nil {
		return err
	}
	store := s.store

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roomcast_cluster_nodes",
			Help: "Live nodes of the cluster as this node last listed them (1 on bbolt)."},
			func() float64 { return float64(s.clusterNodes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roomcast_node_publishers",
			Help: "Publishes this node ingests (and claims in the cluster)."},
			func() float64 { return float64(s.publishers()) }))
	for op, get := range map[string]func(storage.EngineStats) uint64{
		"read":     func(st storage.EngineStats) uint64 { return st.Reads },
		"commit":   func(st storage.EngineStats) uint64 { return st.Commits },
		"conflict": func(st storage.EngineStats) uint64 { return st.Conflicts },
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roomcast_store_etcd_requests_total",
			Help:        "Requests this node's store made to etcd: reads (range), commits (Txn), conflicts (commits refused because another node wrote first; retried). 0 on bbolt.",
			ConstLabels: prometheus.Labels{"op": op}},
			func() float64 { return float64(get(s.store.EngineStats())) }))
	}

	s.viewers = &viewers.Counter{Log: s.Log.With("component", "viewers"), Registerer: reg, OnPeaks: s.onPeaks}
	if err := s.viewers.Initialize(); err != nil {
		s.viewers = nil
		return fmt.Errorf("initialize viewer counter: %w", err)
	}
	s.broker = &events.Broker{Store: store, Log: s.Log.With("component", "events")}
	s.live = &liveStats{viewerStats: viewerStats{s.viewers}}
	s.control = &control.Control{
		Live:            s.live,
		Events:          s.broker,
		Store:           store,
		Log:             s.Log.With("component", "control"),
		PublicHTTPURL:   c.PublicHTTPURL,
		PublicRTMPURL:   c.PublicRTMPURL,
		RTMPApp:         c.RTMPApp,
		TokenTTL:        c.TokenTTL,
		OnKick:          s.onKick,
		MaxLiveDuration: c.MaxLiveDuration,
		AutoCloseUnit:   c.AutoCloseUnit,
		NodeID:          c.NodeID,
	}
	if c.Store == "etcd" {
		s.control.RoomLocker = roomLocker{s.coord}
	}
	if err := s.control.Initialize(); err != nil {
		return fmt.Errorf("initialize control: %w", err)
	}
	// One moderator for every member message (its refusal counter is in /metrics).
	moderator := &chat.Moderator{Registerer: reg}
	if err := moderator.Initialize(); err != nil {
		return fmt.Errorf("initialize chat moderation: %w", err)
	}
	s.chat = &chatsocket.Server{Control: s.control, Events: s.broker, Moderator: moderator,
		Log: s.Log.With("component", "chatsocket")}
	s.api = &controlapi.Server{
		Nodes:       s.coord.Nodes,
		Moderator:   moderator,
		Control:     s.control,
		EventSource: s.broker,
		ChatSocket:  s.chat,
		BodyLimit:   c.BodyLimit,
		MaxInFlight: unlimitedIfZero(c.MaxAPIRequests),
		Registry:    reg,
		Ready:       s.ready,
	}
	if err := s.api.Initialize(); err != nil {
		return fmt.Errorf("initialize api: %w", err)
	}
	s.broker.Channels = s.control
	s.broker.Lead = s.coord.Lead
	s.initReactor()
	if c.Store == "etcd" {
		s.broker.OnEvent = s.onEvent
	}
	if err := s.broker.Initialize(); err != nil {
		s.broker = nil
		return fmt.Errorf("initialize events: %w", err)
	}
	if err := s.chat.Initialize(); err != nil {
		s.chat = nil
		return fmt.Errorf("initialize chat socket: %w", err)
	}
	if err := s.firstStart(); err != nil {
		return err
	}
	if err := s.startCluster(); err != nil { // stops publishes no live node holds
		return err
	}

	s.streams = &hub.Registry{}
	var err error
	if s.objects, err = s.openObjects(); err != nil {
		return err
	}
	s.packager = &packager.Packager{
		Dir:             filepath.Join(c.DataDir, "media"),
		SegmentDuration: c.SegmentDuration,
		PartDuration:    c.PartDuration,
		LiveWindow:      c.LiveWindow,
		Log:             s.Log.With("component", "packager"),
		VerifyToken:     s.verifyToken,
		SignKey:         s.mediaSignKey(),
		SignWindow:      c.MediaSigWindow,
		Upstream:        s.upstreamIfCluster(),
		OnViewer:        s.viewers.See,
		RoomInfo:        s.roomInfo,
		OnStreamFailed:  s.onPackagingFailed,
		VODFinished:     s.control.VODFinished,
		VODExpired:      s.vodExpired,
		VODRetention:    c.VODRetention,
		Objects:         s.objects,
		WaitStored:      s.waitStoredIfCluster(),
		Registerer:      reg,
	}
	if err := s.packager.Initialize(); err != nil {
		return fmt.Errorf("initialize packager: %w", err)
	}
	// after the packager, which creates the media directory
	s.headroom = &headroom.Watcher{
		Dir:          filepath.Join(c.DataDir, "media"),
		MinFreeBytes: c.DiskReserve,
		MinFreeFDs:   c.FDReserve,
		Log:          s.Log.With("component", "headroom"),
		Registerer:   reg,
	}
	if c.FDReserve == 0 {
		s.headroom.MinFreeFDs = -1
	}
	if err := s.headroom.Initialize(); err != nil {
		s.headroom = nil
		return fmt.Errorf("initialize headroom watcher: %w", err)
	}

	s.control.OnSessionLive = s.onSessionLive
	s.control.OnRoomEnded = s.onRoomEnded
	s.control.OnRoomDeleted = s.onRoomDeleted
	// rooms left ARCHIVING by a previous run (crash or shutdown mid-archive)
	archiving, err := s.control.ArchivingRooms(context.Background())
	if err != nil {
		return err
	}
	for _, room := range archiving {
		s.archiveOnce(room.UUID, room.Node) // in a cluster, the node of its last session
	}

	s.ingest = &ingest.Server{
		Addr:                c.RTMPAddr,
		App:                 c.RTMPApp,
		Log:                 s.Log,
		Registry:            s.streams,
		HandshakeTimeout:    c.HandshakeTimeout,
		IdleTimeout:         c.IdleTimeout,
		RelayResumeWait:     c.RelayResumeWait,
		Upstream:            s.rtmpUpstreamIfCluster(), // relay_edge.go
		EdgeKey:             s.edgeKey(),
		MaxPublishers:       c.MaxPublishers,
		MaxPlayersPerStream: c.MaxPlayers,
		MaxBitrate:          c.MaxBitrate,
		OnPublishStart:      s.onPublishStart,
		OnStreamReady:       s.onStreamReady,
		OnPublishStop:       s.onPublishStop,
		OnPlay:              s.onPlay,
		OnPlayerStart:       s.viewers.Join,
		OnPlayerStop:        s.viewers.Leave,
		OnCapacity:          s.onCapacity,
		OnHealth:            s.control.StreamHealthChanged,
		Registerer:          reg,
		Admission: &admission.Controller{
			MaxCPU:          c.MaxCPU,
			MaxSchedLatency: c.MaxSchedLatency,
			MaxLag:          c.MaxIngestLag,
			Registerer:      reg,
		},
	}
	if err := s.ingest.Initialize(); err != nil {
		s.ingest = nil
		return fmt.Errorf("start rtmp: %w", err)
	}
	s.live.rtmp.Store(s.ingest) // health lookups and kicks reach the ingest from now on
	if err := s.startOps(); err != nil {
		// Serving goes on; only `roomcast backup` needs the server stopped then.
		s.Log.Warn("operator socket unavailable: roomcast backup needs the server stopped", "err", err)
	}
	return s.startHTTP()
}

// firstStart creates the default app on an empty store.
func (s *server) firstStart() error {
	// EnsureDefaultApp logs where the credentials file is (never the secret).
	if _, _, err := s.control.EnsureDefaultApp(context.Background(), s.Config.DataDir, s.Config.AppKey, s.Config.AppSecret); err != nil {
		return fmt.Errorf("create default app: %w", err)
	}
	return nil
}

func (s *server) startHTTP() error {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s.api.Register(e)
	// Playback is the hot path: it bypasses echo and the REST middleware (the
	// packager has its own metrics), and segment files keep sendfile.
	root := http.NewServeMux()
	media := s.packager.Handler()
	for _, p := range []string{"/live/", "/vod/", "/watch/", "/time"} {
		root.Handle(p, media)
	}
	root.Handle("/", e)
	ln, err := net.Listen("tcp", s.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen http %s: %w", s.Config.HTTPAddr, err)
	}
	s.httpLn = ln
	guard := &controlapi.HTTPGuard{
		MaxConnsPerAddr: unlimitedIfZero(s.Config.MaxConnsPerIP),
		BodyTimeout:     s.Config.BodyTimeout,
		Log:             s.Log.With("component", "http"),
	}
	s.http = &http.Server{
		Handler:           guard.Handler(root),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	s.serve(s.http, guard.Listener(ln))
	if s.Config.PprofAddr != "" {
		pln, err := net.Listen("tcp", s.Config.PprofAddr)
		if err != nil {
			return fmt.Errorf("listen pprof %s: %w", s.Config.PprofAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		s.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		s.serve(s.pprof, pln)
	}
	return nil
}

func (s *server) serve(hs *http.Server, ln net.Listener) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errCh <- fmt.Errorf("http %s: %w", ln.Addr(), err)
		}
	}()
}

// unlimitedIfZero maps a flag's 0 (unlimited) to a component's negative value
// (its 0 means the default).
func unlimitedIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// Err reports a listener that failed while running.
func (s *server) Err() <-chan error { return s.errCh }

// HTTPAddr is the bound HTTP address (useful with port 0).
func (s *server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// RTMPAddr is the bound RTMP address.
func (s *server) RTMPAddr() string {
	if s.ingest == nil {
		return ""
	}
	return s.ingest.ListenAddr().String()
}

func (s *server) ready() error {
	if s.httpLn == nil || s.ingest == nil {
		return errors.New("listeners not up")
	}
	return s.headroom.Check()
}

// Close shuts down in the order that leaves rooms consistent: publishers first (rooms
// go LIVE_INACTIVE, segments are flushed), then the packager (an archive job in
// progress still records its outcome in control), HTTP, control, store.
func (s *server) Close() {
	if s.ingest != nil {
		s.ingest.Close()
	}
	if s.packager != nil {
		s.packager.Close()
	}
	if s.headroom != nil {
		s.headroom.Close()
	}
	if s.chat != nil {
		// Before the Broker (its chat events feed the sockets) and the HTTP
		// shutdown (which does not wait for upgraded connections): every socket
		// gets ERROR SERVER_SHUTDOWN and is closed.
		s.chat.Close()
	}
	if s.broker != nil {
		// Before the HTTP shutdown: it ends the SSE streams Shutdown would wait for.
		// Undelivered events stay in the outbox for the next start.
		s.broker.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	for _, hs := range []*http.Server{s.http, s.pprof, s.ops} {
		if hs != nil {
			if err := hs.Shutdown(ctx); err != nil {
				s.Log.Warn("http shutdown", "err", err)
				hs.Close()
			}
		}
	}
	s.wg.Wait()
	s.stopCluster()
	if s.control != nil {
		s.control.Close()
	}
	if s.viewers != nil {
		s.viewers.Close()
	}
	if s.coord != nil {
		// After the publishes stopped (their claims are released): leaves the
		// cluster, ending this node's leaderships.
		if err := s.coord.Close(); err != nil {
			s.Log.Warn("leave cluster", "err", err)
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.Log.Error("close store", "err", err)
		}
	}
	if s.etcd != nil {
		_ = s.etcd.Close()
	}
}

// --- seams: ingest → control / packager -------------------------------------------

func (s *server) onPublishStart(ctx context.Context, req ingest.PublishRequest) (ingest.PublishGrant, error) {
	if err := s.headroom.Check(); err != nil {
		return ingest.PublishGrant{}, fmt.Errorf("%w: %w", ingest.ErrUnavailable, err) // disk or descriptors below their reserve
	}
	ps, err := s.control.PublishStarted(ctx, req.StreamKey, req.Mode.String())
	if err != nil {
		return ingest.PublishGrant{}, err
	}
	if err := s.claimPublish(ctx, ps); err != nil {
		return ingest.PublishGrant{}, fmt.Errorf("%w: %w", ingest.ErrUnavailable, err)
	}
	// A resumed room's new session reaches the packager through OnSessionLive
	// (before the stream is ready; the packager keeps the binding until Attach).
	return ingest.PublishGrant{StreamID: pub.StreamID(ps.KeyID), Mode: ps.Mode}, nil
}

// onStreamReady packages every publish: the VOD is every live session whatever
// its mode (the mode decides what live viewers get; see onSessionLive).
func (s *server) onStreamReady(g ingest.PublishGrant, st *hub.Stream) {
	s.packager.Attach(g.StreamID.String(), st)
}

func (s *server) onPublishStop(g ingest.PublishGrant, reason pub.StopReason) {
	if err := s.control.PublishStopped(context.Background(), uint64(g.StreamID), reason.String()); err != nil {
		s.Log.Error("publish stopped", "stream", g.StreamID, "reason", reason, "err", err)
	}
	s.releasePublish(uint64(g.StreamID))
}

func (s *server) onPlay(ctx context.Context, roomUUID, token string) (pub.StreamID, error) {
	id, err := s.control.AuthorizePlay(ctx, roomUUID, token)
	if errors.Is(err, control.ErrPlayInactive) {
		return 0, fmt.Errorf("%w: %w", ingest.ErrStreamInactive, err)
	}
	if err != nil {
		return 0, err
	}
	return pub.StreamID(id), nil
}

// kickTimeout bounds how long a force end or key reset waits for the publisher's
// stop to be applied before it answers.
const kickTimeout = 5 * time.Second

// onKick disconnects the publisher of key keyID (force end, key reset, maximum
// live duration) and waits until its stop is applied; false when it does not
// publish here.
func (s *server) onKick(keyID uint64, reason pub.StopReason) bool {
	// The ingest is set once it listens: control's deadlines may fire from the
	// first moment (a room past its maximum live duration while the process was
	// down), when no key publishes yet.
	ing := s.live.rtmp.Load()
	if ing == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), kickTimeout)
	defer cancel()
	return ing.StopPublish(ctx, pub.StreamID(keyID), reason)
}

func (s *server) onCapacity(event pub.CapacityEvent, current, limit int) {
	s.control.IngestCapacity(event.String(), current, limit)
}

// onPackagingFailed stops a publish whose stream cannot be written: the publisher
// is disconnected with STORAGE_ERROR, so its room goes LIVE_INACTIVE with its
// events, and the encoder's reconnect resumes it (once headroom allows).
// Media the packager cannot handle ends the publish with INVALID_MEDIA instead.
func (s *server) onPackagingFailed(streamID string, err error) {
	reason := pub.StopInvalidMedia
	var pe *fs.PathError
	var le *os.LinkError
	var errno syscall.Errno
	if errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &errno) {
		reason = pub.StopStorageError
	}
	s.Log.Error("stream cannot be packaged, stopping its publish", "stream", streamID, "reason", reason, "err", err)
	s.headroom.Refresh()
	id, perr := pub.ParseStreamID(streamID) // the packager's key: a StreamID's String
	if perr != nil {
		s.Log.Error("packaging failed: bad stream id", "stream", streamID, "err", perr)
		return
	}
	s.ingest.Kick(id, reason)
}

// --- seams: control → packager --------------------------------------------------------

func (s *server) onSessionLive(si control.SessionInfo) {
	// In a cluster the node ingesting the key binds (this one, or another node's
	// reactor: cluster_reactor.go).
	if s.Config.Store != "etcd" || si.Node == s.coord.NodeID() {
		s.bindOnce(si)
	}
}

// packagerSession is the packager's view of a live session: a mode=RTMP session
// is recorded but not offered as live CMAF (no cmaf URLs).
func packagerSession(si control.SessionInfo) packager.Session {
	return packager.Session{AppID: si.AppID, RoomUUID: si.RoomUUID, SessionNo: si.SessionNo,
		RecordOnly: si.Mode == pub.ModeRTMP}
}

// verifyToken checks a streaming token without a store read: its app, and its
// member (the viewer the packager counts).
func (s *server) verifyToken(token string) (appID, memberID uint64, err error) {
	cl, err := s.control.VerifyStreamingToken(token)
	if err != nil {
		return 0, 0, err
	}
	return cl.AppID, cl.MemberID, nil
}

func (s *server) roomInfo(ctx context.Context, roomUUID string) (packager.RoomInfo, error) {
	v, err := s.control.Room(ctx, roomUUID)
	if errors.Is(err, control.ErrVideoRoomNotFound) {
		return packager.RoomInfo{}, packager.ErrRoomNotFound
	}
	if err != nil {
		return packager.RoomInfo{}, err
	}
	info := packager.RoomInfo{AppID: v.AppID, Title: v.Title, State: string(v.VideoRoomState),
		PlayURL: v.PlayURL, VODURL: v.VODURL}
	switch control.VideoRoomState(v.VideoRoomState) {
	case control.VideoRoomStateLive, control.VideoRoomStateLiveInactive:
		info.ViewerCount, _ = s.viewers.Viewers(roomUUID)
	}
	return info, nil
}

func (s *server) vodExpired(ctx context.Context, roomUUID string) error {
	err := s.control.VODExpired(ctx, roomUUID)
	if errors.Is(err, control.ErrVideoRoomNotFound) {
		return packager.ErrRoomNotFound
	}
	return err
}

// mediaSignKey is the key of the live media signatures (packager/sign.go),
// derived from the install secret, so that every node of a cluster signs alike;
// nil when --media-sig-window is 0 (media URIs carry the viewer's token).
func (s *server) mediaSignKey() []byte {
	if s.Config.MediaSigWindow <= 0 {
		return nil
	}
	m := hmac.New(sha256.New, s.store.InstallSecret())
	m.Write([]byte("roomcast live media signature"))
	return m.Sum(nil)
}

// waitStoredIfCluster is the packager's WaitStored on a cluster with an object
// store, nil otherwise.
func (s *server) waitStoredIfCluster() func(ctx context.Context, room string) error {
	if s.Config.Store != "etcd" || s.objects == nil {
		return nil
	}
	return s.waitRemoteStored
}

// upstreamIfCluster is the packager's Upstream on a cluster, nil on one node.
func (s *server) upstreamIfCluster() func(ctx context.Context, room string, no int) (string, error) {
	if s.Config.Store != "etcd" {
		return nil
	}
	return s.upstream
}
