// Package hls renders HLS playlists (RFC 8216bis, with Low-Latency HLS) of a
// packager timeline with gohlslib's playlist package.
//
// Ownership rules: functions here are pure; they read an immutable
// timeline.Timeline and return new bytes. Every URI they write is followed by
// "?"+Options.Query when Query is set (the viewer's token), so that players that do
// not carry query parameters forward still authenticate; _HLS_* delivery directives
// are never copied.
package hls

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/roomcast/roomcast/packager/timeline"
)

// Version is the EXT-X-VERSION written in every playlist.
const Version = 9

// ErrNoContent is returned when the timeline has nothing to list yet.
var ErrNoContent = errors.New("no segment yet")

// Options tune rendering.
type Options struct {
	// Query is appended to every URI ("streamingToken=..."), without "?".
	Query string
	// MediaQuery, when set, is appended instead of Query to the URIs of media
	// files (init, segments, parts, preload hints): a query that is the same for
	// every viewer, so that a CDN caches each file once. Playlist URIs (rendition
	// reports) keep Query.
	MediaQuery string
	// LowLatency lists parts, the preload hint and the LL-HLS server control.
	LowLatency bool
	// PartSegments is how many of the last complete segments list their parts
	// (default 2).
	PartSegments int
	// VOD marks the playlist EXT-X-PLAYLIST-TYPE:VOD (with Ended, EXT-X-ENDLIST).
	VOD bool
}

func (o Options) uri(name string) string {
	if o.Query == "" {
		return name
	}
	return name + "?" + o.Query
}

// file is uri for a media file (MediaQuery when set).
func (o Options) file(name string) string {
	if o.MediaQuery == "" {
		return o.uri(name)
	}
	return name + "?" + o.MediaQuery
}

// HasContent reports whether a media playlist of tl can be rendered: at least one
// complete segment.
func HasContent(tl *timeline.Timeline) bool {
	return len(tl.Segments) > 0
}

// PlaylistName returns the media playlist file name of a track.
func PlaylistName(track string) string { return track + ".m3u8" }

// Multivariant renders the multivariant playlist: the first video track as the
// variant and the first audio track as its AUDIO rendition (or the only track).
func Multivariant(tl *timeline.Timeline, o Options) ([]byte, error) {
	v := tl.Latest()
	if v == nil || !HasContent(tl) {
		return nil, ErrNoContent
	}
	video, audio := pick(v)
	peak, avg := bandwidth(tl)
	variant := &playlist.MultivariantVariant{Bandwidth: max(peak, 1), AverageBandwidth: &avg}
	if avg == 0 {
		variant.AverageBandwidth = nil
	}
	pl := &playlist.Multivariant{Version: Version, IndependentSegments: independent(tl), Variants: []*playlist.MultivariantVariant{variant}}
	main := video
	if main < 0 {
		main = audio
	}
	mt := v.Tracks[main]
	variant.Codecs = []string{mt.Codecs}
	variant.URI = o.uri(PlaylistName(mt.Name))
	if mt.Kind == timeline.KindVideo && mt.Width > 0 {
		variant.Resolution = strconv.Itoa(mt.Width) + "x" + strconv.Itoa(mt.Height)
		if mt.FrameRate > 0 {
			fr := math.Round(mt.FrameRate*1000) / 1000
			variant.FrameRate = &fr
		}
	}
	if video >= 0 && audio >= 0 {
		at := v.Tracks[audio]
		variant.Codecs = append(variant.Codecs, at.Codecs)
		variant.Audio = "audio"
		uri := o.uri(PlaylistName(at.Name))
		r := &playlist.MultivariantRendition{
			Type: playlist.MultivariantRenditionTypeAudio, GroupID: "audio", Name: "audio",
			Autoselect: true, Default: true, URI: &uri,
		}
		if at.Channels > 0 {
			ch := strconv.Itoa(at.Channels)
			r.Channels = &ch
		}
		pl.Renditions = append(pl.Renditions, r)
	}
	return pl.Marshal()
}

// pick returns the index of the first video and first audio track (-1 if none).
func pick(v *timeline.Version) (video, audio int) {
	video, audio = -1, -1
	for i, t := range v.Tracks {
		switch {
		case t.Kind == timeline.KindVideo && video < 0:
			video = i
		case t.Kind == timeline.KindAudio && audio < 0:
			audio = i
		}
	}
	return video, audio
}

// Renditions returns the indexes of the tracks that have a media playlist.
func Renditions(v *timeline.Version) []int {
	video, audio := pick(v)
	var out []int
	for _, i := range []int{video, audio} {
		if i >= 0 {
			out = append(out, i)
		}
	}
	return out
}

// bandwidth returns the peak and average bits per second of all tracks together.
// The peak ignores segments shorter than half the target duration (the short first
// segment of a run holds a key frame and little else) unless all are that short.
func bandwidth(tl *timeline.Timeline) (peak, avg int) {
	var bytes int64
	var total time.Duration
	short := time.Duration(tl.TargetDuration) * time.Second / 2
	shortPeak := 0
	for _, s := range tl.Segments {
		var sb int64
		for _, t := range s.Tracks {
			sb += t.Size
		}
		if s.Duration > 0 {
			bps := int(float64(sb*8) / s.Duration.Seconds())
			if s.Duration >= short {
				peak = max(peak, bps)
			} else {
				shortPeak = max(shortPeak, bps)
			}
		}
		bytes += sb
		total += s.Duration
	}
	if total > 0 {
		avg = int(float64(bytes*8) / total.Seconds())
	}
	if peak == 0 {
		peak = shortPeak
	}
	return peak, avg
}

// Media renders the media playlist of the track at index track (of the version of
// each segment; track positions are stable across versions).
func Media(tl *timeline.Timeline, track int, o Options) ([]byte, error) {
	if !HasContent(tl) && !(o.LowLatency && tl.Current != nil && len(tl.Current.Parts) > 0) {
		return nil, ErrNoContent
	}
	first := firstSegment(tl)
	fv := tl.Version(first.Version)
	if fv == nil || track < 0 || track >= len(fv.Tracks) {
		return nil, ErrNoContent
	}
	name := fv.Tracks[track].Name
	pl := &playlist.Media{
		Version:             Version,
		IndependentSegments: independent(tl),
		TargetDuration:      tl.TargetDuration,
		MediaSequence:       int(first.MSN),
		Map:                 &playlist.MediaMap{URI: o.file(fv.Tracks[track].Init)},
		Endlist:             tl.Ended,
	}
	if tl.DiscontinuitySequence > 0 {
		ds := tl.DiscontinuitySequence
		pl.DiscontinuitySequence = &ds
	}
	if o.VOD {
		t := playlist.MediaPlaylistTypeVOD
		pl.PlaylistType = &t
		pl.Endlist = true
	}
	if o.LowLatency {
		pt := max(tl.PartTarget, time.Millisecond)
		hold := 3 * pt
		pl.ServerControl = &playlist.MediaServerControl{CanBlockReload: true, PartHoldBack: &hold}
		pl.PartInf = &playlist.MediaPartInf{PartTarget: pt}
	}
	partsFrom := len(tl.Segments) - max(o.PartSegments, 2)
	if o.PartSegments < 0 {
		partsFrom = len(tl.Segments)
	}
	var maps []mapAt
	prevVersion := first.Version
	for i, s := range tl.Segments {
		v := tl.Version(s.Version)
		if v == nil {
			return nil, ErrNoContent
		}
		tr := v.Tracks[track]
		st := s.Tracks[track]
		pdt := s.PDT
		ms := &playlist.MediaSegment{
			Duration:      s.TrackDuration(track, tr.TimeScale),
			URI:           o.file(st.File),
			Discontinuity: s.Discontinuity,
			DateTime:      &pdt,
		}
		if st.Duration == 0 {
			ms.Gap, ms.Duration = true, s.Duration
		}
		if s.Version != prevVersion {
			maps = append(maps, mapAt{discontinuity: countDisc(tl.Segments[:i+1]), uri: o.file(tr.Init)})
			prevVersion = s.Version
		}
		if o.LowLatency && !tl.Ended && i >= partsFrom {
			ms.Parts = parts(s.Parts, track, tr, o)
		}
		pl.Segments = append(pl.Segments, ms)
	}
	if o.LowLatency && !tl.Ended {
		if c := tl.Current; c != nil {
			if v := tl.Version(c.Version); v != nil {
				pl.Parts = parts(c.Parts, track, v.Tracks[track], o)
				if len(c.Parts) > 0 && len(tl.Segments) > 0 && (c.Version != prevVersion || c.Discontinuity) {
					// the segment in progress needs its own discontinuity and map.
					return renderWithCurrent(pl, maps, c, v.Tracks[track], tl.NextPartSeq, o)
				}
			}
		}
		pl.PreloadHint = &playlist.MediaPreloadHint{URI: o.file(timeline.PartFile(name, tl.NextPartSeq))}
		pl.RenditionReport = reports(tl, fv, track, o)
	}
	out, err := pl.Marshal()
	if err != nil {
		return nil, err
	}
	return insertMaps(out, maps), nil
}

// independent reports whether every listed segment starts with a key frame
// (EXT-X-INDEPENDENT-SEGMENTS); the segment after the short first segment of a run
// does not.
func independent(tl *timeline.Timeline) bool {
	for _, s := range tl.Segments {
		if s.NotIndependent {
			return false
		}
	}
	return tl.Current == nil || !tl.Current.NotIndependent
}

func firstSegment(tl *timeline.Timeline) *timeline.Segment {
	if len(tl.Segments) > 0 {
		return tl.Segments[0]
	}
	return tl.Current
}

func parts(ps []*timeline.Part, track int, tr timeline.Track, o Options) []*playlist.MediaPart {
	out := make([]*playlist.MediaPart, 0, len(ps))
	for _, p := range ps {
		pt := p.Tracks[track]
		mp := &playlist.MediaPart{
			Duration:    timeline.TicksToDuration(pt.Duration, tr.TimeScale),
			URI:         o.file(timeline.PartFile(tr.Name, p.Seq)),
			Independent: p.Independent || tr.Kind == timeline.KindAudio,
		}
		if pt.Size == 0 {
			mp.Gap, mp.Duration = true, p.Duration
		}
		out = append(out, mp)
	}
	return out
}

// reports lists EXT-X-RENDITION-REPORT for the other renditions.
func reports(tl *timeline.Timeline, v *timeline.Version, track int, o Options) []*playlist.MediaRenditionReport {
	var out []*playlist.MediaRenditionReport
	msn, part := lastPart(tl)
	for _, i := range Renditions(v) {
		if i == track {
			continue
		}
		r := &playlist.MediaRenditionReport{URI: o.uri(PlaylistName(v.Tracks[i].Name)), LastMSN: msn}
		if part >= 0 {
			p := part
			r.LastPart = &p
		}
		out = append(out, r)
	}
	return out
}

// lastPart returns the MSN and part index of the last listed part.
func lastPart(tl *timeline.Timeline) (msn, part int) {
	if c := tl.Current; c != nil && len(c.Parts) > 0 {
		return int(c.MSN), len(c.Parts) - 1
	}
	if n := len(tl.Segments); n > 0 {
		s := tl.Segments[n-1]
		return int(s.MSN), len(s.Parts) - 1
	}
	return 0, -1
}

type mapAt struct {
	discontinuity int // 1-based index of the EXT-X-DISCONTINUITY tag in the output
	uri           string
}

func countDisc(segs []*timeline.Segment) int {
	n := 0
	for _, s := range segs {
		if s.Discontinuity {
			n++
		}
	}
	return n
}

var discTag = []byte("#EXT-X-DISCONTINUITY\n")

// insertMaps adds an EXT-X-MAP after the discontinuity that starts a new init
// version (gohlslib's Media has a single EXT-X-MAP).
func insertMaps(out []byte, maps []mapAt) []byte {
	if len(maps) == 0 {
		return out
	}
	var b bytes.Buffer
	n, rest := 0, out
	for len(maps) > 0 {
		i := bytes.Index(rest, discTag)
		if i < 0 {
			break
		}
		n++
		b.Write(rest[:i+len(discTag)])
		rest = rest[i+len(discTag):]
		if maps[0].discontinuity == n {
			b.WriteString(`#EXT-X-MAP:URI="` + maps[0].uri + "\"\n")
			maps = maps[1:]
		}
	}
	b.Write(rest)
	return b.Bytes()
}

// renderWithCurrent renders a playlist whose segment in progress starts after a
// discontinuity: the trailing parts are preceded by EXT-X-DISCONTINUITY and EXT-X-MAP.
func renderWithCurrent(pl *playlist.Media, maps []mapAt, c *timeline.Segment, tr timeline.Track,
	next uint64, o Options,
) ([]byte, error) {
	trailing := pl.Parts
	pl.Parts = nil
	head, err := pl.Marshal()
	if err != nil {
		return nil, err
	}
	head = insertMaps(head, maps)
	tail := &playlist.Media{Version: Version, TargetDuration: 1, Parts: trailing,
		PreloadHint: &playlist.MediaPreloadHint{URI: o.file(timeline.PartFile(tr.Name, next))}}
	tb, err := tail.Marshal()
	if err != nil {
		return nil, err
	}
	// keep only the part lines of the tail playlist
	i := bytes.Index(tb, []byte("#EXT-X-PART:"))
	if i < 0 {
		i = bytes.Index(tb, []byte("#EXT-X-PRELOAD-HINT"))
	}
	var b bytes.Buffer
	b.Write(head)
	if c.Discontinuity {
		b.Write(discTag)
	}
	b.WriteString(`#EXT-X-MAP:URI="` + o.file(tr.Init) + "\"\n")
	b.Write(tb[i:])
	return b.Bytes(), nil
}
