package vod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
)

// maxOpenSources bounds the segment files an mp4File keeps open: the mdat
// interleaves the tracks fragment by fragment, so a front-to-back read alternates
// between one file per track; keeping each open lets an object store serve every
// file with one streaming read instead of one request per fragment.
const maxOpenSources = 4

// mp4File is a read-only io.ReadSeeker over an mp4Layout: the header from memory,
// the mdat from the segment files in st. Not safe for concurrent use; one per
// request.
type mp4File struct {
	ctx  context.Context
	st   Store
	l    *mp4Layout
	pos  int64
	open []openSource // most recently used last
}

type openSource struct {
	idx int32
	r   Reader
}

func newMP4File(ctx context.Context, st Store, l *mp4Layout) *mp4File {
	return &mp4File{ctx: ctx, st: st, l: l}
}

// Seek implements io.Seeker.
func (m *mp4File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += m.pos
	case io.SeekEnd:
		off += m.l.size
	default:
		return 0, errors.New("mp4: bad whence")
	}
	if off < 0 {
		return 0, errors.New("mp4: negative position")
	}
	m.pos = off
	return off, nil
}

// Read implements io.Reader.
func (m *mp4File) Read(p []byte) (int, error) {
	if m.pos >= m.l.size {
		return 0, io.EOF
	}
	if h := int64(len(m.l.header)); m.pos < h {
		n := copy(p, m.l.header[m.pos:])
		m.pos += int64(n)
		return n, nil
	}
	cs := m.l.chunks
	i := sort.Search(len(cs), func(i int) bool { return cs[i].at+cs[i].size > m.pos })
	if i == len(cs) {
		return 0, io.EOF
	}
	c := &cs[i]
	within := m.pos - c.at
	n := min(int64(len(p)), c.size-within)
	r, err := m.source(c.file)
	if err != nil {
		return 0, err
	}
	got, err := r.ReadAt(p[:n], c.src+within)
	m.pos += int64(got)
	if err != nil && !(errors.Is(err, io.EOF) && int64(got) == n) {
		return got, fmt.Errorf("mp4: read %s: %w", m.l.files[c.file], err)
	}
	return got, nil
}

// source returns the open reader of file i, opening it (and closing the least
// recently used one past maxOpenSources).
func (m *mp4File) source(i int32) (Reader, error) {
	for k, o := range m.open {
		if o.idx == i {
			if k != len(m.open)-1 {
				m.open = append(append(m.open[:k:k], m.open[k+1:]...), o)
			}
			return o.r, nil
		}
	}
	if len(m.open) >= maxOpenSources {
		m.open[0].r.Close()
		m.open = append(m.open[:0:0], m.open[1:]...)
	}
	r, err := m.st.Open(m.ctx, m.l.files[i], m.l.sizes[i])
	if err != nil {
		return nil, fmt.Errorf("mp4: %w", err)
	}
	m.open = append(m.open, openSource{idx: i, r: r})
	return r, nil
}

// Close closes the open segment files.
func (m *mp4File) Close() error {
	var first error
	for _, o := range m.open {
		if err := o.r.Close(); err != nil && first == nil {
			first = err
		}
	}
	m.open = nil
	return first
}
