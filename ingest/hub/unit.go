package hub

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Track describes one elementary stream of a publish. It is immutable.
type Track struct {
	// ID is 1-based and stable for the lifetime of a Stream (video is 1 when present).
	ID int
	// Codec carries the codec and its parameters in the form fMP4 init segments need
	// (SPS/PPS, VPS, AV1 sequence header, AudioSpecificConfig, Opus channels).
	Codec codecs.Codec
	// ClockRate is the timescale in Hz for this track's samples (90000 for video, the
	// sample rate for audio).
	ClockRate int
	// Config is the decoder configuration record exactly as the publisher sent it
	// (AVCDecoderConfigurationRecord, HEVCDecoderConfigurationRecord, AV1CodecConfigurationRecord,
	// AudioSpecificConfig, OpusHead...). The RTMP relay sends it back verbatim.
	Config []byte
	// FourCC is the Enhanced-RTMP FourCC ("avc1", "hvc1", "av01", "vp09", "mp4a", "Opus").
	FourCC string
}

// IsVideo reports whether the track carries video.
func (t *Track) IsVideo() bool { return t.Codec.IsVideo() }

// Unit is one access unit (a video frame or an audio frame).
//
// Payload is in MP4 sample format: H.264/H.265 NAL units each prefixed with a 4-byte
// big-endian length, AV1 low-overhead OBUs, VP9 frames, raw AAC frames, Opus packets.
// It is the same byte layout FLV carries, so ingest copies it once and both fMP4 and
// the RTMP relay use it unchanged.
type Unit struct {
	Track *Track
	// DTS and PTS are relative to the start of the publish, in one timebase for all
	// tracks. For audio PTS == DTS.
	DTS time.Duration
	PTS time.Duration
	// NTP is the wall-clock time at which the unit arrived.
	NTP time.Time
	// Key marks a random access point (IDR / key frame). Always true for audio.
	Key     bool
	Payload []byte
}
