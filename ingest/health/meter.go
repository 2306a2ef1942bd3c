package health

import (
	"slices"
	"sync"
	"time"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/publish"
)

// HistorySize is how many one-second records a Meter keeps: 5 minutes.
const HistorySize = 300

// Defaults of the Meter's thresholds and windows.
const (
	DefaultBitrateWindow       = 3 * time.Second
	DefaultFrameRateWindow     = 2 * time.Second
	DefaultMaxKeyframeInterval = 4 * time.Second
	DefaultBitrateLowRatio     = 1.0 / 3
	DefaultBitrateLowFor       = 10 * time.Second
	DefaultFrameRateDropRatio  = 0.75
	DefaultMaxLag              = time.Second
	DefaultRaiseAfter          = 3 * time.Second
	DefaultClearAfter          = 5 * time.Second
	DefaultTimestampJump       = time.Second
)

const (
	// lagCreep: the lag baseline rises by this fraction of wall time, so that an
	// encoder clock up to 500 ppm slower than ours does not read as growing lag.
	lagCreep = 0.0005
	// warmUp: no bitrate or frame-rate warning before this much of the publish
	// (media time for the frame rate): its average is not known yet.
	warmUp = 5 * time.Second
)

// Meter measures one publish. Set the configuration fields, call Initialize, feed
// every unit with Unit (one goroutine) and call Sample once a second (any one
// other goroutine); Snapshot and History may be called from any goroutine.
type Meter struct {
	// StreamID, RemoteAddr (host:port) and FlashVer (the RTMP connect command's)
	// identify the publish in its Health and HealthChanges.
	StreamID   publish.StreamID
	RemoteAddr string
	FlashVer   string
	// Start is when the publish started (default: Initialize's time.Now()); the
	// average bitrate is measured from it.
	Start time.Time

	// BitrateWindow is what the current bitrate is averaged over (default 3 s);
	// FrameRateWindow what the frame rate is measured over (default 2 s).
	BitrateWindow, FrameRateWindow time.Duration
	// MaxKeyframeInterval raises keyframe_interval_high at once when key frames
	// are further apart (default 4 s); it clears after ClearAfter within it.
	MaxKeyframeInterval time.Duration
	// BitrateLowRatio and BitrateLowFor raise bitrate_low when the current
	// bitrate stays below that fraction of the average for that long (defaults
	// 1/3 and 10 s); it clears after ClearAfter at or above 1.5 × the fraction.
	BitrateLowRatio float64
	BitrateLowFor   time.Duration
	// FrameRateDropRatio raises frame_rate_drop when the frame rate stays below
	// that fraction of the publish's average for RaiseAfter (default 0.75); it
	// clears after ClearAfter at or above the fraction halfway to 1.
	FrameRateDropRatio float64
	// MaxLag raises ingest_lag_high when the ingest lag stays above it for
	// RaiseAfter (default 1 s); it clears after ClearAfter at or below half of it.
	MaxLag time.Duration
	// RaiseAfter (default 3 s) and ClearAfter (default 5 s) are the hysteresis
	// delays of the warnings.
	RaiseAfter, ClearAfter time.Duration
	// TimestampJump: a unit whose timestamp is this much further ahead of the
	// previous unit's than its arrival counts as a timestamp jump (default 1 s).
	TimestampJump time.Duration

	mu      sync.Mutex
	u       unitState
	ring    *[HistorySize]record
	n       int // records pushed
	lastAt  time.Time
	video   *hub.Track // the tracks last described
	audio   *hub.Track
	vDesc   publish.VideoHealth
	aDesc   publish.AudioHealth
	health  publish.Health
	warns   [4]warning               // in publish.HealthWarnings order
	active  [4]publish.HealthWarning // backing array of health.Warnings
	stopped bool
}

// unitState is what Unit updates.
type unitState struct {
	bytes    int64
	video    *hub.Track // last video and audio track seen
	audio    *hub.Track
	vFrames  int64
	vFirst   time.Duration // DTS of the first and last video frame
	vLast    time.Duration
	keySeen  bool
	lastKey  time.Duration // DTS and PTS of the last key frame
	lastKeyP time.Duration
	keyGap   time.Duration // between the PTS of the last two key frames
	started  bool
	offset   int64 // arrival − DTS of the last unit, ns
	base     int64 // smallest offset seen (creeping up)
	jumps    int64
	repaired int64
	dropped  int64
	encoder  string
}

// record is one second of history: cumulative counters (for windows) and the
// values shown for that second.
type record struct {
	at     int64 // unix ns
	bytes  int64
	frames int64
	vLast  time.Duration
	kbps   float64
	fps    float64
	kfi    float64
	lagMs  int64
}

// Initialize applies the defaults and allocates the history ring.
func (m *Meter) Initialize() {
	setDefault(&m.BitrateWindow, DefaultBitrateWindow)
	setDefault(&m.FrameRateWindow, DefaultFrameRateWindow)
	setDefault(&m.MaxKeyframeInterval, DefaultMaxKeyframeInterval)
	setDefault(&m.BitrateLowRatio, DefaultBitrateLowRatio)
	setDefault(&m.BitrateLowFor, DefaultBitrateLowFor)
	setDefault(&m.FrameRateDropRatio, DefaultFrameRateDropRatio)
	setDefault(&m.MaxLag, DefaultMaxLag)
	setDefault(&m.RaiseAfter, DefaultRaiseAfter)
	setDefault(&m.ClearAfter, DefaultClearAfter)
	setDefault(&m.TimestampJump, DefaultTimestampJump)
	if m.Start.IsZero() {
		m.Start = time.Now()
	}
	m.ring = new([HistorySize]record)
	m.health = publish.Health{StartedAt: m.Start.UTC(), RemoteAddr: m.RemoteAddr, FlashVer: m.FlashVer,
		Warnings: m.active[:0]}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Unit records one unit of the publish. u.NTP must be its arrival time. It is
// O(1) and does not allocate.
func (m *Meter) Unit(u *hub.Unit) {
	arrival := u.NTP.UnixNano()
	m.mu.Lock()
	s := &m.u
	s.bytes += int64(len(u.Payload))
	offset := arrival - int64(u.DTS)
	switch {
	case !s.started:
		s.started, s.base = true, offset
	case s.offset-offset > int64(m.TimestampJump):
		s.jumps++
	}
	s.offset = offset
	s.base = min(s.base, offset)
	if u.Track == s.video || (u.Track != s.audio && u.Track.IsVideo()) {
		m.videoUnit(u)
	} else {
		s.audio = u.Track
	}
	m.mu.Unlock()
}

// videoUnit counts a video frame and measures key frame distances.
func (m *Meter) videoUnit(u *hub.Unit) {
	s := &m.u
	if s.vFrames == 0 {
		s.vFirst = u.DTS
	}
	s.video = u.Track
	s.vFrames++
	s.vLast = u.DTS
	if u.Key { // the gap in PTS: a key frame's DTS moves with the B-frames before it
		if s.keySeen {
			s.keyGap = u.PTS - s.lastKeyP
		}
		s.keySeen, s.lastKey, s.lastKeyP = true, u.DTS, u.PTS
	}
}

// SetEncoder records the encoder software onMetaData named.
func (m *Meter) SetEncoder(name string) {
	m.mu.Lock()
	m.u.encoder = name
	m.mu.Unlock()
}

// SetRepairs records how many timestamps the demuxer repaired and how many tags
// it dropped so far (totals).
func (m *Meter) SetRepairs(repaired, dropped int64) {
	m.mu.Lock()
	m.u.repaired, m.u.dropped = repaired, dropped
	m.mu.Unlock()
}

// Sample closes the second ending at now: it measures, appends a history record,
// updates the Health and evaluates the warnings. The warnings raised or resolved
// are appended to dst. After Stop it does nothing.
func (m *Meter) Sample(now time.Time, dst []publish.HealthChange) []publish.HealthChange {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return dst
	}
	s := &m.u
	if !m.lastAt.IsZero() && s.started {
		s.base = min(s.base+int64(float64(now.Sub(m.lastAt))*lagCreep), s.offset)
	}
	rec := record{at: now.UnixNano(), bytes: s.bytes, frames: s.vFrames, vLast: s.vLast}
	prev := m.windowStart(now, 0)
	rec.kbps = kbps(rec.bytes-prev.bytes, rec.at-prev.at)
	if s.video != nil {
		rec.fps = m.frameRate(rec, m.windowStart(now, m.FrameRateWindow))
		if s.keySeen {
			rec.kfi = max(s.keyGap, s.vLast-s.lastKey).Seconds()
		}
	}
	rec.lagMs = (s.offset - s.base) / int64(time.Millisecond)
	cur := m.windowStart(now, m.BitrateWindow)
	bitrate := kbps(rec.bytes-cur.bytes, rec.at-cur.at)
	m.ring[m.n%HistorySize] = rec
	m.n++
	m.lastAt = now
	m.describe()
	m.fill(now, rec, bitrate)
	return m.evaluate(now, rec, bitrate, dst)
}

// windowStart returns the newest record at least window before now (the
// previous record for window 0), or the start of the publish.
func (m *Meter) windowStart(now time.Time, window time.Duration) record {
	limit := now.Add(-window).UnixNano()
	for i := range min(m.n, HistorySize) {
		r := m.ring[(m.n-1-i)%HistorySize]
		if r.at <= limit {
			return r
		}
	}
	// the start: one frame before the first counted, at the first frame's DTS
	return record{at: m.Start.UnixNano(), frames: min(m.u.vFrames, 1), vLast: m.u.vFirst}
}

// frameRate is the frames per second of media time between two records.
func (m *Meter) frameRate(rec, from record) float64 {
	frames, span := rec.frames-from.frames, rec.vLast-from.vLast
	if frames <= 0 || span <= 0 {
		return 0
	}
	return float64(frames) / span.Seconds()
}

func kbps(bytes, ns int64) float64 {
	if ns <= 0 {
		return 0
	}
	return float64(bytes) * 8 * 1e6 / float64(ns)
}

// describe reads the codec parameters of tracks not described yet.
func (m *Meter) describe() {
	if m.u.video != m.video {
		m.video, m.vDesc = m.u.video, describeVideo(m.u.video)
	}
	if m.u.audio != m.audio {
		m.audio, m.aDesc = m.u.audio, describeAudio(m.u.audio)
	}
}

// fill updates the Health from the last record.
func (m *Meter) fill(now time.Time, rec record, bitrate float64) {
	h := &m.health
	s := &m.u
	h.SampledAt = now.UTC()
	h.Encoder = s.encoder
	if m.video != nil {
		m.vDesc.FrameRate, m.vDesc.KeyframeIntervalSeconds = round(rec.fps, 100), round(rec.kfi, 1000)
		h.Video = &m.vDesc
	}
	if m.audio != nil {
		h.Audio = &m.aDesc
	}
	h.BitrateKbps = round(bitrate, 10)
	h.AvgBitrateKbps = round(kbps(s.bytes, now.Sub(m.Start).Nanoseconds()), 10)
	h.FramesRepaired, h.FramesDropped, h.TimestampJumps = s.repaired, s.dropped, s.jumps
	h.IngestLagMs = rec.lagMs
}

// round rounds v to 1/per.
func round(v, per float64) float64 {
	return float64(int64(v*per+0.5)) / per
}

// Snapshot returns a copy of the Health as of the last Sample (StartedAt and the
// publisher's identity only, before the first one).
func (m *Meter) Snapshot() *publish.Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshotLocked()
}

func (m *Meter) snapshotLocked() *publish.Health {
	h := m.health
	if h.Video != nil {
		v := *h.Video
		h.Video = &v
	}
	if h.Audio != nil {
		a := *h.Audio
		h.Audio = &a
	}
	h.Warnings = slices.Clone(h.Warnings)
	if h.Warnings == nil {
		h.Warnings = []publish.HealthWarning{}
	}
	return &h
}

// History appends the recorded seconds, oldest first (at most HistorySize), to dst.
func (m *Meter) History(dst []publish.HealthSample) []publish.HealthSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := min(m.n, HistorySize)
	for i := n - 1; i >= 0; i-- {
		r := m.ring[(m.n-1-i)%HistorySize]
		dst = append(dst, publish.HealthSample{At: time.Unix(0, r.at).UTC(), BitrateKbps: round(r.kbps, 10),
			FrameRate: round(r.fps, 100), KeyframeIntervalSeconds: round(r.kfi, 1000), IngestLagMs: r.lagMs})
	}
	return dst
}

// Stop ends the measuring: every active warning is resolved (CausePublishStopped)
// into dst. Later Samples do nothing.
func (m *Meter) Stop(dst []publish.HealthChange) []publish.HealthChange {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return dst
	}
	m.stopped = true
	for i := range m.warns {
		if w := &m.warns[i]; w.active {
			w.active = false
			dst = append(dst, m.change(i, true, publish.CausePublishStopped))
		}
	}
	m.health.Warnings = m.active[:0]
	return dst
}
