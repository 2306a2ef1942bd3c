package flv

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// codecSpec is everything the Demuxer (and Muxer) know about one codec. Adding a codec
// is one entry in codecTable.
type codecSpec struct {
	fourCC string
	video  bool
	// cts: CodedFrames carries an SI24 composition time offset (Enhanced RTMP
	// "ExVideoTagBody", only for avc1 and hvc1; classic AVCVIDEOPACKET, E.4.3.1).
	cts bool
	// nal: the payload is length-prefixed NAL units (normalized to 4-byte lengths).
	nal bool
	// classicID is the FLV CodecID (video) or SoundFormat (audio) of the classic
	// header form, or 0 when the codec only exists in the Enhanced RTMP form.
	classicID uint8
	// config parses a SequenceStart body. codec is nil when the codec can only be
	// completed from the first key frame (VP9 size, AV1 without configOBUs).
	config func(rec []byte) (codec codecs.Codec, lengthSize int, err error)
	// fromKeyframe completes a pending codec (possibly nil) from a key frame.
	fromKeyframe func(pending codecs.Codec, frame []byte) (codecs.Codec, error)
	// clockRate of the track's samples.
	clockRate func(codecs.Codec) int
}

// FourCCs of the Enhanced RTMP spec ("Enhanced RTMP v2", section "Defining
// additional Video/Audio Codecs": VideoFourCc / AudioFourCc).
const (
	FourCCAVC  = "avc1"
	FourCCHEVC = "hvc1"
	FourCCAV1  = "av01"
	FourCCVP9  = "vp09"
	FourCCAAC  = "mp4a"
	FourCCOpus = "Opus"
)

// Classic FLV ids (FLV spec v10.1 E.4.3.1 CodecID, E.4.2.1 SoundFormat). CodecID 12
// is the widespread non-standard "HEVC in classic FLV" extension.
const (
	classicAVC  = 7
	classicHEVC = 12
	classicAAC  = 10
	soundExHdr  = 9 // SoundFormat 9 = ExHeader in Enhanced RTMP v2
)

func videoClock(codecs.Codec) int { return 90000 }

var codecTable = []*codecSpec{
	{
		fourCC: FourCCAVC, video: true, cts: true, nal: true, classicID: classicAVC,
		config: func(rec []byte) (codecs.Codec, int, error) {
			c, n, err := ParseAVCConfig(rec)
			return c, n, err
		},
		clockRate: videoClock,
	},
	{
		fourCC: FourCCHEVC, video: true, cts: true, nal: true, classicID: classicHEVC,
		config: func(rec []byte) (codecs.Codec, int, error) {
			c, n, err := ParseHEVCConfig(rec)
			return c, n, err
		},
		clockRate: videoClock,
	},
	{
		fourCC: FourCCAV1, video: true,
		config: func(rec []byte) (codecs.Codec, int, error) {
			c, err := ParseAV1Config(rec)
			if c == nil || errors.Is(err, errNoAV1SequenceHeader) {
				return nil, 0, nil
			}
			return c, 0, err
		},
		fromKeyframe: func(_ codecs.Codec, frame []byte) (codecs.Codec, error) {
			sh, err := findAV1SequenceHeader(frame)
			if err != nil {
				return nil, fmt.Errorf("av1 key frame: %w", err)
			}
			return &codecs.AV1{SequenceHeader: sh}, nil
		},
		clockRate: videoClock,
	},
	{
		fourCC: FourCCVP9, video: true,
		config: func(rec []byte) (codecs.Codec, int, error) {
			_, err := ParseVP9Config(rec)
			return nil, 0, err // the frame size comes with the first key frame
		},
		fromKeyframe: func(_ codecs.Codec, frame []byte) (codecs.Codec, error) {
			return vp9KeyframeCodec(&codecs.VP9{}, frame)
		},
		clockRate: videoClock,
	},
	{
		fourCC: FourCCAAC, classicID: classicAAC,
		config: func(rec []byte) (codecs.Codec, int, error) {
			c, err := ParseAudioSpecificConfig(rec)
			if err != nil {
				return nil, 0, err
			}
			return c, 0, nil
		},
		clockRate: func(c codecs.Codec) int { return c.(*codecs.MPEG4Audio).Config.SampleRate },
	},
	{
		fourCC: FourCCOpus,
		config: func(rec []byte) (codecs.Codec, int, error) {
			c, err := ParseOpusHead(rec)
			if err != nil {
				return nil, 0, err
			}
			return c, 0, nil
		},
		clockRate: func(codecs.Codec) int { return 48000 },
	},
}

func specByFourCC(fourCC []byte) *codecSpec {
	for _, s := range codecTable {
		if s.fourCC == string(fourCC) {
			return s
		}
	}
	return nil
}

func specByClassicID(video bool, id uint8) *codecSpec {
	for _, s := range codecTable {
		if s.video == video && s.classicID == id && id != 0 {
			return s
		}
	}
	return nil
}
