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
)

// playerQueue is the hub queue of an RTMP player in units (~8 s of 30 fps A/V).
const playerQueue = 512

// player relays one hub stream to an RTMP player (MediaMTX servers/rtmp runRead):
// a hub reader that starts with the sequence headers and the cached GOP, sends each
// unit as an FLV tag and skips to the next key frame when it falls behind.
//
// Timestamps are rebased per player: its first unit goes out at 0 (as nginx-rtmp
// does without atc). go-rtmp v0.0.7 writes no extended timestamp after type-3
// headers, which ffmpeg and every spec reader expect when the message's header
// field is 0xffffff: a type-0 header at ≥ 0xffffff ms (4 h 39 min) followed by
// continuation chunks would desync them. go-rtmp writes a type-0 header for the
// first message of each chunk stream — near 0 after rebasing — and when a
// timestamp goes back, which hub DTS never do per track (audio and video each have
// their chunk stream); later messages carry deltas. So the field reaches 0xffffff
// only for a gap of 4 h 39 min between two messages of a track.
type player struct {
	h        *handler
	log      *slog.Logger
	stream   *hub.Stream
	streamID string
	sid      uint32
	reader   *hub.Reader
	sent     map[int]*hub.Track // last sequence header sent per track ID
	hdr      []byte
	base     time.Duration // DTS of the first unit sent: relayed as 0
	based    bool
	done     chan struct{}
	stopOnce sync.Once
	ctx      context.Context // cancelled by stop: aborts a blocked write
	cancel   context.CancelFunc
}

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
	streamID, err := h.s.OnPlay(h.s.ctx, room, q.Get("streamingToken"))
	if err != nil {
		h.c.log.Warn("refusing player", "room", room, "err", err) // never the token
		return err
	}
	st := h.s.Registry.Lookup(streamID)
	if st == nil {
		h.c.log.Warn("refusing player: stream not live", "room", room)
		return errors.New("stream not live")
	}
	if !h.s.addPlayer(streamID) {
		h.c.log.Warn("refusing player: max players per stream", "room", room)
		return errors.New("too many players")
	}
	p := &player{h: h, log: h.c.log.With("play", streamID), stream: st, streamID: streamID,
		sid: sc.StreamID, sent: map[int]*hub.Track{}, done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(h.s.ctx)
	p.reader = &hub.Reader{StartWithGOP: true, QueueSize: playerQueue, OnUnit: p.onUnit,
		Name: "rtmp " + h.c.RemoteAddr().String()}
	h.c.noReadLimit.Store(true) // players send nothing for long stretches
	h.notifyStatus(sc.StreamID, ts, message.NetStreamOnStatusLevelStatus, "NetStream.Play.Reset", "Playing and resetting.")
	h.notifyStatus(sc.StreamID, ts, message.NetStreamOnStatusLevelStatus, message.NetStreamOnStatusCodePlayStart, "Started playing.")
	if err := st.AddReader(p.reader); err != nil {
		p.cancel()
		h.s.removePlayer(streamID)
		return err
	}
	h.player = p
	h.s.connWG.Add(1)
	go p.run()
	p.log.Info("player started")
	return nil
}

// run waits for the end of the stream, the reader's error or the connection's close,
// then detaches the reader and closes the connection.
func (p *player) run() {
	defer p.h.s.connWG.Done()
	var err error
	select {
	case err = <-p.reader.Err():
	case <-p.done:
	}
	p.cancel()
	p.stream.RemoveReader(p.reader)
	p.h.s.removePlayer(p.streamID)
	p.log.Info("player stopped", "err", err, "dropped", p.reader.Dropped())
	p.h.c.kill(StopConnectionError)
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

// timestamp is dts relative to the player's first unit, in ms (0 for units of the
// cached GOP older than it, e.g. audio just before the key frame).
func (p *player) timestamp(dts time.Duration) uint32 {
	if !p.based {
		p.base, p.based = dts, true
	}
	return flv.Timestamp(max(dts-p.base, 0))
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

func (s *Server) addPlayer(streamID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.MaxPlayersPerStream > 0 && s.players[streamID] >= s.MaxPlayersPerStream {
		return false
	}
	s.players[streamID]++
	return true
}

func (s *Server) removePlayer(streamID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.players[streamID]--; s.players[streamID] <= 0 {
		delete(s.players, streamID)
	}
}
