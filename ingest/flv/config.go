package flv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/vp9"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

var errShort = errors.New("record too short")

// ParseAVCConfig parses an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1)
// and returns the codec with its first SPS and PPS, and the NAL length size in bytes.
//
//	version u8 (=1) | profile u8 | compat u8 | level u8 | 111111 lengthSizeMinusOne:2
//	111 numSPS:5 | { len u16 | SPS } | numPPS u8 | { len u16 | PPS } | [high-profile ext]
func ParseAVCConfig(rec []byte) (*codecs.H264, int, error) {
	if len(rec) < 7 {
		return nil, 0, errShort
	}
	if rec[0] != 1 {
		return nil, 0, fmt.Errorf("avcC version %d", rec[0])
	}
	lengthSize := int(rec[4]&0x03) + 1
	if lengthSize == 3 {
		return nil, 0, errors.New("avcC length size 3 is not allowed")
	}
	pos := 5
	spss, pos, err := readParamSets(rec, pos, int(rec[5]&0x1f), 1)
	if err != nil {
		return nil, 0, fmt.Errorf("avcC SPS: %w", err)
	}
	if pos >= len(rec) {
		return nil, 0, errShort
	}
	ppss, _, err := readParamSets(rec, pos, int(rec[pos]), 1)
	if err != nil {
		return nil, 0, fmt.Errorf("avcC PPS: %w", err)
	}
	if len(spss) == 0 || len(ppss) == 0 {
		return nil, 0, errors.New("avcC without SPS or PPS")
	}
	var sps h264.SPS
	if err := sps.Unmarshal(spss[0]); err != nil {
		return nil, 0, fmt.Errorf("avcC SPS: %w", err)
	}
	if sps.Width() <= 0 || sps.Height() <= 0 {
		return nil, 0, errors.New("avcC SPS has no picture size")
	}
	return &codecs.H264{SPS: spss[0], PPS: ppss[0]}, lengthSize, nil
}

// readParamSets reads n (u16 length, bytes) entries after the count byte at pos.
func readParamSets(rec []byte, pos, n, countSize int) ([][]byte, int, error) {
	pos += countSize
	out := make([][]byte, 0, n)
	for range n {
		if pos+2 > len(rec) {
			return nil, 0, errShort
		}
		l := int(binary.BigEndian.Uint16(rec[pos:]))
		pos += 2
		if l == 0 || pos+l > len(rec) {
			return nil, 0, errShort
		}
		out = append(out, rec[pos:pos+l:pos+l])
		pos += l
	}
	return out, pos, nil
}

// ParseHEVCConfig parses an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1)
// and returns the codec with its VPS/SPS/PPS and the NAL length size in bytes.
//
//	22 bytes of profile/level fields; byte 21 low 2 bits = lengthSizeMinusOne
//	numOfArrays u8 | { completeness:1 reserved:1 NAL_unit_type:6 | numNalus u16 | { len u16 | NALU } }
func ParseHEVCConfig(rec []byte) (*codecs.H265, int, error) {
	if len(rec) < 23 {
		return nil, 0, errShort
	}
	if rec[0] != 1 {
		return nil, 0, fmt.Errorf("hvcC version %d", rec[0])
	}
	lengthSize := int(rec[21]&0x03) + 1
	if lengthSize == 3 {
		return nil, 0, errors.New("hvcC length size 3 is not allowed")
	}
	c := &codecs.H265{}
	pos := 23
	for range int(rec[22]) {
		if pos+3 > len(rec) {
			return nil, 0, errShort
		}
		typ := h265.NALUType(rec[pos] & 0x3f)
		n := int(binary.BigEndian.Uint16(rec[pos+1:]))
		nalus, next, err := readParamSets(rec, pos+1, n, 2)
		if err != nil {
			return nil, 0, fmt.Errorf("hvcC array %v: %w", typ, err)
		}
		pos = next
		if len(nalus) == 0 {
			continue
		}
		switch typ {
		case h265.NALUType_VPS_NUT:
			c.VPS = nalus[0]
		case h265.NALUType_SPS_NUT:
			c.SPS = nalus[0]
		case h265.NALUType_PPS_NUT:
			c.PPS = nalus[0]
		}
	}
	if c.VPS == nil || c.SPS == nil || c.PPS == nil {
		return nil, 0, errors.New("hvcC without VPS, SPS or PPS")
	}
	var sps h265.SPS
	if err := sps.Unmarshal(c.SPS); err != nil {
		return nil, 0, fmt.Errorf("hvcC SPS: %w", err)
	}
	if sps.Width() <= 0 || sps.Height() <= 0 {
		return nil, 0, errors.New("hvcC SPS has no picture size")
	}
	return c, lengthSize, nil
}

// ParseAV1Config parses an AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3.3) and
// returns the codec when configOBUs carry a sequence header, or nil (the sequence
// header then comes with the first key frame, §2.3.4).
//
//	marker:1 (=1) version:7 (=1) | seq_profile:3 seq_level_idx_0:5 |
//	tier:1 high_bitdepth:1 twelve_bit:1 mono:1 subx:1 suby:1 chroma_pos:2 |
//	reserved:3 initial_presentation_delay:5 | configOBUs (low-overhead OBUs)
func ParseAV1Config(rec []byte) (*codecs.AV1, error) {
	if len(rec) < 4 {
		return nil, errShort
	}
	if rec[0] != 0x81 {
		return nil, fmt.Errorf("av1C marker/version 0x%02x", rec[0])
	}
	if len(rec) == 4 {
		return nil, nil
	}
	sh, err := findAV1SequenceHeader(rec[4:])
	if err != nil {
		return nil, fmt.Errorf("av1C configOBUs: %w", err)
	}
	return &codecs.AV1{SequenceHeader: sh}, nil
}

// findAV1SequenceHeader returns the sequence header OBU (without its size field) of
// a low-overhead OBU sequence (AV1 spec §5.2), parsed once to validate it.
func findAV1SequenceHeader(buf []byte) ([]byte, error) {
	var tu av1.Bitstream
	if err := tu.Unmarshal(buf); err != nil {
		return nil, err
	}
	for _, obu := range tu {
		if av1.OBUType((obu[0]>>3)&0x0f) != av1.OBUTypeSequenceHeader {
			continue
		}
		var sh av1.SequenceHeader
		if err := sh.Unmarshal(obu); err != nil {
			return nil, err
		}
		if sh.Width() <= 0 || sh.Height() <= 0 {
			return nil, errors.New("sequence header has no picture size")
		}
		return obu, nil
	}
	return nil, errNoAV1SequenceHeader
}

var errNoAV1SequenceHeader = errors.New("no AV1 sequence header")

// ParseVP9Config checks a VPCodecConfigurationRecord ("VP Codec ISO Media File
// Format Binding" §2.2, with its FullBox version/flags as ffmpeg and the Enhanced
// RTMP spec write it) and returns the codec fields it carries; Width and Height come
// from the first key frame (see vp9KeyframeCodec).
//
//	version u8 (=1) | flags u24 | profile u8 | level u8 | bitDepth:4 chroma:3 fullRange:1 |
//	colourPrimaries u8 | transfer u8 | matrix u8 | codecInitializationDataSize u16 (=0)
func ParseVP9Config(rec []byte) (*codecs.VP9, error) {
	if len(rec) < 12 {
		return nil, errShort
	}
	if rec[0] != 1 {
		return nil, fmt.Errorf("vpcC version %d", rec[0])
	}
	return &codecs.VP9{
		Profile:           rec[4],
		BitDepth:          rec[6] >> 4,
		ChromaSubsampling: (rec[6] >> 1) & 0x07,
		ColorRange:        rec[6]&0x01 != 0,
	}, nil
}

// vp9KeyframeCodec completes c with the frame size of a VP9 key frame (VP9 spec §6.2).
func vp9KeyframeCodec(c *codecs.VP9, frame []byte) (*codecs.VP9, error) {
	var h vp9.Header
	if err := h.Unmarshal(frame); err != nil {
		return nil, fmt.Errorf("vp9 frame header: %w", err)
	}
	if h.NonKeyFrame {
		return nil, errors.New("vp9 frame is not a key frame")
	}
	out := *c
	out.Width, out.Height = h.Width(), h.Height()
	out.Profile = h.Profile
	if h.ColorConfig != nil {
		out.BitDepth = h.ColorConfig.BitDepth
		out.ChromaSubsampling = h.ChromaSubsampling()
		out.ColorRange = h.ColorConfig.ColorRange
	}
	return &out, nil
}

// ParseAudioSpecificConfig parses an MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3
// §1.6.2.1) with mediacommon.
func ParseAudioSpecificConfig(rec []byte) (*codecs.MPEG4Audio, error) {
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(rec); err != nil {
		return nil, fmt.Errorf("AudioSpecificConfig: %w", err)
	}
	if c.SampleRate <= 0 {
		return nil, errors.New("AudioSpecificConfig without sample rate")
	}
	return &codecs.MPEG4Audio{Config: c}, nil
}

// ParseOpusHead parses an Opus identification header (RFC 7845 §5.1), the
// SequenceStart body of the "Opus" FourCC in Enhanced RTMP.
func ParseOpusHead(rec []byte) (*codecs.Opus, error) {
	var h opus.IDHeader
	if err := h.Unmarshal(rec); err != nil {
		return nil, fmt.Errorf("OpusHead: %w", err)
	}
	if h.ChannelCount == 0 {
		return nil, errors.New("OpusHead with 0 channels")
	}
	return &codecs.Opus{ChannelCount: int(h.ChannelCount)}, nil
}
