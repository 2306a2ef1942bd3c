package vod

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/roomcast/roomcast/packager/dash"
	"github.com/roomcast/roomcast/packager/hls"
	"github.com/roomcast/roomcast/packager/timeline"
)

const (
	cacheImmutable = "public, max-age=31536000, immutable"
	// cacheManifest: manifests carry the viewer's token, keep them private.
	cacheManifest = "private, max-age=60"
	// DownloadFile is the name of the progressive MP4 of a VOD.
	DownloadFile = "download.mp4"
)

// Handler serves /vod/{roomUuid}/{file}: index.m3u8 (multivariant), {track}.m3u8,
// index.mpd, download.mp4 and the init and media segments they list. Every request
// needs ?streamingToken= of the room's app (401 without or with a bad token, 403
// for another app); rooms not ARCHIVED answer 404. Valid after Initialize.
func (a *Archiver) Handler() http.Handler { return a.mux }

func (a *Archiver) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/vod/{room}/{file}", a.onVOD)
	m.HandleFunc("/", http.NotFound)
	return m
}

func (a *Archiver) onVOD(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	room, ok := parseRoom(r.PathValue("room"))
	file := r.PathValue("file")
	if !ok || !timeline.ValidFileName(file) {
		http.NotFound(w, r)
		return
	}
	token := r.URL.Query().Get("streamingToken")
	if token == "" || len(token) > 4096 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	appID, err := a.VerifyToken(token)
	if err != nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	info, err := a.cache.roomInfo(r.Context(), room, a.RoomInfo)
	switch {
	case errors.Is(err, ErrRoomNotFound):
		http.NotFound(w, r)
		return
	case err != nil:
		a.Log.Warn("vod: room info", "room", room, "error", err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	case info.AppID != appID:
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	case !info.Archived:
		http.NotFound(w, r)
		return
	}
	q := "streamingToken=" + url.QueryEscape(token)
	if file == DownloadFile {
		a.serveMP4(w, r, room)
		return
	}
	m, err := a.cache.manifest(a.Dir, room)
	if err != nil {
		a.Log.Warn("vod: manifest", "room", room, "error", err)
		http.NotFound(w, r)
		return
	}
	switch {
	case file == "index.m3u8":
		body, err := hls.Multivariant(m.Timeline(), hls.Options{Query: q, VOD: true})
		writeManifest(w, r, "application/vnd.apple.mpegurl", body, err)
	case file == "index.mpd":
		body, err := dash.MPD(m.DASHTimeline(), dash.Options{Query: q, Static: true})
		writeManifest(w, r, "application/dash+xml", body, err)
	case strings.HasSuffix(file, ".m3u8"):
		i := trackByName(m, strings.TrimSuffix(file, ".m3u8"))
		if i < 0 {
			http.NotFound(w, r)
			return
		}
		body, err := hls.Media(m.Timeline(), i, hls.Options{Query: q, VOD: true})
		writeManifest(w, r, "application/vnd.apple.mpegurl", body, err)
	default:
		a.serveSegment(w, r, room, m, file)
	}
}

func trackByName(m *Manifest, name string) int {
	for i, t := range m.Versions[0].Tracks {
		if t.Name == name {
			return i
		}
	}
	return -1
}

func writeManifest(w http.ResponseWriter, r *http.Request, ctype string, body []byte, err error) {
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", cacheManifest)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body) //nolint:errcheck // the viewer went away
	}
}

// serveSegment serves {track}_init{v}.mp4 and {track}_{msn}.m4s from the session
// files (media segments only up to the size the manifest lists).
func (a *Archiver) serveSegment(w http.ResponseWriter, r *http.Request, room string, m *Manifest, file string) {
	name, rest, _ := strings.Cut(file, "_")
	track := trackByName(m, name)
	if track < 0 {
		http.NotFound(w, r)
		return
	}
	var src string
	size := int64(-1)
	switch {
	case strings.HasPrefix(rest, "init") && strings.HasSuffix(rest, ".mp4"):
		v, ok := parseIndex(strings.TrimSuffix(rest[4:], ".mp4"), len(m.Inits))
		if !ok {
			http.NotFound(w, r)
			return
		}
		src = m.Inits[v][track]
	case strings.HasPrefix(rest, "d") && strings.HasSuffix(rest, ".m4s"):
		a.serveDASHSegment(w, r, room, m, track, strings.TrimSuffix(rest[1:], ".m4s"))
		return
	case strings.HasSuffix(rest, ".m4s"):
		n, ok := parseIndex(strings.TrimSuffix(rest, ".m4s"), len(m.Sources))
		if !ok || m.Segments[n].Tracks[track].Size == 0 {
			http.NotFound(w, r)
			return
		}
		src, size = m.Sources[n][track], m.Segments[n].Tracks[track].Size
	default:
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(a.Dir, room, src))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	var rs io.ReadSeeker = f
	if size >= 0 {
		rs = io.NewSectionReader(f, 0, size)
	}
	ctype := "audio/mp4"
	if m.Versions[0].Tracks[track].Kind == timeline.KindVideo {
		ctype = "video/mp4"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", cacheImmutable)
	http.ServeContent(w, r, "", time.Time{}, rs)
}

// serveDASHSegment serves DASH media segment n: segment n, preceded by segment
// n-1 when DASH lists the two as one (dash.Joins).
func (a *Archiver) serveDASHSegment(w http.ResponseWriter, r *http.Request, room string, m *Manifest, track int, num string) {
	n, ok := parseIndex(num, len(m.Sources))
	if !ok || m.Segments[n].Tracks[track].Size == 0 {
		http.NotFound(w, r)
		return
	}
	seg := m.Segments[n]
	first := n
	if n > 0 && dash.Joins(m.Segments[n-1], seg) {
		first = n - 1
	} else if seg.NotIndependent {
		http.NotFound(w, r)
		return
	}
	var readers []io.ReaderAt
	var size int64
	for k := first; k <= n; k++ {
		f, err := os.Open(filepath.Join(a.Dir, room, m.Sources[k][track]))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		sz := m.Segments[k].Tracks[track].Size
		readers = append(readers, io.NewSectionReader(f, 0, sz))
		size += sz
	}
	ctype := "audio/mp4"
	if m.Versions[0].Tracks[track].Kind == timeline.KindVideo {
		ctype = "video/mp4"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", cacheImmutable)
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(concat(readers), 0, size))
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

// serveMP4 streams the progressive MP4 with Range, HEAD and Content-Length
// (http.ServeContent over a virtual file; 416 beyond the end).
func (a *Archiver) serveMP4(w http.ResponseWriter, r *http.Request, room string) {
	m, l, err := a.cache.layout(a.Dir, room)
	if err != nil {
		a.Log.Warn("vod: mp4 layout", "room", room, "error", err)
		http.NotFound(w, r)
		return
	}
	f := newMP4File(l)
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("Content-Disposition", `attachment; filename="`+room+`.mp4"`)
	h.Set("Accept-Ranges", "bytes")
	http.ServeContent(w, r, "", m.ArchivedAt, f)
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
