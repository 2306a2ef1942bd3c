package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// frame is one access unit of either track, payload in MP4 sample format.
type frame struct {
	video    bool
	key      bool
	dts, pts time.Duration
	payload  []byte
}

type videoInput struct {
	fourCC        string
	record        []byte
	width, height int
	fps           float64
	frames        []frame
}

type audioInput struct {
	asc    []byte
	frames []frame
}

// splitAnnexB splits an Annex-B byte stream into NAL units (start codes removed).
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end-- // 4-byte start code
				}
				out = append(out, b[start:end])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

func readHEVC(path, timingPath string) (*videoInput, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	timing, err := readTiming(timingPath)
	if err != nil {
		return nil, err
	}
	var vps, sps, pps []byte
	var aus [][][]byte
	for _, n := range splitAnnexB(raw) {
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_AUD_NUT:
			aus = append(aus, nil)
		case h265.NALUType_VPS_NUT:
			vps = n
		case h265.NALUType_SPS_NUT:
			sps = n
		case h265.NALUType_PPS_NUT:
			pps = n
		default:
			if len(aus) == 0 { // the first access unit's AUD went to the headers
				aus = append(aus, nil)
			}
			aus[len(aus)-1] = append(aus[len(aus)-1], n)
		}
	}
	if len(aus) != len(timing) {
		return nil, fmt.Errorf("hevc: %d access units but %d timing lines", len(aus), len(timing))
	}
	var s h265.SPS
	if err := s.Unmarshal(sps); err != nil {
		return nil, fmt.Errorf("hevc SPS: %w", err)
	}
	rec, err := hevcRecord(vps, sps, pps, &s)
	if err != nil {
		return nil, err
	}
	v := &videoInput{fourCC: "hvc1", record: rec, width: s.Width(), height: s.Height(), fps: s.FPS()}
	for i, au := range aus {
		var p []byte
		for _, n := range au {
			p = binary.BigEndian.AppendUint32(p, uint32(len(n)))
			p = append(p, n...)
		}
		tm := timing[i]
		if tm.key != h265.IsRandomAccess(au) {
			return nil, fmt.Errorf("hevc: access unit %d key flag disagrees with ffprobe", i)
		}
		v.frames = append(v.frames, frame{video: true, key: tm.key, dts: tm.dts, pts: tm.pts, payload: p})
	}
	return v, nil
}

// hevcRecord builds an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1.2):
//
//	configurationVersion=1 | general_profile_space:2 tier:1 profile_idc:5 |
//	general_profile_compatibility_flags u32 | general_constraint_indicator_flags u48 |
//	general_level_idc u8 | 1111 min_spatial_segmentation_idc:12 | 111111 parallelismType:2 |
//	111111 chromaFormat:2 | 11111 bitDepthLumaMinus8:3 | 11111 bitDepthChromaMinus8:3 |
//	avgFrameRate u16 | constantFrameRate:2 numTemporalLayers:3 temporalIdNested:1
//	lengthSizeMinusOne:2 | numOfArrays u8 | arrays (VPS, SPS, PPS; completeness=1)
//
// The 12 profile/tier/level bytes are copied from the SPS's profile_tier_level()
// (H.265 §7.3.3), which has exactly this layout after the NAL header and one byte.
func hevcRecord(vps, sps, pps []byte, s *h265.SPS) ([]byte, error) {
	rbsp := h264.EmulationPreventionRemove(sps)
	if len(rbsp) < 15 {
		return nil, errors.New("hevc SPS too short")
	}
	rec := []byte{1}
	rec = append(rec, rbsp[3:15]...) // NAL header (2) + vps_id/max_sub_layers/nesting (1)
	rec = append(rec,
		0xf0, 0x00, // min_spatial_segmentation_idc = 0
		0xfc,                                // parallelismType = 0 (unknown)
		0xfc|byte(s.ChromaFormatIdc&3),      // chromaFormat
		0xf8|byte(s.BitDepthLumaMinus8&7),   // bitDepthLumaMinus8
		0xf8|byte(s.BitDepthChromaMinus8&7), // bitDepthChromaMinus8
		0, 0,                                // avgFrameRate = 0 (unspecified)
		byte((s.MaxSubLayersMinus1+1)&7)<<3|boolBit(s.TemporalIDNestingFlag)<<2|3, // lengthSizeMinusOne = 3
		3, // numOfArrays
	)
	for _, n := range [][]byte{vps, sps, pps} {
		rec = append(rec, 0x80|(n[0]>>1)&0x3f, 0, 1) // array_completeness=1, one NAL unit
		rec = binary.BigEndian.AppendUint16(rec, uint16(len(n)))
		rec = append(rec, n...)
	}
	return rec, nil
}

func boolBit(b bool) byte {
	if b {
		return 1
	}
	return 0
}

type timingLine struct {
	pts, dts time.Duration
	key      bool
}

// readTiming reads ffprobe's "pts_time,dts_time,flags" lines and shifts them so the
// first DTS is 0.
func readTiming(path string) ([]timingLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []timingLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(parts) < 3 {
			continue
		}
		pts, err1 := strconv.ParseFloat(parts[0], 64)
		dts, err2 := strconv.ParseFloat(parts[1], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("timing line %q", sc.Text())
		}
		out = append(out, timingLine{pts: seconds(pts), dts: seconds(dts), key: strings.HasPrefix(parts[2], "K")})
	}
	if len(out) > 0 {
		base := out[0].dts
		for i := range out {
			out[i].pts -= base
			out[i].dts -= base
		}
	}
	return out, sc.Err()
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// readAV1 reads an IVF file (32-byte header "DKIF", then frames of size u32le,
// pts u64le) of AV1 temporal units.
func readAV1(path string) (*videoInput, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 32 || string(b[:4]) != "DKIF" || string(b[8:12]) != "AV01" {
		return nil, errors.New("av1: not an AV1 IVF file")
	}
	rate := binary.LittleEndian.Uint32(b[16:])
	scale := binary.LittleEndian.Uint32(b[20:])
	if rate == 0 || scale == 0 {
		return nil, errors.New("av1: IVF without time base")
	}
	v := &videoInput{fourCC: "av01", fps: float64(rate) / float64(scale)}
	for p := int(binary.LittleEndian.Uint16(b[6:])); p+12 <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[p:]))
		pts := binary.LittleEndian.Uint64(b[p+4:])
		p += 12
		if p+size > len(b) {
			return nil, errors.New("av1: truncated IVF frame")
		}
		payload, key, seq, err := av1Sample(b[p : p+size])
		if err != nil {
			return nil, fmt.Errorf("av1 frame %d: %w", len(v.frames), err)
		}
		p += size
		if seq != nil && v.record == nil {
			if v.record, v.width, v.height, err = av1Record(seq); err != nil {
				return nil, err
			}
		}
		ts := time.Duration(pts) * time.Second * time.Duration(scale) / time.Duration(rate)
		v.frames = append(v.frames, frame{video: true, key: key, dts: ts, pts: ts, payload: payload})
	}
	if v.record == nil {
		return nil, errors.New("av1: no sequence header")
	}
	return v, nil
}

// av1Sample drops temporal delimiter OBUs from a temporal unit (AV1-ISOBMFF §2.4) and
// re-emits the others with obu_has_size_field=1. It returns the sequence header OBU
// (without size field) if present; a TU with a sequence header and a KEY_FRAME frame
// header is a key frame here (SVT-AV1 writes one at every GOP start).
func av1Sample(tu []byte) (payload []byte, key bool, seq []byte, err error) {
	var bs av1.Bitstream
	if err := bs.Unmarshal(tu); err != nil {
		return nil, false, nil, err
	}
	var keep av1.Bitstream
	for _, obu := range bs {
		switch av1.OBUType((obu[0] >> 3) & 0x0f) {
		case av1.OBUTypeTemporalDelimiter:
			continue
		case av1.OBUTypeSequenceHeader:
			seq = obu
		}
		keep = append(keep, obu)
	}
	payload, err = keep.Marshal()
	return payload, seq != nil && av1.IsRandomAccess2(keep), seq, err
}

// av1Record builds an AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3.3):
//
//	marker=1 version=1 | seq_profile:3 seq_level_idx_0:5 | seq_tier_0:1 high_bitdepth:1
//	twelve_bit:1 monochrome:1 chroma_subsampling_x:1 chroma_subsampling_y:1
//	chroma_sample_position:2 | 000 initial_presentation_delay_present=0 0000 |
//	configOBUs = the sequence header OBU with obu_has_size_field=1
func av1Record(seq []byte) ([]byte, int, int, error) {
	var sh av1.SequenceHeader
	if err := sh.Unmarshal(seq); err != nil {
		return nil, 0, 0, fmt.Errorf("av1 sequence header: %w", err)
	}
	cc := sh.ColorConfig
	rec := []byte{
		0x81,
		sh.SeqProfile<<5 | sh.SeqLevelIdx[0]&0x1f,
		boolBit(sh.SeqTier[0])<<7 | boolBit(cc.HighBitDepth)<<6 | boolBit(cc.TwelveBit)<<5 |
			boolBit(cc.MonoChrome)<<4 | boolBit(cc.SubsamplingX)<<3 | boolBit(cc.SubsamplingY)<<2 |
			byte(cc.ChromaSamplePosition)&3,
		0,
	}
	obus, err := av1.Bitstream{seq}.Marshal()
	if err != nil {
		return nil, 0, 0, err
	}
	return append(rec, obus...), sh.Width(), sh.Height(), nil
}

// readAAC reads ADTS frames (ISO/IEC 14496-3 Table 1.A.5) and builds the
// AudioSpecificConfig (§1.6.2.1) of the first one. Each AAC-LC frame is 1024 samples.
func readAAC(path string) (*audioInput, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("aac: %w", err)
	}
	if len(pkts) == 0 {
		return nil, errors.New("aac: no frames")
	}
	p0 := pkts[0]
	asc, err := mpeg4audio.AudioSpecificConfig{
		Type: p0.Type, SampleRate: p0.SampleRate, ChannelConfig: p0.ChannelConfig,
		ChannelCount: int(p0.ChannelConfig),
	}.Marshal()
	if err != nil {
		return nil, fmt.Errorf("aac: %w", err)
	}
	a := &audioInput{asc: asc}
	for i, p := range pkts {
		ts := time.Duration(i) * 1024 * time.Second / time.Duration(p0.SampleRate)
		a.frames = append(a.frames, frame{key: true, dts: ts, pts: ts, payload: bytes.Clone(p.AU)})
	}
	return a, nil
}
