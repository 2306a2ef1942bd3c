package load

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
)

// Media is an FLV file prepared for replay: the header tags sent once per connection
// (onMetaData and codec sequence headers) and the body tags replayed in a loop. All
// slices are shared read-only by every publisher.
type Media struct {
	Header []flv.Tag // timestamps 0
	Body   []flv.Tag // timestamps rebased so the first body tag is at 0
	// LoopDuration is how much the timestamps advance per loop: the last body tag's
	// timestamp plus one typical frame interval, so loops continue monotonically.
	LoopDuration time.Duration
	// BytesPerLoop is the payload size of the body tags.
	BytesPerLoop int64
}

var onMetaData = []byte{0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'}

// LoadMedia reads an FLV file with ingest/flv and splits it into header and body.
func LoadMedia(path string) (*Media, error) {
	tags, err := flv.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load media: %w", err)
	}
	return NewMedia(tags)
}

// NewMedia prepares tags for replay.
func NewMedia(tags []flv.Tag) (*Media, error) {
	m := &Media{}
	var first, last uint32
	firstSet := false
	for _, t := range tags {
		switch {
		case isHeaderTag(t):
			m.Header = append(m.Header, flv.Tag{Type: t.Type, Data: t.Data})
			continue
		case t.Type != flv.TagAudio && t.Type != flv.TagVideo:
			continue // other script data (cue points) is not replayed
		}
		if !firstSet {
			first, firstSet = t.Timestamp, true
		}
		if t.Timestamp < first {
			t.Timestamp = first // never go backwards after rebasing
		}
		t.Timestamp -= first
		last = max(last, t.Timestamp)
		m.Body = append(m.Body, t)
		m.BytesPerLoop += int64(len(t.Data))
	}
	if len(m.Body) == 0 {
		return nil, errors.New("load media: no audio or video tags")
	}
	m.LoopDuration = time.Duration(last)*time.Millisecond + frameInterval(m.Body)
	return m, nil
}

// isHeaderTag reports onMetaData and AVC/HEVC/AAC sequence headers (legacy FLV and
// Enhanced RTMP PacketTypeSequenceStart).
func isHeaderTag(t flv.Tag) bool {
	d := t.Data
	switch t.Type {
	case flv.TagScript:
		return bytes.HasPrefix(d, onMetaData)
	case flv.TagAudio:
		return len(d) >= 2 && d[0]>>4 == 10 && d[1] == 0 // AAC sequence header
	case flv.TagVideo:
		if len(d) < 2 {
			return false
		}
		if d[0]&0x80 != 0 { // Enhanced RTMP: IsExHeader, PacketType in the low nibble
			return d[0]&0x0f == 0
		}
		codec := d[0] & 0x0f
		return (codec == 7 || codec == 12) && d[1] == 0
	}
	return false
}

// frameInterval is the median gap between consecutive video timestamps (or audio
// when there is no video); 33 ms when it cannot be told.
func frameInterval(body []flv.Tag) time.Duration {
	for _, typ := range []uint8{flv.TagVideo, flv.TagAudio} {
		var gaps []uint32
		var prev uint32
		seen := false
		for _, t := range body {
			if t.Type != typ {
				continue
			}
			if seen && t.Timestamp > prev {
				gaps = append(gaps, t.Timestamp-prev)
			}
			prev, seen = t.Timestamp, true
		}
		if len(gaps) > 0 {
			return time.Duration(median(gaps)) * time.Millisecond
		}
	}
	return 33 * time.Millisecond
}

func median(v []uint32) uint32 {
	c := slices.Clone(v)
	slices.Sort(c)
	return c[len(c)/2]
}
