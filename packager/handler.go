package packager

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roomcast/roomcast/packager/dash"
	"github.com/roomcast/roomcast/packager/hls"
	"github.com/roomcast/roomcast/packager/timeline"
)

const timeLayout = "2006-01-02T15:04:05.000Z"

var (
	errBusy    = errors.New("too many waiting requests")
	errTimeout = errors.New("not available in time")
)

func (p *Packager) onLive(w http.ResponseWriter, r *http.Request) {
	room, file, ok1 := parseRoomPath(r)
	no, ok2 := parseSessionNo(r.PathValue("session"))
	if !ok1 || !ok2 {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	token := q.Get("streamingToken")
	if token == "" && q.Has("sig") && isMediaFile(file) {
		p.serveSigned(w, r, room, no, file, q)
		return
	}
	who, ok := p.authorize(w, token)
	if !ok {
		return
	}
	st := p.lookupWait(r.Context(), room, no, attachWait)
	if st == nil {
		p.serveElsewhere(w, r, room, no, file)
		return
	}
	sess := st.sessionInfo()
	if sess != nil && sess.RecordOnly {
		// recorded for the VOD, not offered live (mode=RTMP)
		http.NotFound(w, r)
		return
	}
	if sess == nil || sess.AppID != who.appID {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if p.OnViewer != nil {
		p.OnViewer(room, who.memberID)
	}
	tq := queries{viewer: tokenQuery(token)}
	tq.media = tq.viewer
	if len(p.SignKey) > 0 {
		tq.media = p.mediaQuery(st, room, no, time.Now())
	}
	switch {
	case file == "index.m3u8":
		p.serveIndex(w, r, st, tq, "application/vnd.apple.mpegurl", hls.HasContent, (*view).multivariant, "")
	case file == "index.mpd":
		build := (*view).mpd
		if needsPeriodStart(r) {
			build = (*view).mpdFromPeriodStart
		}
		p.serveIndex(w, r, st, tq, "application/dash+xml", dash.HasContent, build, timeURL(r))
	case strings.HasSuffix(file, ".m3u8"):
		p.serveMedia(w, r, st, strings.TrimSuffix(file, ".m3u8"), q, tq)
	default:
		p.serveFile(w, r, st, file)
	}
}

// queries are what a manifest's URIs carry: the viewer's token on playlists, and
// on media files the signature of the session (sign.go) or, without a SignKey,
// the token too.
type queries struct{ viewer, media string }

// isMediaFile reports whether file is an init segment, a segment or a part (not
// a manifest or playlist).
func isMediaFile(file string) bool {
	return strings.HasSuffix(file, ".mp4") || strings.HasSuffix(file, ".m4s")
}

// serveSigned serves a media file requested with a session signature instead of
// a viewer's token: the same URL for every viewer, so a CDN caches it once. No
// viewer is counted (the playlists they reload are).
func (p *Packager) serveSigned(w http.ResponseWriter, r *http.Request, room string, no int, file string, q url.Values) {
	if !p.verifySig(room, no, q, time.Now()) {
		http.Error(w, "invalid or expired signature", http.StatusForbidden)
		return
	}
	st := p.lookupWait(r.Context(), room, no, attachWait)
	if st == nil {
		p.serveElsewhere(w, r, room, no, file)
		return
	}
	if sess := st.sessionInfo(); sess == nil || sess.RecordOnly {
		http.NotFound(w, r)
		return
	}
	p.serveFile(w, r, st, file)
}

// attachWait bounds how long a viewer of a bound session waits for its stream
// to be attached (the publisher's track detection takes up to 2 s).
const attachWait = 5 * time.Second

// needsPeriodStart reports whether the viewer is GStreamer, whose dashdemux and
// dashdemux2 seek right only in an MPD that lists the live Period from its
// start (packager/dash). Its requests say "GStreamer souphttpsrc 1.22.0
// libsoup/3.2.3" and the like.
func needsPeriodStart(r *http.Request) bool {
	return strings.Contains(r.UserAgent(), "GStreamer")
}

// wait returns the first snapshot for which ready is true (or that has ended),
// waiting at most d.
func (p *Packager) wait(ctx context.Context, st *stream, d time.Duration, ready func(*timeline.Timeline) bool) (*view, error) {
	v, ch := st.snapshot()
	if ready(v.tl) || v.tl.Ended {
		return v, nil
	}
	if p.waiting.Add(1) > maxWaiters {
		p.waiting.Add(-1)
		return nil, errBusy
	}
	defer p.waiting.Add(-1)
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-ch:
			v, ch = st.snapshot()
			if ready(v.tl) || v.tl.Ended {
				return v, nil
			}
		case <-timer.C:
			return nil, errTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.ctx.Done():
			return nil, errBusy
		}
	}
}

// maxWait is the blocking bound: three target durations (RFC 8216bis 6.2.5.2).
func (p *Packager) maxWait(tl *timeline.Timeline) time.Duration {
	if p.blockTimeout > 0 {
		return p.blockTimeout
	}
	return 3 * time.Duration(max(tl.TargetDuration, 1)) * time.Second
}

func waitError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// the viewer went away
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "not available yet", http.StatusServiceUnavailable)
	}
}

// serveIndex serves a session's entry manifest (the HLS multivariant playlist or
// the DASH MPD) once the stream has content, from the snapshot's cached template.
func (p *Packager) serveIndex(w http.ResponseWriter, r *http.Request, st *stream, tq queries, ctype string,
	ready func(*timeline.Timeline) bool, build func(*view) (*tmpl, error), timeURL string) {
	v0, _ := st.snapshot()
	v, err := p.wait(r.Context(), st, p.maxWait(v0.tl), ready)
	if err != nil {
		waitError(w, err)
		return
	}
	t, err := build(v)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	writeManifest(w, r, ctype, cacheLive, t.render(tq.viewer, tq.media, timeURL))
}

// timeURL is the absolute URL of /time as the viewer reached us.
func timeURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if fp := r.Header.Get("X-Forwarded-Proto"); fp == "https" || fp == "http" {
		scheme = fp
	}
	host := r.Host
	if strings.ContainsAny(host, "\"<>'&/ ") || host == "" {
		host = "localhost"
	}
	return scheme + "://" + host + "/time"
}

func (p *Packager) serveMedia(w http.ResponseWriter, r *http.Request, st *stream, name string, q url.Values, tq queries) {
	v0, _ := st.snapshot()
	track := trackIndex(v0.tl, name)
	msnS, partS := q.Get("_HLS_msn"), q.Get("_HLS_part")
	ready := hls.HasContent
	cache := cacheLive
	if q.Has("_HLS_msn") || q.Has("_HLS_part") {
		msn, ok1 := parseUint(msnS)
		part, ok2 := uint64(0), true
		if q.Has("_HLS_part") {
			part, ok2 = parseUint(partS)
		}
		if !ok1 || !ok2 || msn > v0.tl.LastMSN()+2 || part > 1000 {
			http.Error(w, "bad delivery directive", http.StatusBadRequest)
			return
		}
		hasPart := q.Has("_HLS_part")
		ready = func(tl *timeline.Timeline) bool { return partExists(tl, msn, int(part), hasPart) }
		cache = cacheBlocked
	}
	if track < 0 && hls.HasContent(v0.tl) {
		http.NotFound(w, r)
		return
	}
	v, err := p.wait(r.Context(), st, p.maxWait(v0.tl), ready)
	if err != nil {
		waitError(w, err)
		return
	}
	if track = trackIndex(v.tl, name); track < 0 {
		http.NotFound(w, r)
		return
	}
	t, err := v.media(track)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	writeManifest(w, r, "application/vnd.apple.mpegurl", cache, t.render(tq.viewer, tq.media, ""))
}

// partExists reports whether the playlist of tl contains part (msn, part), or the
// complete segment msn when hasPart is false. A part index past the end of a
// complete segment means part 0 of the next one (RFC 8216bis 6.2.5.2).
func partExists(tl *timeline.Timeline, msn uint64, part int, hasPart bool) bool {
	if !hls.HasContent(tl) {
		return false
	}
	last := tl.Segments[len(tl.Segments)-1].MSN
	if !hasPart {
		return msn <= last
	}
	if msn <= last {
		if seg := findSegment(tl, msn); seg == nil || part < len(seg.Parts) {
			return true
		}
		msn, part = msn+1, 0
		if msn <= last {
			return true
		}
	}
	c := tl.Current
	return c != nil && c.MSN == msn && part < len(c.Parts)
}

func findSegment(tl *timeline.Timeline, msn uint64) *timeline.Segment {
	for _, s := range tl.Segments {
		if s.MSN == msn {
			return s
		}
	}
	return nil
}

func trackIndex(tl *timeline.Timeline, name string) int {
	if v := tl.Latest(); v != nil {
		for i, t := range v.Tracks {
			if t.Name == name {
				return i
			}
		}
	}
	return -1
}

func writeManifest(w http.ResponseWriter, r *http.Request, ctype string, cache cachePolicy, body []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	cache.set(h)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body) //nolint:errcheck // the viewer went away
	}
}

// serveFile serves init segments (memory), parts (memory or segment file) and
// segments (disk, sendfile) with Range and HEAD support.
func (p *Packager) serveFile(w http.ResponseWriter, r *http.Request, st *stream, file string) {
	name, rest, _ := strings.Cut(file, "_")
	v, _ := st.snapshot()
	track := trackIndex(v.tl, name)
	if track < 0 {
		http.NotFound(w, r)
		return
	}
	ctype := "audio/mp4"
	if strings.HasPrefix(name, string(timeline.KindVideo)) {
		ctype = "video/mp4"
	}
	switch {
	case strings.HasPrefix(rest, "init") && strings.HasSuffix(rest, ".mp4"):
		b, ok := v.inits[file]
		if !ok {
			http.NotFound(w, r)
			return
		}
		serveBytes(w, r, ctype, b)
	case strings.HasPrefix(rest, "p"):
		seq, ok := parseUint(strings.TrimSuffix(rest[1:], ".m4s"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		p.servePart(w, r, st, track, seq, ctype)
	case strings.HasPrefix(rest, "d"):
		msn, ok := parseUint(strings.TrimSuffix(rest[1:], ".m4s"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		p.serveDASHSegment(w, r, st, track, msn, ctype)
	default:
		msn, ok := parseUint(strings.TrimSuffix(rest, ".m4s"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		seg := findSegment(v.tl, msn)
		if seg == nil || seg.Tracks[track].Size == 0 {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(seg.Dir, seg.Tracks[track].File))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		serveImmutable(w, r, ctype, f)
	}
}

func serveBytes(w http.ResponseWriter, r *http.Request, ctype string, b []byte) {
	serveImmutable(w, r, ctype, bytes.NewReader(b))
}

// serveImmutable serves an init or media segment with Range and HEAD support.
func serveImmutable(w http.ResponseWriter, r *http.Request, ctype string, content io.ReadSeeker) {
	w.Header().Set("Content-Type", ctype)
	cacheImmutable.set(w.Header())
	http.ServeContent(w, r, "", time.Time{}, content)
}

// servePart serves a part; the part announced by the preload hint is awaited.
func (p *Packager) servePart(w http.ResponseWriter, r *http.Request, st *stream, track int, seq uint64, ctype string) {
	v, _ := st.snapshot()
	seg, part := findPart(v.tl, seq)
	if part == nil {
		if seq != v.tl.NextPartSeq || v.tl.Ended {
			http.NotFound(w, r)
			return
		}
		var err error
		v, err = p.wait(r.Context(), st, p.maxWait(v.tl), func(tl *timeline.Timeline) bool {
			_, pt := findPart(tl, seq)
			return pt != nil
		})
		if err != nil {
			waitError(w, err)
			return
		}
		if seg, part = findPart(v.tl, seq); part == nil {
			http.NotFound(w, r)
			return
		}
	}
	pt := part.Tracks[track]
	if pt.Size == 0 {
		http.NotFound(w, r)
		return
	}
	// every part is in its segment file (page cache) before it is listed
	f, err := os.Open(filepath.Join(seg.Dir, seg.Tracks[track].File))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	serveSection(w, r, ctype, io.NewSectionReader(f, pt.Offset, int64(pt.Size)))
}

// partBufs holds read buffers for whole-part answers (a part is ~10-100 KB).
var partBufs = sync.Pool{New: func() any { b := make([]byte, 0, 128<<10); return &b }}

// serveSection answers a plain GET of a part with one read and one write; Range
// and conditional requests go through http.ServeContent.
func serveSection(w http.ResponseWriter, r *http.Request, ctype string, sr *io.SectionReader) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	cacheImmutable.set(h)
	if r.Header.Get("Range") != "" || sr.Size() > 4<<20 {
		http.ServeContent(w, r, "", time.Time{}, sr)
		return
	}
	n := int(sr.Size())
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Length", strconv.Itoa(n))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	bp := partBufs.Get().(*[]byte)
	defer partBufs.Put(bp)
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	b := (*bp)[:n]
	if _, err := sr.ReadAt(b, 0); err != nil {
		h.Del("Content-Length")
		http.Error(w, "read part", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write(b) //nolint:errcheck // the viewer went away
}

// findPart finds part seq in the current segment or the window.
func findPart(tl *timeline.Timeline, seq uint64) (*timeline.Segment, *timeline.Part) {
	if c := tl.Current; c != nil && len(c.Parts) > 0 && seq >= c.Parts[0].Seq {
		if i := seq - c.Parts[0].Seq; i < uint64(len(c.Parts)) {
			return c, c.Parts[i]
		}
		return nil, nil
	}
	for i := len(tl.Segments) - 1; i >= 0; i-- {
		s := tl.Segments[i]
		if len(s.Parts) > 0 && seq >= s.Parts[0].Seq {
			if j := seq - s.Parts[0].Seq; j < uint64(len(s.Parts)) {
				return s, s.Parts[j]
			}
			return nil, nil
		}
	}
	return nil, nil
}

func onTime(w http.ResponseWriter, r *http.Request) {
	body := []byte(time.Now().UTC().Format(timeLayout))
	writeManifest(w, r, "text/plain; charset=utf-8", cacheNever, body)
}

// parseSessionNo accepts 1..999999999 without sign or leading zeros.
func parseSessionNo(s string) (int, bool) {
	n, ok := parseUint(s)
	if !ok || n == 0 || len(s) > 9 {
		return 0, false
	}
	return int(n), true
}

// parseUint accepts plain decimal digits without leading zeros (at most 18).
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 18 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// serveElsewhere answers a request for a session this node does not package:
// from the node that does (a cluster), or 404.
func (p *Packager) serveElsewhere(w http.ResponseWriter, r *http.Request, room string, no int, file string) {
	if p.Upstream != nil {
		base, err := p.Upstream(r.Context(), room, no)
		if err != nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "session holder unknown", http.StatusServiceUnavailable)
			return
		}
		if base != "" {
			p.serveFromHolder(w, r, base, file)
			return
		}
	}
	http.NotFound(w, r)
}
