package packager

import (
	"errors"
	"fmt"

	"github.com/bluenviron/gohlslib/v2/pkg/codecparams"
	hlscodecs "github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/timeline"
)

// errUnsupportedCodec is returned for tracks the packager cannot put in CMAF.
var errUnsupportedCodec = errors.New("codec not supported by the packager")

// describe is the one place that knows codecs: it fills the RFC 6381 codec string,
// resolution, frame rate and audio parameters of a hub track. Adding a codec means
// adding a case here.
func describe(t *hub.Track, version int) (timeline.Track, error) {
	kind := timeline.KindAudio
	if t.IsVideo() {
		kind = timeline.KindVideo
	}
	name := timeline.TrackName(kind, t.ID)
	d := timeline.Track{
		Name:      name,
		ID:        t.ID,
		Kind:      kind,
		TimeScale: uint32(t.ClockRate),
		Init:      timeline.InitFile(name, version),
	}
	var hc hlscodecs.Codec
	switch c := t.Codec.(type) {
	case *codecs.H264:
		var sps h264.SPS
		if err := sps.Unmarshal(c.SPS); err != nil {
			return d, fmt.Errorf("track %d: h264 sps: %w", t.ID, err)
		}
		d.Width, d.Height, d.FrameRate = sps.Width(), sps.Height(), sps.FPS()
		hc = &hlscodecs.H264{SPS: c.SPS, PPS: c.PPS}
	case *codecs.H265:
		var sps h265.SPS
		if err := sps.Unmarshal(c.SPS); err != nil {
			return d, fmt.Errorf("track %d: h265 sps: %w", t.ID, err)
		}
		d.Width, d.Height, d.FrameRate = sps.Width(), sps.Height(), sps.FPS()
		hc = &hlscodecs.H265{VPS: c.VPS, SPS: c.SPS, PPS: c.PPS}
	case *codecs.AV1:
		var sh av1.SequenceHeader
		if err := sh.Unmarshal(c.SequenceHeader); err != nil {
			return d, fmt.Errorf("track %d: av1 sequence header: %w", t.ID, err)
		}
		d.Width, d.Height = sh.Width(), sh.Height()
		hc = &hlscodecs.AV1{SequenceHeader: c.SequenceHeader}
	case *codecs.VP9:
		d.Width, d.Height = c.Width, c.Height
		hc = &hlscodecs.VP9{Width: c.Width, Height: c.Height, Profile: c.Profile,
			BitDepth: c.BitDepth, ChromaSubsampling: c.ChromaSubsampling, ColorRange: c.ColorRange}
	case *codecs.MPEG4Audio:
		d.SampleRate, d.Channels = c.Config.SampleRate, int(c.Config.ChannelConfig)
		if d.Channels == 0 {
			d.Channels = c.Config.ChannelCount
		}
		hc = &hlscodecs.MPEG4Audio{Config: c.Config}
	case *codecs.Opus:
		d.SampleRate, d.Channels = 48000, c.ChannelCount
		hc = &hlscodecs.Opus{ChannelCount: c.ChannelCount}
	default:
		return d, fmt.Errorf("track %d (%T): %w", t.ID, t.Codec, errUnsupportedCodec)
	}
	d.Codecs = codecparams.Marshal(hc)
	if d.Codecs == "" || d.TimeScale == 0 {
		return d, fmt.Errorf("track %d: %w", t.ID, errUnsupportedCodec)
	}
	return d, nil
}
