package packager

import (
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/timeline"
)

// maxJump is the largest forward DTS step accepted inside a segment; larger steps
// and any backward step start a new segment after a discontinuity.
const maxJump = 5 * time.Second

// segmentSink receives what the segmenter produces, on the segmenter's goroutine.
// The fragment bytes of a part (partOut.data) are only valid during the part call:
// the segmenter reuses one buffer per track, so the sink writes them out (to the
// segment file, from which parts and segments are served) before returning.
type segmentSink interface {
	// startSegment is called before the first part of a segment. version is the
	// init version; tracks is set when the version is new (first use).
	startSegment(s *segmentStart) error
	// part is called for each completed part.
	part(p *partOut) error
	// endSegment is called when a segment is complete (after its last part).
	endSegment(e *segmentEnd) error
}

// segmentStart describes a new segment.
type segmentStart struct {
	msn           uint64
	version       int
	newVersion    []*hub.Track // non-nil when version is used for the first time
	discontinuity bool
	// notIndependent: the segment does not start with a leader key frame (it
	// continues the GOP of the short first segment of a run).
	notIndependent bool
	pdt            time.Time
	// origin is the wall-clock time of DTS 0 of the current run (DASH timing).
	origin time.Time
}

// partOut is one part, all tracks.
type partOut struct {
	seq         uint64
	independent bool
	duration    time.Duration // leader
	tracks      []timeline.PartTrack
	data        [][]byte  // per track: the fragment (moof+mdat), nil when empty; valid during part only
	arrival     time.Time // NTP of the unit that completed the part
}

// segmentEnd closes a segment.
type segmentEnd struct {
	msn      uint64
	duration time.Duration // leader
	tracks   []timeline.SegmentTrack
	// next is true when the next segment starts at once (startSegment follows
	// in the same call), false at a flush (stream end, timestamp jump, codec
	// change).
	next bool
}

// sample is a queued access unit waiting for the next one to know its duration.
type sample struct {
	dts     int64
	ptsOff  int32
	key     bool
	payload []byte
}

// segTrack is the per-track state of the segmenter.
type segTrack struct {
	hub     *hub.Track
	ts      uint32
	video   bool
	pending sample
	has     bool
	lastDur uint32

	samples  []fmp4.Sample
	partBase int64

	// buf holds the fragment of the part being written; reused for every part (the
	// sink copies it to the segment file before the next part starts).
	buf     []byte
	segBase int64
	segDur  uint64
	segHas  bool
	partOff int
}

// segmenter cuts the units of one stream into CMAF fragments: one fMP4 fragment
// per track per part, parts of PartDuration, segments starting at a leader
// keyframe once SegmentDuration is reached. It owns no goroutine; write and finish
// are called by the stream's reader goroutine.
type segmenter struct {
	segmentDuration time.Duration
	partDuration    time.Duration
	sink            segmentSink

	tracks []*segTrack
	leader *segTrack

	inSegment     bool
	versionDirty  bool
	version       int
	discontinuity bool
	msn           uint64
	partSeq       uint64
	segStart      int64 // leader ticks
	runStart      int64 // leader ticks of the first keyframe after the start or a discontinuity
	partStart     int64 // leader ticks
	partIndep     bool
	// segKey is false while the segment in progress started without a leader key
	// frame; it then ends at the next key frame. firstOfRun marks the first segment
	// of a run, which ends at its first part boundary so that the stream is
	// playable (a complete segment exists) one part after the first key frame.
	segKey       bool
	firstOfRun   bool
	segDurTicks  int64
	partDurTicks int64
	origin       time.Time // wall clock of DTS 0
	arrival      time.Time

	early  []*hub.Unit // non-leader units that arrived before the leader's keyframe
	replay bool

	out   partOut
	end   segmentEnd
	start segmentStart
}

func newSegmenter(tracks []*hub.Track, segDur, partDur time.Duration, sink segmentSink) *segmenter {
	s := &segmenter{segmentDuration: segDur, partDuration: partDur, sink: sink, versionDirty: true, version: -1}
	for _, t := range tracks {
		st := &segTrack{hub: t, ts: uint32(t.ClockRate), video: t.IsVideo()}
		s.tracks = append(s.tracks, st)
		if s.leader == nil && st.video {
			s.leader = st
		}
	}
	if s.leader == nil && len(s.tracks) > 0 {
		s.leader = s.tracks[0]
	}
	s.out.tracks = make([]timeline.PartTrack, len(s.tracks))
	s.out.data = make([][]byte, len(s.tracks))
	s.end.tracks = make([]timeline.SegmentTrack, len(s.tracks))
	if s.leader != nil {
		s.segDurTicks = timeline.DurationToTicks(segDur, s.leader.ts)
		s.partDurTicks = timeline.DurationToTicks(partDur, s.leader.ts)
	}
	return s
}

func (s *segmenter) track(id int) *segTrack {
	for _, t := range s.tracks {
		if t.hub.ID == id {
			return t
		}
	}
	return nil
}

// write consumes one unit. It allocates nothing in steady state except when a part
// is complete (the fragment marshal).
func (s *segmenter) write(u *hub.Unit) error {
	t := s.track(u.Track.ID)
	if t == nil || u.Track.ClockRate <= 0 {
		return nil
	}
	if u.Track != t.hub {
		if err := s.reconfigure(t, u.Track); err != nil {
			return err
		}
	}
	dts := timeline.DurationToTicks(u.DTS, t.ts)
	if dts < 0 {
		return nil
	}
	if t.has && (dts < t.pending.dts || dts-t.pending.dts > timeline.DurationToTicks(maxJump, t.ts)) {
		// timestamps jumped: close what we have, restart at the next leader keyframe.
		if err := s.flush(); err != nil {
			return err
		}
		s.discontinuity = true
	}
	s.arrival = u.NTP
	if !s.inSegment {
		if t != s.leader {
			s.keepEarly(u)
			return nil
		}
		if t.video && !u.Key {
			return nil
		}
		if err := s.beginSegment(dts, u); err != nil {
			return err
		}
		s.replay = len(s.early) > 0
	}
	if err := s.queue(t, u, dts); err != nil {
		return err
	}
	if s.replay {
		// units of other tracks that came before the keyframe but belong after it
		s.replay = false
		early := s.early
		s.early = nil
		for _, e := range early {
			if err := s.write(e); err != nil {
				return err
			}
		}
		if s.early == nil {
			clear(early)
			s.early = early[:0]
		}
	}
	return nil
}

// keepEarly remembers a few units of other tracks until the leader starts.
func (s *segmenter) keepEarly(u *hub.Unit) {
	if len(s.early) == cap(s.early) && cap(s.early) > 0 {
		copy(s.early, s.early[1:])
		s.early = s.early[:len(s.early)-1]
	}
	if s.early == nil {
		s.early = make([]*hub.Unit, 0, 64)
	}
	s.early = append(s.early, u)
}

// queue holds u until the next unit of its track gives its duration, and adds the
// previous one to the part; the leader decides the cuts.
func (s *segmenter) queue(t *segTrack, u *hub.Unit, dts int64) error {
	if t != s.leader && dts < t.segStartFor(s) {
		return nil
	}
	next := sample{dts: dts, ptsOff: int32(timeline.DurationToTicks(u.PTS-u.DTS, t.ts)), key: u.Key || !t.video, payload: u.Payload}
	if !t.has {
		t.pending, t.has = next, true
		return nil
	}
	prev := t.pending
	t.pending = next
	dur := dts - prev.dts
	if dur <= 0 {
		dur = 1
	}
	t.lastDur = uint32(dur)
	s.add(t, prev, uint32(dur))
	if t != s.leader {
		return nil
	}
	return s.maybeCut(next)
}

// segStartFor returns the first DTS (in t's timescale) that belongs to the current
// run: samples before the leader's first keyframe are dropped.
func (t *segTrack) segStartFor(s *segmenter) int64 {
	return s.runStart * int64(t.ts) / int64(s.leader.ts)
}

// maybeCut ends the part (and the segment) before next when it is due. Segments
// end at a leader key frame once SegmentDuration is reached, or at the first key
// frame when they did not start with one; the first segment of a run ends with its
// first part (the next one then starts without a key frame).
func (s *segmenter) maybeCut(next sample) error {
	keyCut := next.key && (next.dts-s.segStart >= s.segDurTicks || !s.segKey)
	partDue := next.dts-s.partStart >= s.partDurTicks
	if !keyCut && !partDue {
		return nil
	}
	if err := s.finishPart(next.dts); err != nil {
		return err
	}
	if !keyCut && !s.firstOfRun {
		return nil
	}
	s.end.next = true
	if err := s.endSegment(); err != nil {
		return err
	}
	return s.startSegment(next.dts, next.key)
}

func (s *segmenter) add(t *segTrack, smp sample, dur uint32) {
	if len(t.samples) == 0 {
		t.partBase = smp.dts
		if t == s.leader {
			s.partIndep = smp.key
		}
	}
	if !t.segHas {
		t.segBase, t.segHas = smp.dts, true
	}
	t.samples = append(t.samples, fmp4.Sample{
		Duration:        dur,
		PTSOffset:       smp.ptsOff,
		IsNonSyncSample: !smp.key,
		Payload:         smp.payload,
	})
	t.segDur += uint64(dur)
}

func (s *segmenter) beginSegment(dts int64, u *hub.Unit) error {
	if s.origin.IsZero() || s.discontinuity {
		ntp := u.NTP
		if ntp.IsZero() {
			ntp = time.Now()
		}
		s.origin = ntp.Add(-u.DTS)
	}
	s.runStart = dts
	if err := s.startSegment(dts, true); err != nil {
		return err
	}
	s.firstOfRun = true
	return nil
}

func (s *segmenter) startSegment(dts int64, key bool) error {
	s.inSegment = true
	s.segStart, s.partStart = dts, dts
	s.segKey, s.firstOfRun = key, false
	s.start = segmentStart{
		msn:            s.msn,
		notIndependent: !key,
		discontinuity:  s.discontinuity,
		pdt:            s.origin.Add(timeline.TicksToDuration(uint64(dts), s.leader.ts)),
		origin:         s.origin,
	}
	if s.versionDirty {
		s.version++
		s.versionDirty = false
		s.start.newVersion = make([]*hub.Track, len(s.tracks))
		for i, t := range s.tracks {
			s.start.newVersion[i] = t.hub
		}
	}
	s.start.version = s.version
	s.discontinuity = false
	for _, t := range s.tracks {
		t.segHas, t.segDur, t.partOff = false, 0, 0
	}
	return s.sink.startSegment(&s.start)
}

// finishPart marshals the queued samples of every track as part partSeq.
func (s *segmenter) finishPart(end int64) error {
	s.out.seq = s.partSeq
	s.out.independent = s.partIndep
	s.out.duration = timeline.TicksToDuration(uint64(end-s.partStart), s.leader.ts)
	s.out.arrival = s.arrival
	for i, t := range s.tracks {
		pt := timeline.PartTrack{Offset: int64(t.partOff)}
		s.out.data[i] = nil
		if len(t.samples) > 0 {
			data := s.marshal(t)
			pt.Size, s.out.data[i] = len(data), data
			for _, smp := range t.samples {
				pt.Duration += uint64(smp.Duration)
			}
			t.partOff += len(data)
		}
		s.out.tracks[i] = pt
		clear(t.samples)
		t.samples = t.samples[:0]
	}
	s.partSeq++
	s.partStart = end
	s.partIndep = false
	return s.sink.part(&s.out)
}

// marshal writes the queued samples of t as one fragment into t's reused buffer.
func (s *segmenter) marshal(t *segTrack) []byte {
	t.buf = appendFragment(t.buf[:0], uint32(s.partSeq), t.hub.ID, uint64(t.partBase), t.samples)
	return t.buf
}

func (s *segmenter) endSegment() error {
	s.end.msn = s.msn
	s.end.duration = timeline.TicksToDuration(uint64(s.partStart-s.segStart), s.leader.ts)
	for i, t := range s.tracks {
		s.end.tracks[i] = timeline.SegmentTrack{
			File:     timeline.SegmentFile(timeline.TrackName(kindOf(t.hub), t.hub.ID), s.msn),
			BaseTime: uint64(t.segBase),
			Duration: t.segDur,
			Size:     int64(t.partOff),
		}
	}
	s.msn++
	s.inSegment = false
	err := s.sink.endSegment(&s.end)
	s.end.next = false
	return err
}

// flush ends the current segment: every pending sample gets the duration of the
// sample before it.
func (s *segmenter) flush() error {
	if !s.inSegment {
		for _, t := range s.tracks {
			t.has = false
		}
		return nil
	}
	end := s.partStart
	for _, t := range s.tracks {
		if !t.has {
			continue
		}
		dur := t.lastDur
		if dur == 0 {
			dur = defaultDuration(t.hub)
		}
		s.add(t, t.pending, dur)
		t.has = false
		if t == s.leader {
			end = t.pending.dts + int64(dur)
		}
	}
	if end > s.partStart || s.hasSamples() {
		if err := s.finishPart(end); err != nil {
			return err
		}
	}
	return s.endSegment()
}

func (s *segmenter) hasSamples() bool {
	for _, t := range s.tracks {
		if len(t.samples) > 0 {
			return true
		}
	}
	return false
}

// reconfigure handles a new *hub.Track (codec parameters changed): the current
// segment is closed and the next one starts with a new init version after a
// discontinuity.
func (s *segmenter) reconfigure(t *segTrack, nt *hub.Track) error {
	if err := s.flush(); err != nil {
		return err
	}
	if nt.ClockRate != t.hub.ClockRate || nt.IsVideo() != t.video {
		return fmt.Errorf("track %d changed kind or clock rate: %w", nt.ID, errUnsupportedCodec)
	}
	t.hub = nt
	s.versionDirty = true
	s.discontinuity = s.version >= 0
	return nil
}

// finish flushes the last segment at the end of the stream.
func (s *segmenter) finish() error {
	return s.flush()
}

func kindOf(t *hub.Track) timeline.Kind {
	if t.IsVideo() {
		return timeline.KindVideo
	}
	return timeline.KindAudio
}

// defaultDuration is the duration of a lone sample (no neighbour to measure).
func defaultDuration(t *hub.Track) uint32 {
	switch t.Codec.(type) {
	case *codecs.MPEG4Audio:
		return 1024
	case *codecs.Opus:
		return 960
	}
	if t.IsVideo() {
		return uint32(t.ClockRate / 30)
	}
	return uint32(t.ClockRate / 50)
}
