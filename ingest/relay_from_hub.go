package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/publish"
)

// playerQueue is the hub queue of an RTMP player in units (~8 s of 30 fps A/V)
// and playerQueueBytes in payload bytes (~21 s at 3 Mbit/s, ~3 s at 20): a player
// that falls further behind drops to the next key frame.
const (
	playerQueue      = 512
	playerQueueBytes = 8 << 20
)

// player relays a broadcast to an RTMP player (MediaMTX servers/rtmp runRead): a
// hub reader that starts with the sequence headers and the cached GOP, sends each
// unit as an FLV tag and skips to the next key frame when it falls behind. When the
// publisher drops, the player stays connected and waits (RelayResumeWait) for the
// broadcast to resume, then goes on with the new stream; when the broadcast ends it
// is closed after what it was sent is flushed.
//
// Timestamps are rebased per player: its first unit goes out at 0 (as nginx-rtmp
// does without atc), and a resumed stream continues just after the last timestamp
// sent, so players see one continuous stream. go-rtmp v0.0.7 writes no extended
// timestamp after type-3 headers, which ffmpeg and every spec reader expect when
// the message's header field is 0xffffff: a type-0 header at ≥ 0xffffff ms (4 h 39
// min) followed by continuation chunks would desync them. go-rtmp writes a type-0
// header for the first message of each chunk stream — near 0 after rebasing — and
// when a timestamp goes back, which relayed timestamps never do per track (audio
// and video each have their chunk stream); later messages carry deltas. So the
// field reaches 0xffffff only for a gap of 4 h 39 min between two messages of a
// track.
type player struct {
	h        *handler
	log      *slog.Logger
	room     string
	token    string // asked again (OnPlay) while waiting for a resume; never logged
	stream   *hub.Stream
	streamID publish.StreamID
	sid      uint32
	reader   *hub.Reader
	release  func()             // drops the player's hold on stream (a pull from another node)
	edge     bool               // a pull of another node (relay_edge.go), not a viewer
	sent     map[int]*hub.Track // last sequence header sent per track ID
	hdr      []byte
	base     time.Duration // DTS of the first unit sent from stream: relayed as offset
	offset   time.Duration // relayed time of the stream's first unit
	last     time.Duration // largest relayed time sent
	based    bool
	done     chan struct{}
	stopOnce sync.Once
	ctx      context.Context // cancelled by stop: aborts a blocked write
	cancel   context.CancelFunc
}

// resumeGap separates the last unit relayed from a dropped stream and the first of
// the resumed one (about a frame).
const resumeGap = 20 * time.Millisecond

// resumeRecheck is how often a waiting player asks OnPlay whether the broadcast
// ended (a resume wakes it at once through Registry.Changed).
const resumeRecheck = time.Second

// OnPlay authorizes the player through Server.OnPlay and attaches it to the stream.
func (h *handler) OnPlay(sc *rtmp.StreamContext, ts uint32, cmd *message.NetStreamPlay) (err error) {
	defer h.recover("play", &err)
	if h.pub != nil || h.player != nil || h.s.OnPlay == nil {
		return errors.New("play refused")
	}
	room, q, ok := splitTarget(h.connApp, cmd.StreamName, playApp)
	if !ok || room == "" {
		return ErrBadName
	}
	if cred := q.Get(edgeParam); cred != "" {
		return h.playEdge(sc, ts, room, cred)
	}
	token := q.Get("streamingToken")
	streamID, err := h.s.OnPlay(h.s.ctx, room, token)
	if err != nil {
		h.c.log.Warn("refusing player", "room", room, "err", err) // never the token
		return err
	}
	if !h.s.addPlayer(streamID) {
		h.c.log.Warn("refusing player: max players per stream", "room", room)
		return errors.New("too many players")
	}
	// the local publish, or a pull from the node that ingests it (relay_edge.go)
	st, release, err := h.s.source(h.s.ctx, room, streamID)
	if err != nil {
		h.s.removePlayer(streamID)
		h.c.log.Warn("refusing player: stream not live", "room", room, "err", err)
		return errNotLive
	}
	p := &player{h: h, log: h.c.log.With("play", streamID), room: room, token: token,
		streamID: streamID, sid: sc.StreamID, sent: map[int]*hub.Track{}, done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(h.s.ctx)
	h.c.liftReadLimit() // players send nothing for long stretches
	h.notifyStatus(sc.StreamID, ts, message.NetStreamOnStatusLevelStatus, "NetStream.Play.Reset", "Playing and resetting.")
	h.notifyStatus(sc.StreamID, ts, message.NetStreamOnStatusLevelStatus, message.NetStreamOnStatusCodePlayStart, "Started playing.")
	if err := p.attach(st, release); err != nil {
		p.cancel()
		h.s.removePlayer(streamID)
		return err
	}
	h.player = p
	if h.s.OnPlayerStart != nil {
		h.s.OnPlayerStart(room)
	}
	h.s.connWG.Add(1)
	go p.run()
	p.log.Info("player started")
	return nil
}

// attach makes st the stream the player reads; release is called when it stops
// reading it (also when attach fails).
func (p *player) attach(st *hub.Stream, release func()) error {
	queue := playerQueue
	if p.h.s.playerQueue > 0 {
		queue = p.h.s.playerQueue
	}
	r := &hub.Reader{StartWithGOP: true, QueueSize: queue, MaxBytes: playerQueueBytes, OnUnit: p.onUnit,
		Name: "rtmp " + p.h.c.RemoteAddr().String()}
	if p.based { // a resume: continue after the last timestamp sent
		p.offset, p.based = p.last+resumeGap, false
	}
	if err := st.AddReader(r); err != nil { // starts r's goroutine, the only one touching timestamps now
		release()
		return err
	}
	p.stream, p.reader, p.release = st, r, release
	return nil
}

// detach stops reading the current stream.
func (p *player) detach() {
	p.stream.RemoveReader(p.reader)
	p.release()
}

// run relays the stream and the streams that resume it, until the broadcast ends,
// the player leaves or a write fails; then it closes the connection.
func (p *player) run() {
	defer p.h.s.connWG.Done()
	defer func() {
		if p.edge {
			p.h.s.edges.served.Add(-1)
			return
		}
		p.h.s.removePlayer(p.streamID)
		if p.h.s.OnPlayerStop != nil {
			p.h.s.OnPlayerStop(p.room)
		}
	}()
	for {
		var err error
		select {
		case err = <-p.reader.Err():
		case <-p.done:
		}
		if !errors.Is(err, hub.ErrStreamClosed) {
			p.cancel() // aborts a blocked write
			p.detach()
			p.log.Info("player stopped", "err", err, "dropped", p.reader.Dropped())
			p.h.c.kill(publish.StopConnectionError)
			return
		}
		p.detach()  // drained: everything was sent
		if p.edge { // the pulling node looks for the resume itself
			p.log.Info("edge pull ended: publish over", "dropped", p.reader.Dropped())
			p.h.closeFlushed()
			p.cancel()
			p.h.c.kill(publish.StopConnectionError)
			return
		}
		p.log.Info("publisher gone, player waits for a resume", "dropped", p.reader.Dropped())
		ended, why := p.awaitResume()
		if why != "" {
			p.log.Info("player stopped", "why", why)
			if ended {
				p.h.closeFlushed()
			}
			p.cancel()
			p.h.c.kill(publish.StopConnectionError)
			return
		}
		p.log.Info("player resumed")
	}
}

// awaitResume waits for the broadcast's next stream and attaches it. Otherwise it
// says why not: ended is true when the broadcast ended or the wait ran out (the
// connection is closed gracefully), false when the player left or the server
// closes.
func (p *player) awaitResume() (ended bool, why string) {
	old := p.stream
	deadline := time.NewTimer(p.h.s.RelayResumeWait)
	defer deadline.Stop()
	tick := time.NewTicker(resumeRecheck)
	defer tick.Stop()
	for {
		changed := p.h.s.Registry.Changed()
		id, err := p.h.s.OnPlay(p.ctx, p.room, p.token)
		switch {
		case errors.Is(err, ErrStreamInactive):
		case err != nil && p.ctx.Err() == nil:
			return true, "broadcast over: " + err.Error()
		case err == nil:
			if p.resume(old, id) {
				return false, ""
			}
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			return true, "no resume within " + p.h.s.RelayResumeWait.String()
		case <-p.done:
			return false, "player left"
		case <-p.ctx.Done():
			return false, "server closing"
		}
	}
}

// resume attaches the broadcast's stream id, here or pulled from the node that
// ingests it, unless it is still old (the pull of a dropped stream not yet
// ended) or cannot be had yet (the node's stream is not ready: asked again).
func (p *player) resume(old *hub.Stream, id publish.StreamID) bool {
	st, release, err := p.h.s.source(p.ctx, p.room, id)
	if err != nil {
		if !errors.Is(err, errNotLive) && p.ctx.Err() == nil {
			p.log.Info("resume not available yet", "err", err)
		}
		return false
	}
	if st == old || !p.switchStream(id) {
		release()
		return false
	}
	return p.attach(st, release) == nil
}

// switchStream moves the player's count to id (a room whose stream key was reset
// between two sessions); false when id is full.
func (p *player) switchStream(id publish.StreamID) bool {
	if id == p.streamID {
		return true
	}
	if !p.h.s.addPlayer(id) {
		return false
	}
	p.h.s.removePlayer(p.streamID)
	p.streamID = id
	return true
}

func (p *player) stop() {
	p.stopOnce.Do(func() {
		p.cancel()
		close(p.done)
	})
}

// onUnit sends u, preceded by its track's sequence header when the track is new.
func (p *player) onUnit(u *hub.Unit) error {
	typ, csid := uint8(flv.TagAudio), csidAudio
	if u.Track.IsVideo() {
		typ, csid = flv.TagVideo, csidVideo
	}
	ts := p.timestamp(u.DTS)
	if p.sent[u.Track.ID] != u.Track {
		p.sent[u.Track.ID] = u.Track
		if err := p.send(typ, csid, ts, flv.AppendSequenceStart(nil, u.Track), nil); err != nil {
			return err
		}
	}
	p.hdr = flv.AppendFrameHeader(p.hdr[:0], u)
	return p.send(typ, csid, ts, p.hdr, u.Payload)
}

// timestamp is dts relative to the stream's first unit sent, plus the stream's
// offset, in ms (the offset for units of the cached GOP older than it, e.g. audio
// just before the key frame).
func (p *player) timestamp(dts time.Duration) uint32 {
	if !p.based {
		p.base, p.based = dts, true
	}
	t := p.offset + max(dts-p.base, 0)
	p.last = max(p.last, t)
	return flv.Timestamp(t)
}

func (p *player) send(typ uint8, csid int, ts uint32, hdr, payload []byte) error {
	var body io.Reader = bytes.NewReader(hdr)
	if payload != nil {
		body = io.MultiReader(body, bytes.NewReader(payload))
	}
	var msg message.Message = &message.AudioMessage{Payload: body}
	if typ == flv.TagVideo {
		msg = &message.VideoMessage{Payload: body}
	}
	// not while go-rtmp's goroutine handles a message (it may write a reply)
	p.h.c.loop.Lock()
	defer p.h.c.loop.Unlock()
	return p.h.writeCtx(p.ctx, p.sid, csid, ts, msg)
}

func (s *Server) addPlayer(streamID publish.StreamID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.MaxPlayersPerStream > 0 && s.players[streamID] >= s.MaxPlayersPerStream {
		return false
	}
	s.players[streamID]++
	return true
}

func (s *Server) removePlayer(streamID publish.StreamID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.players[streamID]--; s.players[streamID] <= 0 {
		delete(s.players, streamID)
	}
}
