package vod

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/roomcast/roomcast/packager/dash"
	"github.com/roomcast/roomcast/packager/hls"
	"github.com/roomcast/roomcast/packager/timeline"
)

// DownloadFile is the name of the progressive MP4 of a VOD.
const DownloadFile = "download.mp4"

// File is one file of an archived room, opened by Archiver.Open: a manifest
// rendered in memory (Body), or media read from the session files (Content).
// Close releases the files it holds.
type File struct {
	// ContentType is the MIME type of the file.
	ContentType string
	// Body is a manifest (index.m3u8, {track}.m3u8, index.mpd) rendered with the
	// viewer's query in every URI; nil for media.
	Body []byte
	// Content reads an init segment, a media segment (cut at the size the
	// manifest lists) or the progressive MP4; nil for manifests.
	Content io.ReadSeeker
	// ModTime is the archive time for the progressive MP4, zero otherwise.
	ModTime time.Time

	closers []io.Closer
}

// Close closes the files File reads from.
func (f *File) Close() error {
	var first error
	for _, c := range f.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	f.closers = nil
	return first
}

// Open returns file of the archived room: index.m3u8 (multivariant), {track}.m3u8,
// index.mpd, download.mp4 and the init and media segments they list. query (the
// viewer's token, URL-encoded) is appended to every URI of a manifest. A name the
// VOD does not list is an error wrapping fs.ErrNotExist. Open checks neither
// tokens nor room states: the caller serves only ARCHIVED rooms.
func (a *Archiver) Open(ctx context.Context, room, file, query string) (*File, error) {
	if _, ok := parseRoom(room); !ok || !timeline.ValidFileName(file) {
		return nil, notExist(room, file)
	}
	if file == DownloadFile {
		m, l, err := a.cache.layout(ctx, a.store, room)
		if err != nil {
			return nil, fmt.Errorf("vod %s: mp4 layout: %w", room, err)
		}
		mf := newMP4File(ctx, a.store, l)
		return &File{ContentType: "video/mp4", Content: mf, ModTime: m.ArchivedAt, closers: []io.Closer{mf}}, nil
	}
	m, err := a.cache.manifest(ctx, a.store, room)
	if err != nil {
		return nil, fmt.Errorf("vod %s: manifest: %w", room, err)
	}
	opts := hls.Options{Query: query, VOD: true}
	var body []byte
	switch {
	case file == "index.m3u8":
		body, err = hls.Multivariant(m.Timeline(), opts)
		return manifestFile("application/vnd.apple.mpegurl", body, err, room, file)
	case file == "index.mpd":
		body, err = dash.MPD(m.DASHTimeline(), dash.Options{Query: query, Static: true})
		return manifestFile("application/dash+xml", body, err, room, file)
	case strings.HasSuffix(file, ".m3u8"):
		i := trackByName(m, strings.TrimSuffix(file, ".m3u8"))
		if i < 0 {
			return nil, notExist(room, file)
		}
		body, err = hls.Media(m.Timeline(), i, opts)
		return manifestFile("application/vnd.apple.mpegurl", body, err, room, file)
	}
	return a.openSegment(ctx, room, m, file)
}

func notExist(room, file string) error {
	return fmt.Errorf("vod %s/%s: %w", room, file, fs.ErrNotExist)
}

// manifestFile wraps a rendered manifest; a manifest that cannot be rendered is
// not there.
func manifestFile(ctype string, body []byte, err error, room, file string) (*File, error) {
	if err != nil {
		return nil, fmt.Errorf("vod %s/%s: render: %w: %w", room, file, fs.ErrNotExist, err)
	}
	return &File{ContentType: ctype, Body: body}, nil
}

func trackByName(m *Manifest, name string) int {
	for i, t := range m.Versions[0].Tracks {
		if t.Name == name {
			return i
		}
	}
	return -1
}

func trackType(m *Manifest, track int) string {
	if m.Versions[0].Tracks[track].Kind == timeline.KindVideo {
		return "video/mp4"
	}
	return "audio/mp4"
}

// openSegment opens {track}_init{v}.mp4 and {track}_{msn}.m4s from the session
// files (media segments only up to the size the manifest lists), and the DASH
// segments {track}_d{n}.m4s.
func (a *Archiver) openSegment(ctx context.Context, room string, m *Manifest, file string) (*File, error) {
	name, rest, _ := strings.Cut(file, "_")
	track := trackByName(m, name)
	if track < 0 {
		return nil, notExist(room, file)
	}
	var src string
	size := int64(-1)
	switch {
	case strings.HasPrefix(rest, "init") && strings.HasSuffix(rest, ".mp4"):
		v, ok := parseIndex(strings.TrimSuffix(rest[4:], ".mp4"), len(m.Inits))
		if !ok {
			return nil, notExist(room, file)
		}
		src = m.Inits[v][track]
	case strings.HasPrefix(rest, "d") && strings.HasSuffix(rest, ".m4s"):
		return a.openDASHSegment(ctx, room, m, track, file, strings.TrimSuffix(rest[1:], ".m4s"))
	case strings.HasSuffix(rest, ".m4s"):
		n, ok := parseIndex(strings.TrimSuffix(rest, ".m4s"), len(m.Sources))
		if !ok || m.Segments[n].Tracks[track].Size == 0 {
			return nil, notExist(room, file)
		}
		src, size = m.Sources[n][track], m.Segments[n].Tracks[track].Size
	default:
		return nil, notExist(room, file)
	}
	f, err := a.store.Open(ctx, room+"/"+src, size)
	if err != nil {
		return nil, fmt.Errorf("vod %s/%s: %w", room, file, err)
	}
	if size < 0 {
		size = f.Size()
	}
	rs := io.NewSectionReader(f, 0, size)
	return &File{ContentType: trackType(m, track), Content: rs, closers: []io.Closer{f}}, nil
}

// openDASHSegment opens DASH media segment n: segment n, preceded by segment n-1
// when DASH lists the two as one (dash.Joins).
func (a *Archiver) openDASHSegment(ctx context.Context, room string, m *Manifest, track int, file, num string) (*File, error) {
	n, ok := parseIndex(num, len(m.Sources))
	if !ok || m.Segments[n].Tracks[track].Size == 0 {
		return nil, notExist(room, file)
	}
	seg := m.Segments[n]
	first := n
	if n > 0 && dash.Joins(m.Segments[n-1], seg) {
		first = n - 1
	} else if seg.NotIndependent {
		return nil, notExist(room, file)
	}
	out := &File{ContentType: trackType(m, track)}
	var readers []io.ReaderAt
	var size int64
	for k := first; k <= n; k++ {
		sz := m.Segments[k].Tracks[track].Size
		f, err := a.store.Open(ctx, room+"/"+m.Sources[k][track], sz)
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("vod %s/%s: %w", room, file, err)
		}
		out.closers = append(out.closers, f)
		readers = append(readers, io.NewSectionReader(f, 0, sz))
		size += sz
	}
	out.Content = io.NewSectionReader(concat(readers), 0, size)
	return out, nil
}

// concat reads SectionReaders one after the other as one ReaderAt.
type concat []io.ReaderAt

func (c concat) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for _, r := range c {
		sz := r.(*io.SectionReader).Size()
		if off >= sz {
			off -= sz
			continue
		}
		m, err := r.ReadAt(b[n:min(len(b), n+int(sz-off))], off)
		n += m
		if err != nil && err != io.EOF {
			return n, err
		}
		off = 0
		if n == len(b) {
			return n, nil
		}
	}
	return n, io.EOF
}

// parseIndex parses a decimal index below n (no sign, no leading zeros).
func parseIndex(s string, n int) (int, bool) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, v < n
}
