package packager

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/roomcast/roomcast/packager/dash"
	"github.com/roomcast/roomcast/packager/timeline"
)

// cacheInProgress is for a DASH segment sent while it is written: the bytes are
// final, but a shared cache must not keep an answer cut by a timeout.
const cacheInProgress = "no-cache"

// dashPieces returns the timeline segments of DASH segment msn (see dash.Joins):
// prev is non-nil when msn continues the short first segment of a run; seg is
// complete (in the window) or the segment in progress. ok is false when msn is
// not (or no longer) a DASH segment of tl.
func dashPieces(tl *timeline.Timeline, msn uint64) (prev, seg *timeline.Segment, done, ok bool) {
	if seg = findSegment(tl, msn); seg != nil {
		done = true
	} else if c := tl.Current; c != nil && c.MSN == msn && len(c.Parts) > 0 {
		seg = c
	} else {
		return nil, nil, false, false
	}
	if msn > 0 {
		prev = findSegment(tl, msn-1)
	}
	if !dash.Joins(prev, seg) {
		if seg.NotIndependent {
			return nil, nil, false, false
		}
		prev = nil
	}
	return prev, seg, done, true
}

// serveDASHSegment serves DASH media segment msn of a track: from disk when it is
// complete, else chunked while it is written (ISO/IEC 23009-1 Annex K, DASH-IF
// low-latency): the parts already appended to the segment file are sent at once,
// each next one as soon as the segmenter lists it, until the segment is complete;
// the body is then byte-identical to the complete segment. The segment after the
// last one is awaited like the LL-HLS preload hint, so that players that ask for
// it early (availabilityTimeOffset, ffmpeg) are answered when it starts instead
// of with a 404. Waits are bounded in time and number and end at stream end and
// Close.
func (p *Packager) serveDASHSegment(w http.ResponseWriter, r *http.Request, st *stream, track int, msn uint64, ctype string) {
	v, _ := st.snapshot()
	if _, _, _, ok := dashPieces(v.tl, msn); !ok {
		if v.tl.Ended || msn > v.tl.LastMSN()+1 || len(v.tl.Segments) > 0 && msn < v.tl.Segments[0].MSN {
			http.NotFound(w, r)
			return
		}
		var err error
		v, err = p.wait(r.Context(), st, p.maxWait(v.tl), func(tl *timeline.Timeline) bool {
			_, _, _, ok := dashPieces(tl, msn)
			return ok
		})
		if err != nil {
			waitError(w, err)
			return
		}
	}
	prev, seg, done, ok := dashPieces(v.tl, msn)
	if !ok || track >= len(seg.Tracks) {
		http.NotFound(w, r)
		return
	}
	files := make([]sectionFile, 0, 2)
	if prev != nil {
		files = append(files, sectionFile{path: filepath.Join(prev.Dir, prev.Tracks[track].File), size: prev.Tracks[track].Size})
	}
	if done {
		if seg.Tracks[track].Size == 0 {
			http.NotFound(w, r)
			return
		}
		files = append(files, sectionFile{path: filepath.Join(seg.Dir, seg.Tracks[track].File), size: seg.Tracks[track].Size})
		serveFiles(w, r, ctype, files)
		return
	}
	p.streamSegment(w, r, st, track, msn, files, ctype)
}

// sectionFile is the first size bytes of a file.
type sectionFile struct {
	path string
	size int64
}

// serveFiles serves the concatenation of files with Range and HEAD support.
func serveFiles(w http.ResponseWriter, r *http.Request, ctype string, files []sectionFile) {
	readers := make([]io.ReaderAt, 0, len(files))
	sizes := make([]int64, 0, len(files))
	for _, sf := range files {
		f, err := os.Open(sf.path)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		readers, sizes = append(readers, f), append(sizes, sf.size)
	}
	c := &concatReaderAt{readers: readers, sizes: sizes}
	w.Header().Set("Content-Type", ctype)
	cacheImmutable.set(w.Header())
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(c, 0, c.size()))
}

// concatReaderAt reads several sized ReaderAts as one.
type concatReaderAt struct {
	readers []io.ReaderAt
	sizes   []int64
}

func (c *concatReaderAt) size() int64 {
	var n int64
	for _, s := range c.sizes {
		n += s
	}
	return n
}

func (c *concatReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for i, r := range c.readers {
		if len(b) == 0 {
			break
		}
		if off >= c.sizes[i] {
			off -= c.sizes[i]
			continue
		}
		k := int(min(int64(len(b)), c.sizes[i]-off))
		m, err := r.ReadAt(b[:k], off)
		n += m
		if m < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		b, off = b[k:], 0
	}
	if len(b) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// streamSegment sends the complete prefix files, then segment msn of the track
// part by part while it is written. A wait that times out, a stream that ends
// without completing the segment, or Close abort the answer (the viewer sees a
// cut transfer, never a short segment that looks whole).
func (p *Packager) streamSegment(w http.ResponseWriter, r *http.Request, st *stream, track int, msn uint64, prefix []sectionFile, ctype string) {
	if p.waiting.Add(1) > maxWaiters {
		p.waiting.Add(-1)
		waitError(w, errBusy)
		return
	}
	defer p.waiting.Add(-1)
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", cacheInProgress)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	for _, sf := range prefix {
		if err := copyFile(w, sf.path, 0, sf.size); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
	var sent int64
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		v, ch := st.snapshot()
		_, seg, done, ok := dashPieces(v.tl, msn)
		if !ok {
			panic(http.ErrAbortHandler) // the stream ended or failed mid-segment
		}
		size := writtenSize(seg, track, done)
		if size > sent {
			if f == nil {
				var err error
				if f, err = os.Open(filepath.Join(seg.Dir, seg.Tracks[track].File)); err != nil {
					panic(http.ErrAbortHandler)
				}
			}
			if _, err := io.Copy(w, io.NewSectionReader(f, sent, size-sent)); err != nil {
				return // the viewer went away
			}
			sent = size
		}
		if done {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if err := p.waitChange(r.Context(), ch, p.maxWait(v.tl)); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

// writtenSize is how much of the track's segment file is listed: the whole file
// of a complete segment, the parts so far of the segment in progress.
func writtenSize(seg *timeline.Segment, track int, done bool) int64 {
	if done {
		return seg.Tracks[track].Size
	}
	var n int64
	for _, pt := range seg.Parts {
		n += int64(pt.Tracks[track].Size)
	}
	return n
}

// waitChange waits for ch (the next snapshot), at most d.
func (p *Packager) waitChange(ctx context.Context, ch chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return errTimeout
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return errBusy
	}
}

func copyFile(w io.Writer, path string, off, n int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, io.NewSectionReader(f, off, n))
	return err
}
