package health

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/publish"
)

// synth is a synthetic publish driven by a fake clock: video at fps with a key
// frame every gop frames, AAC audio frames of 1024 samples at 48 kHz, each unit
// arriving delay after its media time (plus the start). Parameters may change
// between seconds.
type synth struct {
	t     *testing.T
	m     *Meter
	start time.Time
	video *hub.Track
	audio *hub.Track

	fps      float64
	gop      int
	vSize    int           // bytes per video frame
	aSize    int           // bytes per audio frame
	delay    time.Duration // arrival after start + DTS
	dtsShift time.Duration // added to the DTS of every later unit (a jump)

	nextV, nextA time.Duration // media time of the next frames
	sinceKey     int
	sec          int // seconds sampled
	changes      []publish.HealthChange
	payload      []byte
}

var (
	synthVideo = &hub.Track{ID: 1, Codec: &codecs.H264{}, ClockRate: 90000, FourCC: "avc1"}
	synthAudio = &hub.Track{ID: 2, Codec: &codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{
		Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 2}}, ClockRate: 48000, FourCC: "mp4a"}
)

const audioFrame = time.Second * 1024 / 48000

func newSynth(t *testing.T, m *Meter) *synth {
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	m.Start = start
	m.StreamID = 7
	m.Initialize()
	return &synth{t: t, m: m, start: start, video: synthVideo, audio: synthAudio, fps: 30, gop: 60,
		vSize: 2_000_000 / 8 / 30, aSize: 128_000 / 8 * 1024 / 48000, payload: make([]byte, 1<<20), sinceKey: -1}
}

// run feeds n seconds of media (every unit arriving before the end of each
// second) and samples at the end of each.
func (s *synth) run(n int) {
	for range n {
		s.sec++
		now := s.start.Add(time.Duration(s.sec) * time.Second)
		for {
			v, a := s.arrival(s.nextV), s.arrival(s.nextA)
			if s.fps == 0 {
				v = now.Add(time.Hour)
			}
			if !v.Before(now) && !a.Before(now) {
				break
			}
			if v.Before(a) {
				s.sinceKey++
				key := s.sinceKey == 0 || s.sinceKey >= s.gop
				if key {
					s.sinceKey = 0
				}
				s.m.Unit(&hub.Unit{Track: s.video, DTS: s.nextV + s.dtsShift, PTS: s.nextV + s.dtsShift, NTP: v,
					Key: key, Payload: s.payload[:s.vSize]})
				s.nextV += time.Duration(float64(time.Second) / s.fps)
			} else {
				s.m.Unit(&hub.Unit{Track: s.audio, DTS: s.nextA + s.dtsShift, PTS: s.nextA + s.dtsShift, NTP: a,
					Key: true, Payload: s.payload[:s.aSize]})
				s.nextA += audioFrame
			}
		}
		s.changes = s.m.Sample(now, s.changes)
	}
}

func (s *synth) arrival(media time.Duration) time.Time {
	return s.start.Add(media + s.delay)
}

// taken returns the changes collected so far and forgets them.
func (s *synth) taken() []publish.HealthChange {
	c := s.changes
	s.changes = nil
	return c
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestMeterSteadyStream(t *testing.T) {
	s := newSynth(t, &Meter{RemoteAddr: "127.0.0.1:5000", FlashVer: "FMLE/3.0"})
	s.m.SetEncoder("Lavf59.27.100")
	s.run(20)
	h := s.m.Snapshot()
	if h.Video == nil || h.Audio == nil {
		t.Fatalf("tracks missing: %+v", h)
	}
	if h.Video.FrameRate != 30 || !near(h.Video.KeyframeIntervalSeconds, 2, 0.001) {
		t.Errorf("frame rate %v, keyframe interval %v; want 30, 2", h.Video.FrameRate, h.Video.KeyframeIntervalSeconds)
	}
	if h.Video.Codec != "H264" || *h.Audio != (publish.AudioHealth{Codec: "AAC", SampleRate: 48000, Channels: 2}) {
		t.Errorf("codecs %+v %+v", *h.Video, *h.Audio)
	}
	// 30 frames of vSize and 46.875 audio frames of aSize a second
	want := float64(30*s.vSize*8)/1000 + float64(s.aSize*8)*48000/1024/1000
	if !near(h.BitrateKbps, want, want*0.02) || !near(h.AvgBitrateKbps, want, want*0.02) {
		t.Errorf("bitrate %v avg %v, want %v", h.BitrateKbps, h.AvgBitrateKbps, want)
	}
	if h.IngestLagMs != 0 || h.TimestampJumps != 0 || len(h.Warnings) != 0 {
		t.Errorf("lag %d jumps %d warnings %v", h.IngestLagMs, h.TimestampJumps, h.Warnings)
	}
	if h.RemoteAddr != "127.0.0.1:5000" || h.FlashVer != "FMLE/3.0" || h.Encoder != "Lavf59.27.100" ||
		!h.StartedAt.Equal(s.start) || !h.SampledAt.Equal(s.start.Add(20*time.Second)) {
		t.Errorf("identity %+v", h)
	}
	if c := s.taken(); len(c) != 0 {
		t.Errorf("warnings on a steady stream: %+v", c)
	}
}

// TestMeterKeyframeInterval: a 250-frame GOP at 30 fps raises the warning as soon
// as 4 s pass without a key frame; 1 s GOPs resolve it after ClearAfter.
func TestMeterKeyframeInterval(t *testing.T) {
	s := newSynth(t, &Meter{})
	s.gop = 250
	s.run(4)
	if c := s.taken(); len(c) != 0 {
		t.Fatalf("raised within 4 s: %+v", c)
	}
	s.run(1) // 5 s since the key frame at 0
	c := s.taken()
	if len(c) != 1 || c[0].Warning != publish.WarnKeyframeInterval || c[0].Resolved || c[0].Threshold != 4 ||
		!near(c[0].Value, 5, 0.04) || c[0].StreamID != 7 || !slices.Equal(c[0].Health.Warnings, []publish.HealthWarning{publish.WarnKeyframeInterval}) {
		t.Fatalf("raise: %+v", c)
	}
	s.run(10)
	if h := s.m.Snapshot(); !near(h.Video.KeyframeIntervalSeconds, 250.0/30, 0.001) {
		t.Errorf("keyframe interval %v, want 8.333", h.Video.KeyframeIntervalSeconds)
	}
	// a key frame now and then every 30 frames
	s.gop = 30
	var good time.Duration // the first second with key frames ≤ 4 s apart
	for good == 0 {
		s.run(1)
		if s.m.Snapshot().Video.KeyframeIntervalSeconds <= 4 {
			good = time.Duration(s.sec) * time.Second
		}
	}
	s.run(10)
	c = s.taken()
	if len(c) != 1 || !c[0].Resolved || c[0].Cause != publish.CauseRecovered || !near(c[0].Value, 1, 0.001) {
		t.Fatalf("resolve: %+v", c)
	}
	if at := c[0].Health.SampledAt.Sub(s.start); at != good+s.m.ClearAfter {
		t.Errorf("resolved at %v, want %v + ClearAfter", at, good)
	}
}

// TestMeterBitrateLow: a drop below a third of the average raises bitrate_low
// only once it lasted BitrateLowFor; a shorter dip does not; recovery resolves it
// after ClearAfter.
func TestMeterBitrateLow(t *testing.T) {
	s := newSynth(t, &Meter{BitrateLowFor: 4 * time.Second})
	high := s.vSize
	s.run(10)
	s.vSize, s.aSize = 100, 10
	s.run(3) // the 3 s bitrate window is all low at 13 s, only then below a third
	s.vSize = high
	s.run(10)
	if c := s.taken(); len(c) != 0 {
		t.Fatalf("a 3 s dip raised: %+v", c)
	}
	s.vSize = 100
	s.run(12)
	c := s.taken()
	if len(c) != 1 || c[0].Warning != publish.WarnBitrateLow || c[0].Resolved {
		t.Fatalf("raise: %+v", c)
	}
	// low from 23 s; the 3 s window is all low at 26 s (at 25 s its 1 s of high
	// bitrate keeps it above a third of the average), held 4 s: raised at 30 s
	if at := c[0].Health.SampledAt.Sub(s.start); at != 30*time.Second {
		t.Errorf("raised at %v, want 30 s", at)
	}
	if c[0].Value >= c[0].Threshold || !near(c[0].Threshold, c[0].Health.AvgBitrateKbps/3, 1) {
		t.Errorf("value %v threshold %v avg %v", c[0].Value, c[0].Threshold, c[0].Health.AvgBitrateKbps)
	}
	s.vSize = high
	s.run(15)
	c = s.taken()
	if len(c) != 1 || c[0].Warning != publish.WarnBitrateLow || !c[0].Resolved || c[0].Cause != publish.CauseRecovered {
		t.Fatalf("resolve: %+v", c)
	}
	if len(c[0].Health.Warnings) != 0 {
		t.Errorf("resolved warning still listed: %v", c[0].Health.Warnings)
	}
}

// TestMeterFrameRateDrop: 30 fps falling to 10 fps raises frame_rate_drop after
// RaiseAfter (below 3/4 of the average since the start); back to 30 fps it
// resolves after ClearAfter.
func TestMeterFrameRateDrop(t *testing.T) {
	s := newSynth(t, &Meter{})
	s.run(10)
	s.fps, s.gop = 10, 20
	s.run(6)
	c := s.taken()
	// 10 fps from 10 s: the 2 s window is at 20 fps at 11 s, below 3/4 of the
	// average, held 3 s: raised at 14 s, when the average is (300 + 40) frames / 14 s
	if len(c) != 1 || c[0].Warning != publish.WarnFrameRateDrop || c[0].Resolved || !near(c[0].Value, 10, 0.1) ||
		!near(c[0].Threshold, 0.75*340/14, 0.2) || c[0].Health.SampledAt.Sub(s.start) != 14*time.Second {
		t.Fatalf("raise: %+v", c)
	}
	if h := s.m.Snapshot(); !near(h.Video.FrameRate, 10, 0.1) {
		t.Errorf("frame rate %v, want 10", h.Video.FrameRate)
	}
	s.fps, s.gop = 30, 60
	s.run(10)
	c = s.taken()
	if len(c) != 1 || !c[0].Resolved || !near(c[0].Value, 30, 0.1) {
		t.Fatalf("resolve: %+v", c)
	}
}

// TestMeterIngestLag: media arriving later and later is lag; above 1 s for
// RaiseAfter raises ingest_lag_high, back under 0.5 s resolves it.
func TestMeterIngestLag(t *testing.T) {
	s := newSynth(t, &Meter{})
	s.run(5)
	for range 8 { // 250 ms more behind every second
		s.delay += 250 * time.Millisecond
		s.run(1)
	}
	h := s.m.Snapshot()
	if !near(float64(h.IngestLagMs), 2000, 40) {
		t.Errorf("lag %d ms, want 2000", h.IngestLagMs)
	}
	c := s.taken()
	// lag > 1 s from 10 s (1.25 s), held 3 s: raised at 13 s
	if len(c) != 1 || c[0].Warning != publish.WarnIngestLag || c[0].Resolved ||
		c[0].Health.SampledAt.Sub(s.start) != 13*time.Second {
		t.Fatalf("raise: %+v", c)
	}
	s.delay = 0 // caught up
	s.run(10)
	c = s.taken()
	if len(c) != 1 || !c[0].Resolved || c[0].Health.IngestLagMs > 10 {
		t.Fatalf("resolve: %+v", c)
	}
}

// TestMeterTimestampJump: the media clock leaping 3 s ahead of real time counts
// one jump and no lag.
func TestMeterTimestampJump(t *testing.T) {
	s := newSynth(t, &Meter{})
	s.run(5)
	s.dtsShift = 3 * time.Second
	s.delay = -3 * time.Second // the same arrival times: only the timestamps jump
	s.run(5)
	h := s.m.Snapshot()
	if h.TimestampJumps != 1 || h.IngestLagMs != 0 {
		t.Errorf("jumps %d lag %d; want 1, 0", h.TimestampJumps, h.IngestLagMs)
	}
	s.m.SetRepairs(3, 2)
	s.run(1)
	if h := s.m.Snapshot(); h.FramesRepaired != 3 || h.FramesDropped != 2 {
		t.Errorf("repaired %d dropped %d", h.FramesRepaired, h.FramesDropped)
	}
}

// TestMeterNoFlap: a bitrate swinging every second between a tenth of its
// level and all of it neither raises bitrate_low (the low seconds never last
// BitrateLowFor) nor, once a steady low raised it, resolves it (the good seconds
// never last ClearAfter).
func TestMeterNoFlap(t *testing.T) {
	s := newSynth(t, &Meter{BitrateLowFor: 2 * time.Second, BitrateWindow: time.Second})
	high := s.vSize
	swing := func() {
		for i := range 20 {
			s.vSize = high / 10
			if i%2 == 1 {
				s.vSize = high
			}
			s.run(1)
		}
	}
	s.run(10)
	swing()
	if c := s.taken(); len(c) != 0 {
		t.Fatalf("swinging raised: %+v", c)
	}
	s.vSize = high / 10
	s.run(4)
	if c := s.taken(); len(c) != 1 || c[0].Resolved {
		t.Fatalf("steady low: %+v, want one raise", c)
	}
	swing()
	if c := s.taken(); len(c) != 0 {
		t.Fatalf("swinging resolved: %+v", c)
	}
	s.vSize = high
	s.run(6)
	if c := s.taken(); len(c) != 1 || !c[0].Resolved {
		t.Fatalf("steady high: %+v, want one resolve", c)
	}
}

// TestMeterHistoryRing: the history keeps the last 300 seconds, oldest first.
func TestMeterHistoryRing(t *testing.T) {
	s := newSynth(t, &Meter{})
	s.run(10)
	if got := s.m.History(nil); len(got) != 10 || !got[0].At.Equal(s.start.Add(time.Second)) {
		t.Fatalf("history after 10 s: %d samples from %v", len(got), got[0].At)
	}
	s.run(HistorySize + 100)
	got := s.m.History(nil)
	if len(got) != HistorySize {
		t.Fatalf("history has %d samples", len(got))
	}
	for i, h := range got {
		if want := s.start.Add(time.Duration(111+i) * time.Second); !h.At.Equal(want) {
			t.Fatalf("sample %d at %v, want %v", i, h.At, want)
		}
		if h.FrameRate != 30 || !near(h.KeyframeIntervalSeconds, 2, 0.001) || h.BitrateKbps < 2000 {
			t.Fatalf("sample %d: %+v", i, h)
		}
	}
}

// TestMeterStop: Stop resolves the active warnings (PUBLISH_STOPPED); Samples
// after it change nothing.
func TestMeterStop(t *testing.T) {
	s := newSynth(t, &Meter{})
	s.gop = 300
	s.run(6)
	if c := s.taken(); len(c) != 1 || c[0].Resolved {
		t.Fatalf("raise: %+v", c)
	}
	c := s.m.Stop(nil)
	if len(c) != 1 || c[0].Warning != publish.WarnKeyframeInterval || !c[0].Resolved ||
		c[0].Cause != publish.CausePublishStopped {
		t.Fatalf("stop: %+v", c)
	}
	if c := s.m.Stop(nil); len(c) != 0 {
		t.Errorf("second stop: %+v", c)
	}
	s.run(3)
	if c := s.taken(); len(c) != 0 || len(s.m.History(nil)) != 6 {
		t.Errorf("sampled after stop: %+v", c)
	}
}

// TestMeterDescribesTestdata feeds the repository's H.264, HEVC and AV1 files
// and checks what the codec configurations say and the measured rates.
func TestMeterDescribesTestdata(t *testing.T) {
	for _, tc := range []struct {
		file             string
		video            publish.VideoHealth
		audioSR, audioCh int
	}{
		{"h264_aac.flv", publish.VideoHealth{Codec: "H264", Profile: "High", Level: "3.0", Width: 640, Height: 360}, 48000, 2},
		// ffprobe shows level=63 (x265) and level=1 (SVT-AV1) for these encodes
		{"hevc_aac.flv", publish.VideoHealth{Codec: "H265", Profile: "Main", Level: "2.1", Width: 640, Height: 360}, 48000, 2},
		{"av1_aac.flv", publish.VideoHealth{Codec: "AV1", Profile: "Main", Level: "2.1", Width: 640, Height: 360}, 48000, 2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m := feedFile(t, "../../testdata/"+tc.file)
			h := m.Snapshot()
			if h.Video == nil || h.Audio == nil {
				t.Fatalf("tracks: %+v", h)
			}
			v := *h.Video
			// at the end of the file the time since the last key frame is a
			// GOP plus the B-frame delay of its DTS (HEVC: 2.066 s)
			if !near(v.FrameRate, 30, 0.05) || !near(v.KeyframeIntervalSeconds, 2, 0.1) {
				t.Errorf("frame rate %v, keyframe interval %v", v.FrameRate, v.KeyframeIntervalSeconds)
			}
			v.FrameRate, v.KeyframeIntervalSeconds = 0, 0
			if v != tc.video {
				t.Errorf("video %+v, want %+v", v, tc.video)
			}
			if h.Audio.Codec != "AAC" || h.Audio.SampleRate != tc.audioSR || h.Audio.Channels != tc.audioCh {
				t.Errorf("audio %+v", *h.Audio)
			}
		})
	}
}

// feedFile demuxes an FLV file into a Meter in media time (arrivals = DTS) and
// samples once a second.
func feedFile(t *testing.T, path string) *Meter {
	t.Helper()
	tags, err := flv.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := &Meter{Start: start}
	m.Initialize()
	var dmx flv.Demuxer
	next := start.Add(time.Second)
	for _, tag := range tags {
		u, err := dmx.Push(tag)
		if err != nil || u == nil {
			continue
		}
		u.NTP = start.Add(u.DTS)
		for !u.NTP.Before(next) {
			m.Sample(next, nil)
			next = next.Add(time.Second)
		}
		m.Unit(u)
	}
	m.Sample(next, nil)
	return m
}

// BenchmarkMeterUnit is the per-unit cost on the publisher's goroutine: it must
// not allocate.
func BenchmarkMeterUnit(b *testing.B) {
	m := &Meter{}
	m.Initialize()
	now := time.Now()
	payload := make([]byte, 8000)
	units := []*hub.Unit{
		{Track: synthVideo, Key: true, Payload: payload},
		{Track: synthAudio, Key: true, Payload: payload[:400]},
		{Track: synthVideo, Payload: payload},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		u := units[i%len(units)]
		u.DTS = time.Duration(i) * 20 * time.Millisecond
		u.NTP = now.Add(u.DTS)
		m.Unit(u)
	}
}

// BenchmarkMeterSample is the once-a-second cost per publish on the sampler.
func BenchmarkMeterSample(b *testing.B) {
	s := newSynth(nil, &Meter{})
	s.run(HistorySize)
	var changes []publish.HealthChange
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		changes = s.m.Sample(s.start.Add(time.Duration(HistorySize+i+1)*time.Second), changes[:0])
	}
}
