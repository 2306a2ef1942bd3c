package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/yutopp/go-amf0"

	"github.com/roomcast/roomcast/ingest/flv"
)

// Enhanced RTMP v2 video header bits ("ExVideoTagHeader").
const (
	exHeader        = 0x80
	frameKey        = 1 << 4
	frameInter      = 2 << 4
	pktSeqStart     = 0
	pktCodedFrames  = 1
	pktSeqEnd       = 2
	pktCodedFramesX = 3
)

func ms(d time.Duration) uint32 { return uint32(d / time.Millisecond) }

func write(w io.Writer, video *videoInput, audio *audioInput, frames []frame) error {
	fw, err := flv.NewWriter(w, audio != nil, video != nil)
	if err != nil {
		return err
	}
	meta, err := metadata(video, audio, frames)
	if err != nil {
		return err
	}
	tags := []flv.Tag{{Type: flv.TagScript, Data: meta}}
	if video != nil {
		hdr := append([]byte{exHeader | frameKey | pktSeqStart}, video.fourCC...)
		tags = append(tags, flv.Tag{Type: flv.TagVideo, Data: append(hdr, video.record...)})
	}
	if audio != nil {
		// classic AAC sequence header: SoundFormat 10, 44 kHz, 16 bit, stereo (E.4.2.1:
		// AAC always uses these flags), AACPacketType 0
		tags = append(tags, flv.Tag{Type: flv.TagAudio, Data: append([]byte{0xaf, 0}, audio.asc...)})
	}
	// interleave by DTS, video first on ties (stable)
	sort.SliceStable(frames, func(i, j int) bool { return frames[i].dts < frames[j].dts })
	var last uint32
	for _, f := range frames {
		last = ms(f.dts)
		tags = append(tags, frameTag(video, f))
	}
	if video != nil {
		tags = append(tags, flv.Tag{Type: flv.TagVideo, Timestamp: last,
			Data: append([]byte{exHeader | frameKey | pktSeqEnd}, video.fourCC...)})
	}
	for _, t := range tags {
		if err := fw.Write(t); err != nil {
			return err
		}
	}
	return nil
}

func frameTag(video *videoInput, f frame) flv.Tag {
	if !f.video {
		return flv.Tag{Type: flv.TagAudio, Timestamp: ms(f.dts), Data: append([]byte{0xaf, 1}, f.payload...)}
	}
	ft := byte(frameInter)
	if f.key {
		ft = frameKey
	}
	cts := int32(ms(f.pts)) - int32(ms(f.dts))
	var b []byte
	switch {
	case video.fourCC == "hvc1" && cts != 0:
		b = append([]byte{exHeader | ft | pktCodedFrames}, video.fourCC...)
		b = append(b, byte(cts>>16), byte(cts>>8), byte(cts)) // CompositionTime SI24
	case video.fourCC == "hvc1":
		b = append([]byte{exHeader | ft | pktCodedFramesX}, video.fourCC...)
	default: // av01: CodedFrames has no CompositionTime
		b = append([]byte{exHeader | ft | pktCodedFrames}, video.fourCC...)
	}
	return flv.Tag{Type: flv.TagVideo, Timestamp: ms(f.dts), Data: append(b, f.payload...)}
}

// metadata encodes the onMetaData script tag body (FLV spec E.5; E-RTMP v2
// "Metadata Frame": videocodecid may hold the FourCC as a number).
func metadata(video *videoInput, audio *audioInput, frames []frame) ([]byte, error) {
	m := amf0.ECMAArray{}
	var end time.Duration
	for _, f := range frames {
		end = max(end, f.pts)
	}
	m["duration"] = end.Seconds()
	if video != nil {
		m["width"] = float64(video.width)
		m["height"] = float64(video.height)
		m["framerate"] = video.fps
		m["videocodecid"] = float64(binary.BigEndian.Uint32([]byte(video.fourCC)))
	}
	if audio != nil {
		m["audiocodecid"] = float64(10)
	}
	var buf bytes.Buffer
	enc := amf0.NewEncoder(&buf)
	if err := enc.Encode("onMetaData"); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return buf.Bytes(), nil
}
