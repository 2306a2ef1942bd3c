package flv

import (
	"time"

	"github.com/roomcast/roomcast/ingest/hub"
)

// Muxing writes tag bodies back from tracks and units: classic FLV for avc1 and mp4a
// (every RTMP player understands them), the Enhanced RTMP ex-header form for every
// other FourCC. Used by the RTMP relay and the testdata generator.

// AppendSequenceStart appends the tag body of t's sequence header: the
// configuration record t.Config behind the classic AVC/AAC header (E.4.3.1, E.4.2.1)
// or behind an Enhanced RTMP SequenceStart header.
func AppendSequenceStart(dst []byte, t *hub.Track) []byte {
	switch {
	case t.FourCC == FourCCAVC:
		dst = append(dst, frameKey<<4|classicAVC, pktSequenceStart, 0, 0, 0)
	case t.FourCC == FourCCAAC:
		dst = append(dst, classicAAC<<4|0x0f, pktSequenceStart)
	case t.IsVideo() || t.Codec == nil && isVideoFourCC(t.FourCC):
		dst = append(dst, 0x80|frameKey<<4|pktSequenceStart)
		dst = append(dst, t.FourCC...)
	default:
		dst = append(dst, soundExHdr<<4|pktSequenceStart)
		dst = append(dst, t.FourCC...)
	}
	return append(dst, t.Config...)
}

func isVideoFourCC(f string) bool {
	s := specByFourCC([]byte(f))
	return s != nil && s.video
}

// AppendFrameHeader appends the tag header that precedes u.Payload in a coded-frame
// tag body; the body is the header followed by u.Payload unchanged.
//
//	classic AVC:  FrameType:4 CodecID:4 | AVCPacketType=1 | CompositionTime SI24
//	classic AAC:  SoundFormat=10:4 rate:2 size:1 type:1 (0xAF) | AACPacketType=1
//	E-RTMP video: IsExHeader=1 FrameType:3 PacketType:4 | FourCC | [CompositionTime SI24]
//	E-RTMP audio: SoundFormat=9:4 AudioPacketType=1:4 | FourCC
func AppendFrameHeader(dst []byte, u *hub.Unit) []byte {
	t := u.Track
	if !t.IsVideo() {
		if t.FourCC == FourCCAAC {
			return append(dst, classicAAC<<4|0x0f, pktCodedFrames)
		}
		dst = append(dst, soundExHdr<<4|pktCodedFrames)
		return append(dst, t.FourCC...)
	}
	ft := uint8(2) // inter frame
	if u.Key {
		ft = frameKey
	}
	cts := int32((u.PTS - u.DTS) / time.Millisecond)
	if t.FourCC == FourCCAVC {
		dst = append(dst, ft<<4|classicAVC, pktCodedFrames)
		return append(dst, byte(cts>>16), byte(cts>>8), byte(cts))
	}
	spec := specByFourCC([]byte(t.FourCC))
	if spec != nil && spec.cts && cts != 0 {
		dst = append(dst, 0x80|ft<<4|pktCodedFrames)
		dst = append(dst, t.FourCC...)
		return append(dst, byte(cts>>16), byte(cts>>8), byte(cts))
	}
	pkt := uint8(pktCodedFrames)
	if spec != nil && spec.cts {
		pkt = pktCodedFramesX // composition time 0: the shorter form
	}
	dst = append(dst, 0x80|ft<<4|pkt)
	return append(dst, t.FourCC...)
}

// Timestamp returns u's DTS as an FLV/RTMP timestamp in milliseconds.
func Timestamp(d time.Duration) uint32 { return uint32(d / time.Millisecond) }
