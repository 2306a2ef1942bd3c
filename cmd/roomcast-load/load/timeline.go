package load

import (
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// partRef names a part by media sequence number and index in its segment.
type partRef struct {
	msn  int
	part int
}

func (a partRef) after(b partRef) bool {
	return a.msn > b.msn || (a.msn == b.msn && a.part > b.part)
}

// listedPart is one part of a media playlist with its wall-clock end (from
// EXT-X-PROGRAM-DATE-TIME plus the durations before it; zero without a date).
type listedPart struct {
	ref partRef
	uri string
	end time.Time
}

// listedSegment is one complete segment with its wall-clock end.
type listedSegment struct {
	msn int
	uri string
	end time.Time
}

// timeline flattens a media playlist into its complete segments and all parts (those
// of complete segments and the trailing ones of the segment in progress), in order.
func timeline(m *playlist.Media) ([]listedSegment, []listedPart) {
	msn := m.MediaSequence
	if m.Skip != nil {
		msn += m.Skip.SkippedSegments
	}
	var segs []listedSegment
	var parts []listedPart
	var cur time.Time
	for _, s := range m.Segments {
		if s.DateTime != nil {
			cur = *s.DateTime
		}
		parts = appendParts(parts, msn, cur, s.Parts)
		segs = append(segs, listedSegment{msn: msn, uri: s.URI, end: addDur(cur, s.Duration)})
		cur = addDur(cur, s.Duration)
		msn++
	}
	parts = appendParts(parts, msn, cur, m.Parts)
	return segs, parts
}

func appendParts(dst []listedPart, msn int, start time.Time, ps []*playlist.MediaPart) []listedPart {
	t := start
	for i, p := range ps {
		t = addDur(t, p.Duration)
		dst = append(dst, listedPart{ref: partRef{msn: msn, part: i}, uri: p.URI, end: t})
	}
	return dst
}

func addDur(t time.Time, d time.Duration) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(d)
}

// nextPart is the part a blocking reload asks for: the one after the last listed.
func nextPart(m *playlist.Media) partRef {
	msn := m.MediaSequence + len(m.Segments)
	if m.Skip != nil {
		msn += m.Skip.SkippedSegments
	}
	return partRef{msn: msn, part: len(m.Parts)}
}
