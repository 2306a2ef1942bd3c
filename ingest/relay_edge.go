package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/publish"
)

// RTMP relay players on any node of a cluster (the edge). A player of a stream
// this node does not ingest is fed from a pull: one RTMP connection per stream
// from this node to the node that ingests it (Server.Upstream names it), played
// with an edge credential, whose media fill a local hub.Stream that every local
// player of that stream reads as it reads a local publish. The pull starts with
// the first player, is shared by the next ones (acquire/release count them) and
// ends when the last one leaves, when the holder ends it (its publish stopped)
// or when nothing arrives for IdleTimeout. The players then wait for a resume as
// after a local publish dropped; the resume is looked up again (it may be a
// local publish, or a pull from another node).
//
// The holder serves a pull as an edge player: authorized by the credential (an
// HMAC of room, stream ID and expiry under EdgeKey, which every node shares)
// instead of a viewer's streaming token, not counted as a viewer nor against
// MaxPlayersPerStream (one per stream per node), sent every track's sequence
// header before NetStream.Play.Start (so the pulling node knows the tracks before
// any unit: its players start as soon as a key frame arrives), and closed,
// flushed, when its stream ends rather than waiting for a resume.

// edgeParam is the play query parameter of an edge credential.
const edgeParam = "edge"

// edgeCredentialTTL is how long an edge credential may be presented after it was
// made (it is checked when a pull starts; the pull then lasts as long as the
// stream). The nodes' clocks must agree within it.
const edgeCredentialTTL = time.Minute

// edgeReadyTimeout bounds the wait of a player for the pull it joined to deliver
// its tracks.
const edgeReadyTimeout = 10 * time.Second

// maxHeldAudio bounds the audio units a pull holds until its first key frame.
const maxHeldAudio = 64

// errNotLive refuses a player whose stream is published nowhere.
var errNotLive = errors.New("stream not live")

// edgeCredential is the credential of a pull of stream id of room, valid until exp.
func edgeCredential(key []byte, room string, id publish.StreamID, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return id.String() + "." + e + "." + edgeMAC(key, room, id.String(), e)
}

func edgeMAC(key []byte, room, id, exp string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("roomcast rtmp edge\x00" + room + "\x00" + id + "\x00" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifyEdgeCredential returns the stream ID a credential grants for room.
func verifyEdgeCredential(key []byte, room, cred string, now time.Time) (publish.StreamID, error) {
	parts := strings.Split(cred, ".")
	if len(key) == 0 || len(parts) != 3 {
		return 0, errors.New("bad edge credential")
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !hmac.Equal([]byte(parts[2]), []byte(edgeMAC(key, room, parts[0], parts[1]))) {
		return 0, errors.New("bad edge credential")
	}
	if now.Unix() > exp {
		return 0, errors.New("edge credential expired")
	}
	id, err := publish.ParseStreamID(parts[0])
	if err != nil {
		return 0, fmt.Errorf("edge credential: %w", err)
	}
	return id, nil
}

// edgePulls are this node's pulls, one per stream ID, and the figures of both
// sides.
type edgePulls struct {
	mu    sync.Mutex
	pulls map[publish.StreamID]*edgePull

	active  atomic.Int64 // pulls running (this node as an edge)
	started atomic.Int64 // pulls started (the holder accepted them)
	failed  atomic.Int64 // pulls the holder refused or that could not connect
	served  atomic.Int64 // edge players this node serves to other nodes
	players atomic.Int64 // players of this node reading a pull
	metrics []prometheus.Collector
}

// edgePull is one upstream connection and the stream it fills.
type edgePull struct {
	id        publish.StreamID
	room, url string
	log       *slog.Logger
	refs      int                // players holding it (under edgePulls.mu)
	cancel    context.CancelFunc // ends the pull
	ready     chan struct{}      // closed once stream or err is set
	stream    *hub.Stream
	err       error
}

// source returns the stream a player of stream id (room) reads: the local
// publish, else a pull from the node Upstream names (shared with this node's
// other players of id). release is called once the player no longer reads it.
func (s *Server) source(ctx context.Context, room string, id publish.StreamID) (st *hub.Stream, release func(), err error) {
	if st := s.Registry.Lookup(id.String()); st != nil {
		return st, func() {}, nil
	}
	if s.Upstream == nil || len(s.EdgeKey) == 0 {
		return nil, nil, errNotLive
	}
	base, err := s.Upstream(ctx, room, id)
	if err != nil {
		return nil, nil, fmt.Errorf("find the node of stream %s: %w", id, err)
	}
	if base == "" {
		return nil, nil, errNotLive
	}
	return s.acquirePull(ctx, room, id, base)
}

// acquirePull joins the pull of id from base, starting it if there is none, and
// waits until it has delivered its tracks.
func (s *Server) acquirePull(ctx context.Context, room string, id publish.StreamID, base string) (*hub.Stream, func(), error) {
	e := &s.edges
	s.mu.Lock()
	closing := s.closing
	if !closing {
		s.connWG.Add(1) // released by runPull, or below when no pull starts
	}
	s.mu.Unlock()
	if closing {
		return nil, nil, errors.New("server closing")
	}
	e.mu.Lock()
	p := e.pulls[id]
	if p == nil || p.url != base { // none, or the session moved to another node
		pctx, cancel := context.WithCancel(s.ctx)
		p = &edgePull{id: id, room: room, url: base, cancel: cancel, ready: make(chan struct{}),
			log: s.Log.With("pull", id, "from", base)}
		if e.pulls == nil {
			e.pulls = map[publish.StreamID]*edgePull{}
		}
		e.pulls[id] = p
		go s.runPull(pctx, p)
	} else {
		s.connWG.Done()
	}
	p.refs++
	e.mu.Unlock()
	release := sync.OnceFunc(func() { s.releasePull(p) })
	t := time.NewTimer(edgeReadyTimeout)
	defer t.Stop()
	select {
	case <-p.ready:
	case <-ctx.Done():
		release()
		return nil, nil, ctx.Err()
	case <-t.C:
		release()
		return nil, nil, fmt.Errorf("pull from %s: no tracks within %v", base, edgeReadyTimeout)
	}
	if p.err != nil {
		release()
		return nil, nil, p.err
	}
	e.players.Add(1)
	return p.stream, sync.OnceFunc(func() {
		e.players.Add(-1)
		release()
	}), nil
}

// releasePull drops a player's hold on p; the last one ends the pull.
func (s *Server) releasePull(p *edgePull) {
	e := &s.edges
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.refs--; p.refs > 0 {
		return
	}
	if e.pulls[p.id] == p {
		delete(e.pulls, p.id)
	}
	p.cancel()
}

// runPull is the goroutine of one pull: it plays the stream on the holder and
// writes its units to the pull's stream until the holder ends it, it fails or it
// is cancelled; then the stream is closed (its players wait for a resume).
func (s *Server) runPull(ctx context.Context, p *edgePull) {
	defer s.connWG.Done()
	defer p.cancel()
	s.edges.active.Add(1)
	defer s.edges.active.Add(-1)
	start := time.Now()
	units, err := s.pull(ctx, p, start)
	s.edges.mu.Lock()
	if s.edges.pulls[p.id] == p {
		delete(s.edges.pulls, p.id) // the next player starts a new pull
	}
	s.edges.mu.Unlock()
	if p.stream == nil {
		p.err = err
		close(p.ready)
		if ctx.Err() == nil {
			s.edges.failed.Add(1)
			p.log.Warn("pull failed", "err", err)
		}
		return
	}
	p.stream.Close()
	if ctx.Err() != nil {
		err = nil // the last player left, or the server closes
	}
	p.log.Info("pull ended", "units", units, "lasted", time.Since(start).Round(time.Millisecond), "err", err)
}

// pull plays p's stream on its holder and relays it into p.stream, created with
// the tracks of the sequence headers sent before the play started.
func (s *Server) pull(ctx context.Context, p *edgePull, start time.Time) (units int, err error) {
	defer func() {
		if r := recover(); r != nil { // one pull's failure must not take the process down
			err = fmt.Errorf("panic in pull: %v", r)
		}
	}()
	cred := edgeCredential(s.EdgeKey, p.room, p.id, time.Now().Add(edgeCredentialTTL))
	c, headers, err := dialPull(ctx, p.url, p.room+"?"+edgeParam+"="+cred, s.HandshakeTimeout, s.IdleTimeout, s.MaxMessageSize)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	dmx := &flv.Demuxer{VideoTrackID: 1, AudioTrackID: 2}
	for _, h := range headers {
		if _, err := dmx.Push(h); err != nil {
			return 0, fmt.Errorf("sequence header from %s: %w", p.url, err)
		}
	}
	tracks := dmx.Tracks()
	kinds := make(map[int]bool, len(tracks))
	keyed := true // no video: nothing to wait for
	for _, t := range tracks {
		kinds[t.ID] = t.IsVideo()
		keyed = keyed && !t.IsVideo()
	}
	// The holder sends from a key frame on, but RTMP interleaves the chunks of
	// audio and video: audio sent just after that key frame may complete first.
	// It is held until the key frame is written (the stream's readers start at a
	// key frame and would drop it).
	var held []*hub.Unit
	st := &hub.Stream{Key: p.id.String(), Tracks: tracks, GOPCache: true, Log: p.log}
	if err := st.Initialize(); err != nil {
		return 0, fmt.Errorf("stream from %s: %w", p.url, err)
	}
	p.stream = st
	s.edges.started.Add(1)
	close(p.ready)
	p.log.Info("pull started", "tracks", describeTracks(tracks), "after", time.Since(start).Round(time.Millisecond))
	for {
		tag, err := c.media()
		if err != nil {
			return units, fmt.Errorf("read from %s: %w", p.url, err)
		}
		u, err := dmx.Push(tag)
		switch {
		case errors.Is(err, flv.ErrInvalidConfig):
			return units, fmt.Errorf("media from %s: %w", p.url, err)
		case err != nil: // a tag the demuxer drops: the publisher's side dropped it too
			continue
		case u == nil:
			continue
		}
		if video, ok := kinds[u.Track.ID]; !ok || video != u.Track.IsVideo() {
			continue // a track the stream did not start with
		}
		u.NTP = time.Now()
		if !keyed {
			if !u.Track.IsVideo() {
				if len(held) < maxHeldAudio {
					held = append(held, u)
				}
				continue
			}
			keyed = true
			p.stream.Write(u)
			for _, a := range held {
				p.stream.Write(a)
			}
			units += 1 + len(held)
			held = nil
			continue
		}
		p.stream.Write(u)
		units++
	}
}

// playEdge serves a pull of another node (OnPlay with an edge credential).
func (h *handler) playEdge(sc *rtmp.StreamContext, ts uint32, room, cred string) error {
	id, err := verifyEdgeCredential(h.s.EdgeKey, room, cred, time.Now())
	if err != nil {
		h.c.log.Warn("refusing edge pull", "room", room, "err", err) // never the credential
		return err
	}
	st := h.s.Registry.Lookup(id.String())
	if st == nil {
		h.c.log.Info("refusing edge pull: stream not live here", "room", room, "stream", id)
		return errNotLive
	}
	p := &player{h: h, log: h.c.log.With("edge_play", id), room: room, edge: true,
		streamID: id, sid: sc.StreamID, sent: map[int]*hub.Track{}, done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(h.s.ctx)
	h.c.liftReadLimit()
	h.notifyStatus(sc.StreamID, ts, message.NetStreamOnStatusLevelStatus, "NetStream.Play.Reset", "Playing and resetting.")
	// Every track's sequence header, then Play.Start: the pulling node knows the
	// tracks before the first unit. (On the connection goroutine, which holds the
	// loop: the player's writer has not started.)
	for _, t := range st.Tracks {
		var msg message.Message = &message.AudioMessage{Payload: bytes.NewReader(flv.AppendSequenceStart(nil, t))}
		csid := csidAudio
		if t.IsVideo() {
			msg, csid = &message.VideoMessage{Payload: bytes.NewReader(flv.AppendSequenceStart(nil, t))}, csidVideo
		}
		if err := h.write(sc.StreamID, csid, 0, msg); err != nil {
			p.cancel()
			return fmt.Errorf("edge pull: sequence header: %w", err)
		}
		p.sent[t.ID] = t
	}
	h.notifyStatus(sc.StreamID, ts, message.NetStreamOnStatusLevelStatus, message.NetStreamOnStatusCodePlayStart, "Started playing.")
	if err := p.attach(st, func() {}); err != nil {
		p.cancel()
		return err
	}
	h.player = p
	h.s.edges.served.Add(1)
	h.s.connWG.Add(1)
	go p.run()
	p.log.Info("edge pull served")
	return nil
}

// EdgeStats are the figures of the RTMP edge.
type EdgeStats struct {
	// Upstreams are the pulls running (this node feeding its players from
	// another node); Started counts the pulls started; Served are the pulls other
	// nodes run from this node; Players are this node's players reading a pull;
	// Failed counts the pulls refused by the holder or that could not connect (a
	// player waiting for a resume asks again every second).
	Upstreams, Started, Served, Players, Failed int64
}

// EdgeStats returns the figures of the RTMP edge.
func (s *Server) EdgeStats() EdgeStats {
	return EdgeStats{Upstreams: s.edges.active.Load(), Started: s.edges.started.Load(), Served: s.edges.served.Load(),
		Players: s.edges.players.Load(), Failed: s.edges.failed.Load()}
}

// registerEdgeMetrics exports EdgeStats to Registerer.
func (s *Server) registerEdgeMetrics() error {
	e := &s.edges
	e.metrics = []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roomcast_relay_edge_upstreams",
			Help: "RTMP pulls from other nodes running: one per stream that this node's RTMP players play and another node ingests."},
			func() float64 { return float64(e.active.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roomcast_relay_edge_upstreams_started_total",
			Help: "RTMP pulls from other nodes started (accepted by the holder)."},
			func() float64 { return float64(e.started.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roomcast_relay_edge_upstream_failures_total",
			Help: "RTMP pulls from other nodes that could not start (refused by the holder, or no connection)."},
			func() float64 { return float64(e.failed.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roomcast_relay_edge_players",
			Help: "RTMP players of this node fed by a pull from another node."},
			func() float64 { return float64(e.players.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roomcast_relay_edge_downstreams",
			Help: "RTMP pulls other nodes run from this node (one per stream per pulling node)."},
			func() float64 { return float64(e.served.Load()) }),
	}
	for i, c := range e.metrics {
		if err := s.Registerer.Register(c); err != nil {
			e.metrics = e.metrics[:i]
			return fmt.Errorf("register edge metrics: %w", err)
		}
	}
	return nil
}
