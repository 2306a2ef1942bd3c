package packager

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/timeline"
)

// errStreamFailed is reported to waiting viewers when the stream failed.
var errStreamFailed = errors.New("stream failed")

// partListedDelays keeps the last N delays between the arrival of the unit that
// completes a part and the part being listed (for the performance report).
const delaySamples = 1024

// stream is the packaging state of one publish (one Attach). The segmenter runs on
// the hub reader's goroutine and publishes immutable timeline snapshots; HTTP
// handlers read the latest snapshot and wait for the next one through changed.
type stream struct {
	id         string
	p          *Packager
	log        *slog.Logger
	previewDir string
	hubStream  *hub.Stream
	sig        atomic.Pointer[signedQuery] // the media query of the current window (sign.go)

	// written by the segmenter goroutine only
	seg        *segmenter
	versions   []*timeline.Version
	inits      map[string][]byte // init file name -> bytes (all versions)
	window     []*timeline.Segment
	cur        *timeline.Segment
	curDir     string
	files      []*os.File
	index      *timeline.IndexWriter
	indexDir   string
	written    map[string]bool // init files written to the session dir
	discSeq    int
	target     int
	partTarget time.Duration
	start      time.Time
	period     *timeline.Segment // first segment of the current DASH period
	history    *timeline.History // the current DASH period's complete segments
	// bound is the session the files go to, taken from session (set by Bind) by
	// takeSession on this goroutine; nil while the stream is a preview.
	bound *Session

	mu      sync.Mutex
	tl      *view
	changed chan struct{}
	// done is closed when the stream has ended and its files are complete (last
	// segment flushed, index ended and closed).
	done    chan struct{}
	session *Session // nil until Bind
	ended   bool
	failed  bool
	delays  []time.Duration
}

// view is a published snapshot with its lazily rendered manifests.
type view struct {
	tl    *timeline.Timeline
	inits map[string][]byte
	cache renderCache
}

func newStream(p *Packager, id string, hs *hub.Stream, previewDir string) *stream {
	s := &stream{
		id:         id,
		p:          p,
		log:        p.Log.With("stream", id),
		previewDir: previewDir,
		hubStream:  hs,
		inits:      make(map[string][]byte),
		written:    make(map[string]bool),
		changed:    make(chan struct{}),
		done:       make(chan struct{}),
		target:     max(1, int(math.Ceil(p.SegmentDuration.Seconds()))),
	}
	s.tl = &view{tl: &timeline.Timeline{TargetDuration: s.target}, inits: s.inits}
	s.seg = newSegmenter(hs.Tracks, p.SegmentDuration, p.PartDuration, s)
	return s
}

// snapshot returns the latest view and the channel closed when it changes.
func (s *stream) snapshot() (*view, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tl, s.changed
}

func (s *stream) sessionInfo() *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session
}

// publish makes tl the current snapshot and wakes every waiter.
func (s *stream) publish(arrival time.Time) {
	tl := &timeline.Timeline{
		Versions:              s.versions,
		Segments:              s.window,
		History:               s.history,
		Current:               s.cur,
		NextPartSeq:           s.seg.partSeq,
		TargetDuration:        s.target,
		PartTarget:            s.partTarget,
		Start:                 s.start,
		DiscontinuitySequence: s.discSeq,
		Updated:               time.Now(),
	}
	inits := s.inits
	s.mu.Lock()
	tl.Ended = s.ended
	s.tl = &view{tl: tl, inits: inits}
	close(s.changed)
	s.changed = make(chan struct{})
	if !arrival.IsZero() {
		if len(s.delays) >= delaySamples {
			copy(s.delays, s.delays[1:])
			s.delays = s.delays[:delaySamples-1]
		}
		s.delays = append(s.delays, tl.Updated.Sub(arrival))
	}
	s.mu.Unlock()
}

// startSegment implements segmentSink.
func (s *stream) startSegment(st *segmentStart) error {
	if st.newVersion != nil {
		if err := s.addVersion(st.version, st.newVersion); err != nil {
			return err
		}
	}
	if s.start.IsZero() {
		s.start = st.origin
	}
	if err := s.takeSession(st); err != nil {
		return err
	}
	dir := s.previewDir
	if s.bound != nil {
		dir = s.p.sessionDir(s.bound)
		if err := s.openIndex(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create segment dir: %w", err)
	}
	v := s.versions[len(s.versions)-1]
	if dir == s.indexDir {
		if err := s.writeInits(dir, v); err != nil {
			return err
		}
	}
	s.curDir = dir
	s.cur = &timeline.Segment{
		MSN:            st.msn,
		Version:        st.version,
		Discontinuity:  st.discontinuity,
		NotIndependent: st.notIndependent,
		PDT:            st.pdt,
		Dir:            dir,
		Tracks:         make([]timeline.SegmentTrack, len(v.Tracks)),
	}
	s.files = s.files[:0]
	for i, tr := range v.Tracks {
		name := timeline.SegmentFile(tr.Name, st.msn)
		s.cur.Tracks[i].File = name
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			s.closeFiles()
			return fmt.Errorf("create segment: %w", err)
		}
		s.files = append(s.files, f)
	}
	s.publish(time.Time{})
	return nil
}

// takeSession starts the files of the session Bind attached, if it has not been
// done yet. It runs on the segmenter goroutine (which owns the files) at every
// segment start (next is the segment about to start), part and at the end, so the
// binding takes effect within one part of Bind, and the session starts with the
// key frame that starts the GOP in progress: the segments from the last one that
// starts with a key frame through the one in progress (or next, when it continues
// that GOP) are adopted from the preview. Adopting a complete segment hard-links
// its files into the session directory (the preview path stays valid for viewers
// that fetched a playlist listing it; the files are the same), fsyncs them (preview
// files are never synced), syncs the directory, then indexes the segment; the
// segment in progress is linked while its files are open, so its later writes land
// in the session's files and endSegment indexes it as any session segment. The
// window is re-pointed to the session directory with new segment values (published
// snapshots stay untouched).
func (s *stream) takeSession(next *segmentStart) error {
	if s.bound != nil {
		return nil
	}
	sess := s.sessionInfo()
	if sess == nil {
		return nil
	}
	s.bound = sess
	var gop []*timeline.Segment // complete segments to adopt, oldest first
	var cur *timeline.Segment
	independent := false
	switch {
	case s.cur != nil:
		cur, independent = s.cur, !s.cur.NotIndependent
	case next != nil:
		independent = !next.notIndependent
	default:
		independent = true // no GOP in progress: the session starts at the next key frame
	}
	first := len(s.window)
	for !independent && first > 0 {
		first--
		independent = !s.window[first].NotIndependent
	}
	if !independent {
		// the GOP's first segment left the window (a window shorter than a GOP):
		// the session starts at the next segment
		s.log.Warn("bind: key frame of the GOP in progress no longer in the window, session starts at the next segment")
		return nil
	}
	gop = s.window[first:]
	if len(gop) == 0 && cur == nil {
		return nil
	}
	dir := s.p.sessionDir(sess)
	if err := s.openIndex(dir); err != nil {
		return err
	}
	var versions []*timeline.Version
	for _, seg := range append(slices.Clone(gop), cur) {
		if seg == nil {
			continue
		}
		if v := s.version(seg.Version); v != nil && !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
	}
	for _, v := range versions {
		if err := s.writeInitFiles(dir, v); err != nil {
			return err
		}
	}
	for _, seg := range gop {
		if err := linkSegment(seg, dir, true); err != nil {
			return err
		}
	}
	if cur != nil {
		if err := linkSegment(cur, dir, false); err != nil {
			return err
		}
	}
	// Crash safety (VOD): files, then their directory entries, then the records.
	if err := timeline.SyncDir(dir); err != nil {
		return err
	}
	for _, v := range versions {
		if err := s.index.WriteVersion(v); err != nil {
			return err
		}
	}
	w := slices.Clone(s.window)
	for i, seg := range gop {
		c := *seg
		c.Dir = dir
		if err := s.index.WriteSegment(&c); err != nil {
			return err
		}
		w[first+i] = &c
		s.removeLater(seg) // the preview links only: the files live on in dir
	}
	if err := s.index.Sync(); err != nil {
		return fmt.Errorf("sync index: %w", err)
	}
	s.upload(false)
	s.window = w
	if cur != nil {
		c := *cur
		c.Dir = dir
		s.cur, s.curDir = &c, dir
		s.removeLater(cur)
	}
	s.log.Info("session starts with the GOP in progress", "room", sess.RoomUUID, "session", sess.SessionNo,
		"segments", len(gop), "inProgress", cur != nil)
	s.publish(time.Time{})
	return nil
}

// version returns init version n.
func (s *stream) version(n int) *timeline.Version {
	for _, v := range s.versions {
		if v.Number == n {
			return v
		}
	}
	return nil
}

// linkSegment hard-links the files of seg (in the preview) into dir; complete
// segments are fsynced there (the segment in progress is synced when it ends).
func linkSegment(seg *timeline.Segment, dir string, complete bool) error {
	for _, t := range seg.Tracks {
		if t.File == "" {
			continue
		}
		dst := filepath.Join(dir, t.File)
		if err := os.Link(filepath.Join(seg.Dir, t.File), dst); err != nil {
			return fmt.Errorf("adopt preview segment: %w", err)
		}
		if !complete {
			continue
		}
		f, err := os.Open(dst)
		if err != nil {
			return fmt.Errorf("adopt preview segment: %w", err)
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sync adopted segment: %w", err)
		}
	}
	return nil
}

func (s *stream) addVersion(n int, tracks []*hub.Track) error {
	v := &timeline.Version{Number: n}
	for _, t := range tracks {
		d, err := describe(t, n)
		if err != nil {
			return err
		}
		init := fmp4.Init{Tracks: []*fmp4.InitTrack{{ID: t.ID, TimeScale: uint32(t.ClockRate), Codec: t.Codec}}}
		var buf seekablebuffer.Buffer
		if err := init.Marshal(&buf); err != nil {
			return fmt.Errorf("marshal init of track %d: %w", t.ID, err)
		}
		inits := make(map[string][]byte, len(s.inits)+1)
		for k, b := range s.inits {
			inits[k] = b
		}
		inits[d.Init] = bytes.Clone(buf.Bytes())
		s.inits = inits
		v.Tracks = append(v.Tracks, d)
	}
	s.versions = append(s.versions[:len(s.versions):len(s.versions)], v)
	return nil
}

func (s *stream) openIndex(dir string) error {
	if s.index != nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create session dir: %w", err)
	}
	idx, err := timeline.CreateIndex(dir)
	if err != nil {
		return err
	}
	// Crash safety (VOD): the new session directory and its index file must
	// survive a power loss before any record lists files in them.
	for _, d := range []string{dir, filepath.Dir(dir), s.p.Dir} {
		if err := timeline.SyncDir(d); err != nil {
			idx.Close()
			return err
		}
	}
	s.index, s.indexDir = idx, dir
	return nil
}

func (s *stream) writeInits(dir string, v *timeline.Version) error {
	if err := s.writeInitFiles(dir, v); err != nil {
		return err
	}
	// the init files (synced) are on disk before the record naming them; their
	// directory entries are synced with the first segment's (syncFiles).
	return s.index.WriteVersion(v)
}

// writeInitFiles writes (and fsyncs) the init files of v not yet in dir.
func (s *stream) writeInitFiles(dir string, v *timeline.Version) error {
	for _, tr := range v.Tracks {
		if s.written[tr.Init] {
			continue
		}
		if err := writeFileSync(filepath.Join(dir, tr.Init), s.inits[tr.Init]); err != nil {
			return fmt.Errorf("write init: %w", err)
		}
		s.written[tr.Init] = true
	}
	return nil
}

// writeFileSync writes a new file and fsyncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// part implements segmentSink: the fragments are appended to the segment files in
// one write each, then the part is listed.
func (s *stream) part(po *partOut) error {
	if err := s.takeSession(nil); err != nil {
		return err
	}
	p := &timeline.Part{
		Seq:         po.seq,
		Independent: po.independent,
		Duration:    po.duration,
		Tracks:      make([]timeline.PartTrack, len(po.tracks)),
	}
	copy(p.Tracks, po.tracks)
	for i, data := range po.data {
		if len(data) == 0 {
			continue
		}
		if _, err := s.files[i].Write(data); err != nil {
			return fmt.Errorf("write part: %w", err)
		}
	}
	if po.duration > s.partTarget {
		s.partTarget = (po.duration + time.Millisecond - 1).Truncate(time.Millisecond)
	}
	cur := *s.cur
	cur.Parts = append(s.cur.Parts, p)
	s.cur = &cur
	s.publish(po.arrival)
	return nil
}

// endSegment implements segmentSink.
func (s *stream) endSegment(e *segmentEnd) error {
	if s.cur == nil || s.cur.MSN != e.msn {
		return fmt.Errorf("segment %d ended but not started", e.msn)
	}
	seg := *s.cur
	seg.Duration = e.duration
	seg.Tracks = append([]timeline.SegmentTrack(nil), e.tracks...)
	indexed := s.index != nil && seg.Dir == s.indexDir
	if indexed {
		// Crash safety (VOD): the segment files, then their directory entries,
		// reach the disk before the index record that lists them, and the record
		// is synced before the next segment starts; after a power loss every
		// indexed segment is whole. A kill -9 loses nothing already written (the
		// page cache survives): the archiver recovers the un-indexed segment in
		// progress up to its last complete part (packager/vod).
		if err := s.syncFiles(); err != nil {
			return err
		}
	}
	if err := s.closeFiles(); err != nil {
		return err
	}
	if indexed {
		if err := s.index.WriteSegment(&seg); err != nil {
			return err
		}
		if err := s.index.Sync(); err != nil {
			return fmt.Errorf("sync index: %w", err)
		}
		s.upload(false)
	}
	s.setPeriod(&seg)
	s.history = s.history.Append(&seg)
	if d := int(math.Round(seg.Duration.Seconds())); d > s.target {
		s.target = d
	}
	s.appendWindow(&seg)
	s.cur = nil
	if !e.next {
		s.publish(time.Time{})
	}
	// else startSegment publishes the complete segment together with its
	// successor: no snapshot lists a complete last segment without the segment
	// in progress (DASH lists it at once, see packager/dash)
	return nil
}

// setPeriod assigns the segment to a DASH period: a new one at a discontinuity or
// an init version change. The first period starts at media time zero.
func (s *stream) setPeriod(seg *timeline.Segment) {
	if s.period == nil || seg.Discontinuity || seg.Version != s.period.Version {
		if s.period == nil {
			s.period = &timeline.Segment{MSN: seg.MSN, Tracks: make([]timeline.SegmentTrack, len(seg.Tracks))}
		} else {
			s.period = &timeline.Segment{MSN: seg.MSN, PeriodStart: max(seg.PDT.Sub(s.start), 0), Tracks: seg.Tracks}
		}
		s.period.Version = seg.Version
	}
	seg.Period, seg.PeriodStart = s.period.MSN, s.period.PeriodStart
	for i := range seg.Tracks {
		seg.Tracks[i].PeriodBase = s.period.Tracks[i].BaseTime
	}
}

func (s *stream) appendWindow(seg *timeline.Segment) {
	w := append(s.window[:len(s.window):len(s.window)], seg)
	for len(w) > s.p.LiveWindow {
		old := w[0]
		if old.Discontinuity {
			s.discSeq++
		}
		if old.Dir == s.previewDir {
			s.removeLater(old)
		}
		w = w[1:]
	}
	s.window = w
}

// removeLater deletes preview segment files (not part of any VOD) a while after
// they left the live window, so that viewers that just fetched the playlist can
// still download them.
func (s *stream) removeLater(seg *timeline.Segment) {
	for _, t := range seg.Tracks {
		s.p.trash(filepath.Join(seg.Dir, t.File))
	}
}

// syncFiles fsyncs the segment files in progress and the session directory.
func (s *stream) syncFiles() error {
	for _, f := range s.files {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync segment: %w", err)
		}
	}
	return timeline.SyncDir(s.curDir)
}

func (s *stream) closeFiles() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = fmt.Errorf("close segment: %w", err)
		}
	}
	s.files = s.files[:0]
	return first
}

// end is called once the reader stopped: flush, mark the end, release waiters.
func (s *stream) end(cause error) {
	failed := false
	if cause != nil && !errors.Is(cause, hub.ErrStreamClosed) {
		failed = true
	} else if err := s.takeSession(nil); err != nil {
		// a Bind that came after the last part: the segment in progress is the
		// session's
		cause, failed = err, true
	} else if err := s.seg.finish(); err != nil {
		cause, failed = err, true
	}
	s.closeFiles()
	if failed {
		s.log.Error("packaging failed, stream stopped", "error", cause)
	}
	if s.index != nil {
		if !failed {
			if err := s.index.WriteEnd(time.Now()); err != nil {
				s.log.Error("write index end", "error", err)
			}
		}
		if err := s.index.Close(); err != nil {
			s.log.Error("close index", "error", err)
		}
		s.upload(true)
	}
	s.cur = nil
	s.mu.Lock()
	s.ended, s.failed = true, failed
	s.mu.Unlock()
	s.publish(time.Time{})
	close(s.done)
}

// bind attaches a session; it reports false when the stream already has one or
// has ended (the caller keeps the binding for the next Attach).
func (s *stream) bind(sess Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session != nil || s.ended {
		return false
	}
	select {
	case <-s.hubStream.Done():
		return false
	default:
	}
	s.session = &sess
	return true
}

// delayPercentiles returns p50 and p99 of the part-listing delays measured so far.
func (s *stream) delayPercentiles() (p50, p99 time.Duration, n int) {
	s.mu.Lock()
	d := append([]time.Duration(nil), s.delays...)
	s.mu.Unlock()
	return percentiles(d)
}

func sessionKey(room string, no int) string {
	return room + "/" + strconv.Itoa(no)
}

// upload tells the uploader (with an object store) that the session's index
// gained records, or that the session ended.
func (s *stream) upload(ended bool) {
	u := s.p.uploader
	if u == nil || s.indexDir == "" {
		return
	}
	rel, err := filepath.Rel(s.p.Dir, s.indexDir)
	if err != nil {
		return
	}
	if key := filepath.ToSlash(rel); ended {
		u.Ended(key)
	} else {
		u.Written(key)
	}
}
