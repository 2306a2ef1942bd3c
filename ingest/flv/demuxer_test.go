package flv

import (
	"errors"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/roomcast/roomcast/ingest/hub"
)

// demuxFile runs every tag of a testdata file through a Demuxer.
func demuxFile(t testing.TB, name string) (*Demuxer, []*hub.Unit) {
	t.Helper()
	tags, err := ReadFile("../../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	d := &Demuxer{}
	var units []*hub.Unit
	for i, tag := range tags {
		u, err := d.Push(tag)
		if err != nil {
			t.Fatalf("tag %d: %v", i, err)
		}
		if u != nil {
			units = append(units, u)
		}
	}
	return d, units
}

func TestDemuxTestdata(t *testing.T) {
	cases := []struct {
		file         string
		video, audio string // FourCC or ""
		videoFrames  int
		audioFrames  int
	}{
		{"h264_aac.flv", FourCCAVC, FourCCAAC, 300, 469},
		{"h264.flv", FourCCAVC, "", 300, 0},
		{"aac.flv", "", FourCCAAC, 0, 469},
		{"hevc_aac.flv", FourCCHEVC, FourCCAAC, 300, 469},
		{"av1_aac.flv", FourCCAV1, FourCCAAC, 300, 469},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			d, units := demuxFile(t, c.file)
			checkTrack(t, d.Video(), c.video, 1)
			checkTrack(t, d.Audio(), c.audio, 2)
			var nv, na, keys int
			last := map[int]*hub.Unit{}
			for _, u := range units {
				if u.Track.IsVideo() {
					nv++
					if u.Key {
						keys++
					}
					if u.PTS < u.DTS {
						t.Fatalf("PTS %v < DTS %v", u.PTS, u.DTS)
					}
				} else {
					na++
				}
				if p := last[u.Track.ID]; p != nil && u.DTS < p.DTS {
					t.Fatalf("DTS goes back: %v after %v", u.DTS, p.DTS)
				}
				last[u.Track.ID] = u
			}
			if nv != c.videoFrames || (c.audioFrames > 0) != (na > 0) {
				t.Fatalf("video %d audio %d frames", nv, na)
			}
			if c.video != "" && keys != 5 {
				t.Fatalf("%d key frames, want 5 (2 s GOP over 10 s)", keys)
			}
			if d.Repairs != 0 {
				t.Fatalf("%d timestamp repairs on a clean file", d.Repairs)
			}
		})
	}
}

func checkTrack(t *testing.T, tr *hub.Track, fourCC string, id int) {
	t.Helper()
	if fourCC == "" {
		if tr != nil {
			t.Fatalf("unexpected track %+v", tr)
		}
		return
	}
	if tr == nil || tr.FourCC != fourCC || tr.ID != id || tr.ClockRate == 0 || len(tr.Config) == 0 {
		t.Fatalf("track %+v, want %s id %d", tr, fourCC, id)
	}
	switch c := tr.Codec.(type) {
	case *codecs.H264:
		if len(c.SPS) == 0 || len(c.PPS) == 0 {
			t.Fatal("no SPS/PPS")
		}
	case *codecs.MPEG4Audio:
		if c.Config.SampleRate != 48000 || tr.ClockRate != 48000 {
			t.Fatalf("sample rate %d", c.Config.SampleRate)
		}
	}
}

func TestDemuxErrors(t *testing.T) {
	d := &Demuxer{}
	_, err := d.Push(Tag{Type: TagVideo, Data: []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x65}})
	if !errors.Is(err, ErrNoSequenceHeader) {
		t.Fatalf("frame before sequence header: %v", err)
	}
	_, err = d.Push(Tag{Type: TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 2}})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("broken avcC: %v", err)
	}
	_, err = d.Push(Tag{Type: TagAudio, Data: []byte{0x2f, 0xff}})
	if !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("mp3: %v", err)
	}
	_, err = d.Push(Tag{Type: TagVideo, Data: []byte{0x90, 'x', 'x', 'x', 'x'}})
	if !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("unknown FourCC: %v", err)
	}
}

// TestMuxRoundTrip re-muxes every unit of the testdata files and demuxes it again.
func TestMuxRoundTrip(t *testing.T) {
	for _, name := range []string{"h264_aac.flv", "hevc_aac.flv", "av1_aac.flv"} {
		d, units := demuxFile(t, name)
		d2 := &Demuxer{}
		for _, tr := range d.Tracks() {
			typ := TagAudio
			if tr.IsVideo() {
				typ = TagVideo
			}
			if _, err := d2.Push(Tag{Type: typ, Data: AppendSequenceStart(nil, tr)}); err != nil {
				t.Fatal(err)
			}
		}
		for i, u := range units {
			typ := TagAudio
			if u.Track.IsVideo() {
				typ = TagVideo
			}
			body := append(AppendFrameHeader(nil, u), u.Payload...)
			u2, err := d2.Push(Tag{Type: typ, Timestamp: Timestamp(u.DTS), Data: body})
			if err != nil {
				t.Fatal(i, err)
			}
			if u2.DTS != u.DTS || u2.PTS != u.PTS || u2.Key != u.Key || string(u2.Payload) != string(u.Payload) {
				t.Fatalf("unit %d differs", i)
			}
		}
	}
}

func TestParseMetadata(t *testing.T) {
	for _, c := range []struct {
		file         string
		video, audio bool
		encoder      string // as ffprobe -show_entries format_tags=encoder reads it
	}{{"h264_aac.flv", true, true, "Lavf59.27.100"}, {"h264.flv", true, false, "Lavf59.27.100"},
		{"aac.flv", false, true, "Lavf59.27.100"}, {"hevc_aac.flv", true, true, ""}} {
		tags, err := ReadFile("../../testdata/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		if tags[0].Type != TagScript {
			t.Fatalf("%s: first tag is %d", c.file, tags[0].Type)
		}
		m, ok := ParseMetadata(tags[0].Data)
		if !ok || m.HasVideo != c.video || m.HasAudio != c.audio || m.Encoder != c.encoder {
			t.Fatalf("%s: %+v %v", c.file, m, ok)
		}
	}
	// an object (not an ECMA array) with the encoder after a nested object
	obj := []byte{amfString, 0, 10}
	obj = append(obj, "onMetaData"...)
	obj = append(obj, amfObject, 0, 1, 'x', amfObject, 0, 1, 'y', amfNumber, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, amfObjectEnd)
	obj = append(obj, 0, 7)
	obj = append(obj, "encoder"...)
	obj = append(obj, amfString, 0, 3, 'o', 'b', 's', 0, 0, amfObjectEnd)
	if m, ok := ParseMetadata(obj); !ok || m.Encoder != "obs" {
		t.Fatalf("object metadata: %+v %v", m, ok)
	}
	if _, ok := ParseMetadata([]byte{0xff, 0x00}); ok {
		t.Fatal("garbage parsed")
	}
}
