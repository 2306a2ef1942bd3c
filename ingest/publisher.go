package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomcast/roomcast/ingest/admission"
	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/health"
	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/publish"
)

const (
	tagAudio = flv.TagAudio
	tagVideo = flv.TagVideo
	// trackMediaWait: stop waiting for announced tracks after this much media.
	trackMediaWait = time.Second
	// maxDetectBytes bounds what is buffered while tracks are detected.
	maxDetectBytes = 16 << 20
	// maxBadRun ends a stream after this many consecutive undecodable tags.
	maxBadRun = 100
)

// publisher is one publish: FLV tags in, hub units out (MediaMTX "to_stream").
// All methods run on the connection's goroutine, except lastMedia (atomic) which
// the watchdog reads.
type publisher struct {
	h     *handler
	c     *conn
	s     *Server
	log   *slog.Logger
	grant PublishGrant
	sid   uint32

	lastMedia atomic.Int64      // unix nanos
	backlog   admission.Backlog // media time behind wall clock (admission control reads it)
	meter     *health.Meter     // fed every unit; sampled by the Server's health sampler

	// track detection
	detecting   bool
	hints       flv.Metadata
	hinted      bool
	probe       flv.Demuxer
	pending     []flv.Tag
	pendingSize int
	firstTS     uint32
	detectStart time.Time

	dmx    *flv.Demuxer
	stream *hub.Stream
	kinds  map[int]bool // track ID -> is video, for the tracks the stream was created with

	scratch  []byte // reused read buffer
	winStart time.Time
	winBytes int64
	badRun   int
	bad      int
	warned   map[error]bool

	finishOnce sync.Once
	finished   chan struct{} // closed when finish is done (OnPublishStop returned)
}

func newPublisher(h *handler, g PublishGrant, sid uint32) *publisher {
	now := time.Now()
	p := &publisher{h: h, c: h.c, s: h.s, grant: g, sid: sid, detecting: true,
		log: h.c.log.With("stream", g.StreamID), winStart: now, warned: map[error]bool{},
		finished: make(chan struct{})}
	p.lastMedia.Store(now.UnixNano())
	p.meter = &health.Meter{StreamID: g.StreamID, RemoteAddr: h.c.RemoteAddr().String(), FlashVer: h.flashVer,
		Start: now}
	p.meter.Initialize()
	return p
}

// metadata records onMetaData track hints while detecting. RTMP interleaves chunk
// streams, so the metadata may complete after the first sequence headers.
func (p *publisher) metadata(data []byte) error {
	m, ok := flv.ParseMetadata(data)
	if ok && m.Encoder != "" {
		p.meter.SetEncoder(m.Encoder)
	}
	if !ok || !p.detecting {
		return nil
	}
	p.hints, p.hinted = m, true
	if len(p.pending) == 0 {
		return nil
	}
	return p.maybeStart(p.pending[len(p.pending)-1].Timestamp, time.Now())
}

// push handles one audio/video message. An error ends the connection; the reason
// is recorded first.
func (p *publisher) push(typ uint8, ts uint32, payload io.Reader) error {
	data, err := readPayload(payload, &p.scratch, p.s.MaxMessageSize)
	if err != nil {
		return p.fail(publish.StopInvalidMedia, err)
	}
	now := time.Now()
	p.lastMedia.Store(now.UnixNano())
	p.backlog.Observe(ts, now)
	if err := p.checkBitrate(now, len(data)); err != nil {
		return err
	}
	tag := flv.Tag{Type: typ, Timestamp: ts, Data: data}
	if p.detecting {
		return p.detect(tag, now)
	}
	return p.demux(tag, now)
}

// readPayload copies a message body out of go-rtmp's reusable buffer into one
// allocation of exactly the body's size, which the hub.Unit then owns. go-rtmp's
// payload reader does not tell the body's length, so the bytes go through the
// connection's scratch buffer first (reused across messages: no allocation).
func readPayload(r io.Reader, scratch *[]byte, limit int) ([]byte, error) {
	buf := (*scratch)[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, fmt.Errorf("message exceeds %d bytes", limit)
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read message: %w", err)
		}
	}
	*scratch = buf
	if len(buf) > limit {
		return nil, fmt.Errorf("message of %d bytes exceeds %d", len(buf), limit)
	}
	return bytes.Clone(buf), nil
}

// checkBitrate ends the publish when more than MaxBitrate × bitrateWindow bits
// arrive within one window (fixed windows; a burst of up to one window is allowed).
func (p *publisher) checkBitrate(now time.Time, n int) error {
	if p.s.MaxBitrate <= 0 {
		return nil
	}
	if now.Sub(p.winStart) >= bitrateWindow {
		p.winStart, p.winBytes = now, 0
	}
	p.winBytes += int64(n)
	budget := p.s.MaxBitrate * int64(bitrateWindow/time.Millisecond) / 8000 // bytes per window
	if p.winBytes > budget {
		return p.fail(publish.StopBitrateExceeded, fmt.Errorf("more than %d bytes within %v (max %d bit/s)",
			budget, bitrateWindow, p.s.MaxBitrate))
	}
	return nil
}

// fail records reason, logs and returns an error that closes the connection.
func (p *publisher) fail(reason publish.StopReason, err error) error {
	p.c.reason.CompareAndSwap(nil, &reason)
	p.log.Warn("ending publish", "reason", reason, "err", err)
	return fmt.Errorf("%s: %w", reason, err)
}

// detect buffers tags until the tracks to publish are known: the announced (or
// both) sequence headers, 1 s of media, or TrackWait of wall clock.
func (p *publisher) detect(tag flv.Tag, now time.Time) error {
	if len(p.pending) == 0 {
		p.firstTS, p.detectStart = tag.Timestamp, now
	}
	p.pending = append(p.pending, tag)
	p.pendingSize += len(tag.Data)
	if _, err := p.probe.Push(tag); errors.Is(err, flv.ErrInvalidConfig) {
		return p.fail(publish.StopInvalidMedia, err)
	}
	return p.maybeStart(tag.Timestamp, now)
}

// maybeStart starts the stream when the tracks are known or the wait is over.
func (p *publisher) maybeStart(ts uint32, now time.Time) error {
	v, a := p.probe.Video() != nil, p.probe.Audio() != nil
	complete := v && a
	if p.hinted && (v || a) {
		complete = (v || !p.hints.HasVideo) && (a || !p.hints.HasAudio)
	}
	timeUp := ts-p.firstTS >= uint32(trackMediaWait/time.Millisecond) ||
		now.Sub(p.detectStart) >= p.s.TrackWait || p.pendingSize > maxDetectBytes
	if !complete && !timeUp {
		return nil
	}
	return p.start(now)
}

// start creates the hub stream from the detected tracks, registers it and writes
// the buffered units.
func (p *publisher) start(now time.Time) error {
	hasVideo, hasAudio := p.probe.Video() != nil, p.probe.Audio() != nil
	if !hasVideo && !hasAudio {
		return p.fail(publish.StopInvalidMedia, errors.New("no decodable track in the first second"))
	}
	p.dmx = &flv.Demuxer{VideoTrackID: 1, AudioTrackID: 2}
	if !hasVideo {
		p.dmx.AudioTrackID = 1
	}
	var units []*hub.Unit
	for _, t := range p.pending {
		u, err := p.dmx.Push(t)
		if err != nil {
			if ferr := p.mediaError(err); ferr != nil {
				return ferr
			}
			continue
		}
		if u != nil {
			units = append(units, u)
		}
	}
	p.pending, p.detecting = nil, false
	tracks := p.dmx.Tracks()
	p.kinds = make(map[int]bool, len(tracks))
	for _, t := range tracks {
		p.kinds[t.ID] = t.IsVideo()
	}
	st := &hub.Stream{Key: p.grant.StreamID.String(), Tracks: tracks, GOPCache: p.grant.Mode.HasRTMP(),
		Log: p.log}
	if err := st.Initialize(); err != nil {
		return p.fail(publish.StopInvalidMedia, err)
	}
	if err := p.s.Registry.Publish(st); err != nil {
		return p.fail(publish.StopConnectionError, fmt.Errorf("register stream: %w", err))
	}
	p.stream = st
	p.log.Info("stream ready", "tracks", describeTracks(tracks))
	if p.s.OnStreamReady != nil {
		p.s.OnStreamReady(p.grant, st)
	}
	for _, u := range units {
		p.write(u, now)
	}
	return nil
}

func describeTracks(ts []*hub.Track) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%d:%s", t.ID, t.FourCC))
	}
	return out
}

func (p *publisher) demux(tag flv.Tag, now time.Time) error {
	repairs := p.dmx.Repairs
	u, err := p.dmx.Push(tag)
	if p.dmx.Repairs != repairs {
		p.meter.SetRepairs(int64(p.dmx.Repairs), int64(p.bad))
	}
	if err != nil {
		return p.mediaError(err)
	}
	p.badRun = 0
	if u != nil {
		p.write(u, now)
	}
	return nil
}

// write hands u to the hub unless its track was not part of the stream at start
// (a track appearing later cannot be added to running readers).
func (p *publisher) write(u *hub.Unit, now time.Time) {
	if video, ok := p.kinds[u.Track.ID]; !ok || video != u.Track.IsVideo() {
		return
	}
	u.NTP = now
	p.meter.Unit(u)
	p.stream.Write(u)
}

// mediaError decides what a demux error does: a broken codec configuration ends
// the stream; undecodable tags are dropped and counted, and end the stream when
// they keep coming; unsupported codecs are ignored (logged once).
func (p *publisher) mediaError(err error) error {
	switch {
	case errors.Is(err, flv.ErrInvalidConfig):
		return p.fail(publish.StopInvalidMedia, err)
	case errors.Is(err, flv.ErrUnsupportedCodec):
		if !p.warned[flv.ErrUnsupportedCodec] {
			p.warned[flv.ErrUnsupportedCodec] = true
			p.log.Warn("ignoring unsupported media", "err", err)
		}
		return nil
	}
	p.bad++
	p.badRun++
	p.meter.SetRepairs(int64(p.repairs()), int64(p.bad))
	if p.bad == 1 || p.bad%1000 == 0 {
		p.log.Warn("dropping undecodable tags", "count", p.bad, "err", err)
	}
	if p.badRun >= maxBadRun {
		return p.fail(publish.StopInvalidMedia, fmt.Errorf("%d undecodable tags in a row: %w", p.badRun, err))
	}
	return nil
}

// finish ends the publish once: unregister and close the stream, free the slot,
// resolve its active health warnings (OnHealth) and call OnPublishStop.
func (p *publisher) finish(reason publish.StopReason) {
	p.finishOnce.Do(func() {
		p.s.stopMeter(p.meter)
		if p.stream != nil {
			p.s.Registry.Unpublish(p.stream)
			p.stream.Close()
		}
		p.s.mu.Lock()
		if p.s.publishers[p.grant.StreamID] == p {
			delete(p.s.publishers, p.grant.StreamID)
		}
		p.s.mu.Unlock()
		p.s.releasePublisher()
		var units, bytes uint64
		if p.stream != nil {
			units, bytes = p.stream.Stats()
		}
		p.log.Info("publish stopped", "reason", reason, "units", units, "bytes", bytes,
			"dropped_tags", p.bad, "timestamp_repairs", p.repairs())
		if p.s.OnPublishStop != nil {
			p.s.OnPublishStop(p.grant, reason)
		}
		close(p.finished)
	})
}

func (p *publisher) repairs() int {
	if p.dmx == nil {
		return 0
	}
	return p.dmx.Repairs
}
