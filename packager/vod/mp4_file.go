package vod

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// mp4File is a read-only io.ReadSeeker over an mp4Layout: the header from memory,
// the mdat from the segment files, one open file at a time. Not safe for
// concurrent use; one per request.
type mp4File struct {
	l    *mp4Layout
	pos  int64
	f    *os.File
	fidx int32
}

func newMP4File(l *mp4Layout) *mp4File { return &mp4File{l: l, fidx: -1} }

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
	if err := m.open(c.file); err != nil {
		return 0, err
	}
	got, err := m.f.ReadAt(p[:n], c.src+within)
	m.pos += int64(got)
	if err != nil && !(errors.Is(err, io.EOF) && int64(got) == n) {
		return got, fmt.Errorf("mp4: read %s: %w", m.l.files[c.file], err)
	}
	return got, nil
}

func (m *mp4File) open(i int32) error {
	if m.fidx == i && m.f != nil {
		return nil
	}
	if m.f != nil {
		m.f.Close()
		m.f = nil
	}
	f, err := os.Open(m.l.files[i])
	if err != nil {
		return fmt.Errorf("mp4: %w", err)
	}
	m.f, m.fidx = f, i
	return nil
}

// Close closes the open segment file.
func (m *mp4File) Close() error {
	if m.f == nil {
		return nil
	}
	err := m.f.Close()
	m.f = nil
	return err
}
