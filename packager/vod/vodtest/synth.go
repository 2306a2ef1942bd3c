// Package vodtest writes live sessions to disk the way the packager does, for
// tests of the VOD archive and of its playback.
package vodtest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/roomcast/roomcast/packager/timeline"
)

var testSPS = []byte{
	0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02,
	0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
	0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9,
	0x20,
}

// Synth writes sessions the way the packager does: init segments with
// mediacommon's fmp4.Init, segments of parts (one fMP4 fragment per track per
// part, mediacommon's fmp4.Part), and the index. Video: 30 fps, one keyframe per
// segment, 10 parts of 6 frames; audio: AAC 48 kHz, 1024-sample frames.
type Synth struct {
	// T fails the test on an error (a *testing.B or a fuzz target's T too).
	T testing.TB
	// RoomDir is the room's directory, {media}/{roomUuid}.
	RoomDir string
	// Segments is the number of 2 s segments per session.
	Segments int
	// NoEnd leaves the index without its end record (a crash).
	NoEnd bool
}

var synthTracks = []timeline.Track{
	{Name: "video1", ID: 1, Kind: timeline.KindVideo, Codecs: "avc1.42c028", TimeScale: 90000, Width: 1920, Height: 1080, Init: "video1_init0.mp4"},
	{Name: "audio2", ID: 2, Kind: timeline.KindAudio, Codecs: "mp4a.40.2", TimeScale: 48000, SampleRate: 48000, Channels: 2, Init: "audio2_init0.mp4"},
}

// Session writes session no (its segments start at start) and returns its
// directory.
func (s *Synth) Session(no int, start time.Time) string {
	t := s.T
	dir := filepath.Join(s.RoomDir, strconv.Itoa(no))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	inits := []fmp4.InitTrack{
		{ID: 1, TimeScale: 90000, Codec: &codecs.H264{SPS: testSPS, PPS: []byte{0x08}}},
		{ID: 2, TimeScale: 48000, Codec: &codecs.MPEG4Audio{Config: mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: 48000, ChannelCount: 2}}},
	}
	for i, it := range inits {
		var buf seekablebuffer.Buffer
		if err := (fmp4.Init{Tracks: []*fmp4.InitTrack{&it}}).Marshal(&buf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, synthTracks[i].Init), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, err := timeline.CreateIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WriteVersion(&timeline.Version{Number: 0, Tracks: synthTracks}); err != nil {
		t.Fatal(err)
	}
	for msn := 0; msn < s.Segments; msn++ {
		seg := s.Segment(dir, uint64(msn), start.Add(time.Duration(msn)*2*time.Second))
		if err := w.WriteSegment(seg); err != nil {
			t.Fatal(err)
		}
	}
	if !s.NoEnd {
		if err := w.WriteEnd(start.Add(time.Duration(s.Segments) * 2 * time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Segment writes segment msn (2 s) in dir without indexing it and returns its
// index record.
func (s *Synth) Segment(dir string, msn uint64, pdt time.Time) *timeline.Segment {
	seg := &timeline.Segment{MSN: msn, PDT: pdt, Duration: 2 * time.Second, Tracks: make([]timeline.SegmentTrack, 2)}
	vbase, abase := msn*180000, msn*2*48000/1024*1024
	for i, tr := range synthTracks {
		var file seekablebuffer.Buffer
		var dur uint64
		base := vbase
		if i == 1 {
			base = abase
		}
		for p := 0; p < 10; p++ {
			var samples []*fmp4.Sample
			if i == 0 {
				for f := 0; f < 6; f++ {
					samples = append(samples, &fmp4.Sample{Duration: 3000, PTSOffset: 3000 * int32(f%2),
						IsNonSyncSample: p > 0 || f > 0, Payload: []byte{0, 0, 0, 2, 0x09, byte(f)}})
				}
			} else {
				n := 9 + p%2 // ~200 ms of 21.33 ms frames
				for f := 0; f < n; f++ {
					samples = append(samples, &fmp4.Sample{Duration: 1024, Payload: []byte{0x21, 0x10, 0x04, byte(f)}})
				}
			}
			part := fmp4.Part{SequenceNumber: uint32(p), Tracks: []*fmp4.PartTrack{{ID: tr.ID, BaseTime: base + dur, Samples: samples}}}
			if err := part.Marshal(&file); err != nil {
				s.T.Fatal(err)
			}
			for _, smp := range samples {
				dur += uint64(smp.Duration)
			}
		}
		name := timeline.SegmentFile(tr.Name, msn)
		if err := os.WriteFile(filepath.Join(dir, name), file.Bytes(), 0o644); err != nil {
			s.T.Fatal(err)
		}
		seg.Tracks[i] = timeline.SegmentTrack{File: name, BaseTime: base, Duration: dur, Size: int64(len(file.Bytes()))}
	}
	return seg
}
