package vod

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
)

// maxRecover bounds how many un-indexed segment files after the last indexed one
// are examined (one in progress, one whose index record was torn, and a spare).
const maxRecover = 3

// session is what one session directory holds that is playable.
type session struct {
	no       int
	dir      string
	versions map[int]*timeline.Version
	segments []*timeline.Segment // local numbering
	report   SessionReport
	files    map[string]int64 // the session directory: name → size
}

// Build reads every session of the room from st and returns its archive manifest
// (not saved). Broken segments are skipped and noted; segments the index does not
// list (a crash) are recovered up to their last complete fragment.
// ErrNothingPlayable when no segment is playable.
func Build(ctx context.Context, st Store, room string) (*Manifest, error) {
	nos, err := sessionNumbers(ctx, st, room)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Room: room, ArchivedAt: time.Now().UTC()}
	var layout []timeline.Track
	for _, no := range nos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := readSession(ctx, st, room+"/"+strconv.Itoa(no), no)
		if len(s.segments) > 0 {
			if layout == nil {
				layout = s.versions[s.segments[0].Version].Tracks
			}
			if why := s.compatible(layout); why != "" {
				s.report.Notes = append(s.report.Notes, "session left out: "+why)
				s.report.Skipped += len(s.segments)
				s.segments = nil
			}
		}
		m.add(s, layout)
	}
	if len(m.Segments) == 0 {
		return m, fmt.Errorf("room %s: %d sessions: %w", room, len(nos), ErrNothingPlayable)
	}
	m.finish()
	return m, nil
}

// sessionNumbers lists the numeric session directories of the room in order.
func sessionNumbers(ctx context.Context, st Store, room string) ([]int, error) {
	ents, err := st.List(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	var nos []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name); err == nil && n > 0 && e.Dir && strconv.Itoa(n) == e.Name {
			nos = append(nos, n)
		}
	}
	slices.Sort(nos)
	return nos, nil
}

// readSession validates a session's indexed segments and recovers its un-indexed
// tail. dir is the session directory in st ("{room}/{n}").
func readSession(ctx context.Context, st Store, dir string, no int) *session {
	s := &session{no: no, dir: dir, versions: map[int]*timeline.Version{}, report: SessionReport{No: no}}
	ents, err := st.List(ctx, dir)
	if err != nil {
		s.note("cannot list: %v", err)
		return s
	}
	s.files = make(map[string]int64, len(ents))
	for _, e := range ents {
		if !e.Dir {
			s.files[e.Name] = e.Size
		}
	}
	b, err := readIndexBytes(ctx, st, dir, ents)
	if err != nil {
		s.note("no index: %v", err)
		return s
	}
	idx, err := timeline.ParseIndex(bytes.NewReader(b), dir)
	if err != nil {
		s.note("no index: %v", err)
		return s
	}
	if idx.Truncated {
		s.note("index ends with a torn record")
	}
	for _, v := range idx.Versions {
		if why := s.checkInits(v); why != "" {
			s.note("init version %d unusable: %s", v.Number, why)
			continue
		}
		s.versions[v.Number] = v
	}
	disc := false
	var last *timeline.Segment
	for _, seg := range idx.Segments {
		v := s.versions[seg.Version]
		why := "unknown init version"
		if v != nil {
			why = s.checkSegment(seg, v)
		}
		if why != "" {
			s.report.Skipped++
			s.note("segment %d skipped: %s", seg.MSN, why)
			disc = true
			continue
		}
		if disc {
			seg.Discontinuity, disc = true, false
		}
		s.segments = append(s.segments, seg)
		last = seg
	}
	if idx.Ended.IsZero() && len(idx.Versions) > 0 {
		s.recoverTail(ctx, st, idx, last, disc)
	}
	return s
}

func (s *session) note(format string, a ...any) {
	s.report.Notes = append(s.report.Notes, fmt.Sprintf(format, a...))
}

// recoverTail rebuilds the segments written after the last index record (the
// process died): each segment file is cut at its last complete fragment.
func (s *session) recoverTail(ctx context.Context, st Store, idx *timeline.Index, last *timeline.Segment, disc bool) {
	v := s.versions[idx.Versions[len(idx.Versions)-1].Number]
	if v == nil {
		return
	}
	var next uint64
	if n := len(idx.Segments); n > 0 {
		next = idx.Segments[n-1].MSN + 1
	} else if msn, ok := s.firstSegmentFile(v); ok {
		// nothing indexed yet: segment numbers continue the stream's preview, so
		// the session's first segment is the lowest-numbered file
		next = msn
	}
	for i := 0; i < maxRecover; i++ {
		seg, why := s.recoverSegment(ctx, st, v, next, last)
		if seg == nil {
			if why != "" {
				s.note("segment %d not recovered: %s", next, why)
			}
			return
		}
		seg.Discontinuity = seg.Discontinuity || disc
		disc = false
		s.segments = append(s.segments, seg)
		s.report.Recovered++
		s.note("segment %d recovered from its file (%v)", seg.MSN, seg.Duration.Round(time.Millisecond))
		last = seg
		next++
	}
}

// firstSegmentFile returns the lowest MSN of the leading track's segment files in
// the session directory.
func (s *session) firstSegmentFile(v *timeline.Version) (uint64, bool) {
	prefix := v.Tracks[leaderOf(v)].Name + "_"
	var first uint64
	found := false
	for name := range s.files {
		num, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		num, ok = strings.CutSuffix(num, ".m4s")
		if !ok {
			continue
		}
		msn, err := strconv.ParseUint(num, 10, 64)
		if err != nil || timeline.SegmentFile(v.Tracks[leaderOf(v)].Name, msn) != name {
			continue // init files, other names
		}
		if !found || msn < first {
			first, found = msn, true
		}
	}
	return first, found
}

// recoverSegment builds the index record of segment msn from its files. It returns
// nil and "" when the segment's files do not exist.
func (s *session) recoverSegment(ctx context.Context, st Store, v *timeline.Version, msn uint64, prev *timeline.Segment) (*timeline.Segment, string) {
	seg := &timeline.Segment{MSN: msn, Version: v.Number, Dir: s.dir, Tracks: make([]timeline.SegmentTrack, len(v.Tracks))}
	leader := leaderOf(v)
	exists := false
	var mtime time.Time
	for i, tr := range v.Tracks {
		name := timeline.SegmentFile(tr.Name, msn)
		seg.Tracks[i].File = name
		size, ok := s.files[name]
		if !ok {
			continue
		}
		exists = true
		f, err := st.Open(ctx, s.dir+"/"+name, size)
		if err != nil {
			continue
		}
		frags, _ := scanFragments(f, f.Size(), false)
		f.Close()
		if len(frags) == 0 {
			continue
		}
		if i == leader {
			mtime, _ = st.ModTime(ctx, s.dir+"/"+name)
		}
		seg.Tracks[i].BaseTime = frags[0].baseTime
		seg.Tracks[i].Size = frags[len(frags)-1].end
		for _, fr := range frags {
			seg.Tracks[i].Duration += fr.duration
		}
	}
	if !exists {
		return nil, ""
	}
	if seg.Tracks[leader].Duration == 0 {
		return nil, "no complete fragment"
	}
	seg.Duration = seg.TrackDuration(leader, v.Tracks[leader].TimeScale)
	switch {
	case prev != nil && prev.Version == v.Number:
		seg.PDT = prev.PDT.Add(prev.Duration)
	case prev != nil:
		seg.PDT, seg.Discontinuity = prev.PDT.Add(prev.Duration), true
	default:
		seg.PDT = mtime.Add(-seg.Duration)
	}
	return seg, ""
}

// leaderOf returns the index of the track that decides segment durations (the
// first video track, as in the segmenter).
func leaderOf(v *timeline.Version) int {
	for i, t := range v.Tracks {
		if t.Kind == timeline.KindVideo {
			return i
		}
	}
	return 0
}

// checkInits reports why the init files of v are unusable ("" if usable).
func (s *session) checkInits(v *timeline.Version) string {
	if len(v.Tracks) == 0 {
		return "no tracks"
	}
	for _, t := range v.Tracks {
		size, ok := s.files[t.Init]
		if !ok || size < 16 || !timeline.ValidFileName(t.Init) || t.TimeScale == 0 {
			return "init " + t.Init + " missing or empty"
		}
	}
	return ""
}

// checkSegment reports why seg is unusable ("" if usable): a track file missing or
// shorter than the index says.
func (s *session) checkSegment(seg *timeline.Segment, v *timeline.Version) string {
	if len(seg.Tracks) != len(v.Tracks) || seg.Duration <= 0 {
		return "inconsistent record"
	}
	if seg.Tracks[leaderOf(v)].Duration == 0 {
		return "no media in the leading track"
	}
	for _, t := range seg.Tracks {
		if t.Size == 0 {
			continue
		}
		if !timeline.ValidFileName(t.File) {
			return "bad file name"
		}
		size, ok := s.files[t.File]
		if !ok {
			return t.File + " missing"
		}
		if size < t.Size {
			return fmt.Sprintf("%s truncated (%d of %d bytes)", t.File, size, t.Size)
		}
	}
	return ""
}

// compatible reports why the session cannot follow a session with the given
// track layout in one playlist ("" if it can): the same kinds in the same order.
func (s *session) compatible(layout []timeline.Track) string {
	for _, seg := range s.segments {
		v := s.versions[seg.Version]
		if len(v.Tracks) != len(layout) {
			return fmt.Sprintf("%d tracks instead of %d", len(v.Tracks), len(layout))
		}
		for i, t := range v.Tracks {
			if t.Kind != layout[i].Kind {
				return fmt.Sprintf("track %d is %s instead of %s", i, t.Kind, layout[i].Kind)
			}
		}
	}
	return ""
}

// add appends a session's segments to the manifest, renumbering segments and
// versions and renaming tracks after the layout.
func (m *Manifest) add(s *session, layout []timeline.Track) {
	s.report.FirstMSN = uint64(len(m.Segments))
	global := map[int]int{}
	for i, seg := range s.segments {
		g, ok := global[seg.Version]
		if !ok {
			g = len(m.Versions)
			global[seg.Version] = g
			m.addVersion(s, s.versions[seg.Version], g, layout)
		}
		msn := uint64(len(m.Segments))
		c := *seg
		c.MSN, c.Version, c.Dir, c.Parts = msn, g, "", nil
		c.Discontinuity = seg.Discontinuity || (i == 0 && msn > 0)
		c.Tracks = slices.Clone(seg.Tracks)
		src := make([]string, len(c.Tracks))
		for j := range c.Tracks {
			src[j] = strconv.Itoa(s.no) + "/" + seg.Tracks[j].File
			c.Tracks[j].File = timeline.SegmentFile(layout[j].Name, msn)
		}
		m.Segments = append(m.Segments, &c)
		m.Sources = append(m.Sources, src)
		s.report.Segments++
		s.report.Duration += c.Duration
	}
	m.Sessions = append(m.Sessions, s.report)
}

func (m *Manifest) addVersion(s *session, v *timeline.Version, g int, layout []timeline.Track) {
	nv := &timeline.Version{Number: g, Tracks: slices.Clone(v.Tracks)}
	src := make([]string, len(nv.Tracks))
	for j := range nv.Tracks {
		src[j] = strconv.Itoa(s.no) + "/" + v.Tracks[j].Init
		nv.Tracks[j].Name = layout[j].Name
		nv.Tracks[j].Init = timeline.InitFile(layout[j].Name, g)
	}
	m.Versions = append(m.Versions, nv)
	m.Inits = append(m.Inits, src)
}
