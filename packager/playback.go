package packager

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
	"github.com/roomcast/roomcast/packager/vod"
)

// The playback handler tree: /live/ (live sessions), /vod/ (archives), /watch/
// (the player page), /time. Every route goes through cors; every media URL
// through parseRoomPath and authorize; /watch/ and /vod/ through roomFor.

// cachePolicy is the Cache-Control of a playback answer: every answer gets one of
// these, and only here is decided what may be cached.
type cachePolicy string

const (
	// cacheImmutable: init segments, parts and segments, live and VOD: their URLs
	// name bytes that never change.
	cacheImmutable cachePolicy = "public, max-age=31536000, immutable"
	// cacheLive: live manifests and the player page change at any time.
	cacheLive cachePolicy = "no-cache"
	// cacheBlocked is for blocking reload answers: the URL names a playlist state
	// that no longer changes once it exists.
	cacheBlocked cachePolicy = "public, max-age=1"
	// cacheVODManifest: VOD manifests do not change (until retention or a
	// delete), but carry the viewer's token.
	cacheVODManifest cachePolicy = "private, max-age=60"
	// cacheDownload: the progressive MP4 of a VOD.
	cacheDownload cachePolicy = "private, max-age=3600"
	// cacheNever: the clock and the room state.
	cacheNever cachePolicy = "no-store"
	// cacheAsset: the player's script (changes with a release).
	cacheAsset cachePolicy = "public, max-age=86400"
)

func (c cachePolicy) set(h http.Header) { h.Set("Cache-Control", string(c)) }

// roomInfoTimeout bounds a RoomInfo call of a request.
const roomInfoTimeout = 5 * time.Second

func (p *Packager) routes() *http.ServeMux {
	m := http.NewServeMux()
	in := p.metrics.instrument
	m.HandleFunc("/live/{room}/{session}/{file}", in("live", cors(p.onLive)))
	m.HandleFunc("/live/", in("live", cors(http.NotFound)))
	m.HandleFunc("/vod/{room}/{file}", in("vod", cors(p.onVOD)))
	m.HandleFunc("/vod/", in("vod", cors(http.NotFound)))
	m.HandleFunc("/watch/{room}", in("watch", cors(p.onWatch)))
	m.HandleFunc("/watch/{room}/state", in("watch", cors(p.onWatchState)))
	m.HandleFunc("/watch/assets/hls.min.js", in("watch", cors(onHLSJS)))
	m.HandleFunc("/watch/", in("watch", cors(http.NotFound)))
	m.HandleFunc("/time", in("time", cors(onTime)))
	return m
}

// cors answers preflights and allows GET/HEAD from any origin.
func cors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Date")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h(w, r)
		case http.MethodOptions:
			hd.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Range, Content-Type")
			hd.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
		default:
			hd.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	}
}

// parseRoom accepts a canonical lowercase UUID only.
func parseRoom(s string) (string, bool) { return s, timeline.ValidRoomUUID(s) }

// parseRoomPath returns the {room} and {file} path values of a media URL; ok is
// false (answer 404) unless both are valid.
func parseRoomPath(r *http.Request) (room, file string, ok bool) {
	room, ok = parseRoom(r.PathValue("room"))
	file = r.PathValue("file")
	return room, file, ok && timeline.ValidFileName(file)
}

// viewer is who a verified token was issued to.
type viewer struct {
	appID, memberID uint64
}

// authorize checks the token; it answers 401 itself and returns ok=false.
func (p *Packager) authorize(w http.ResponseWriter, token string) (viewer, bool) {
	if token == "" || len(token) > 4096 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return viewer{}, false
	}
	appID, memberID, err := p.VerifyToken(token)
	if err != nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return viewer{}, false
	}
	return viewer{appID: appID, memberID: memberID}, true
}

// roomFor returns the room for a viewer of app appID (the store is read at every
// request: a state change is seen at once). It answers itself and returns
// ok=false for an unknown room (404), a failed lookup (503) and a room of
// another app (403).
func (p *Packager) roomFor(w http.ResponseWriter, r *http.Request, room string, appID uint64) (RoomInfo, bool) {
	if p.RoomInfo == nil {
		http.NotFound(w, r)
		return RoomInfo{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), roomInfoTimeout)
	defer cancel()
	info, err := p.RoomInfo(ctx, room)
	switch {
	case errors.Is(err, ErrRoomNotFound):
		http.NotFound(w, r)
		return RoomInfo{}, false
	case err != nil:
		if r.Context().Err() == nil {
			p.Log.Error("room info", "room", room, "error", err)
		}
		w.Header().Set("Retry-After", "1")
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return RoomInfo{}, false
	case info.AppID != appID:
		http.Error(w, "forbidden", http.StatusForbidden)
		return RoomInfo{}, false
	}
	return info, true
}

// onVOD serves /vod/{roomUuid}/{file} of an archived room: index.m3u8
// (multivariant), {track}.m3u8, index.mpd, download.mp4 and the init and media
// segments they list (packager/vod). A room without a VOD answers 404.
func (p *Packager) onVOD(w http.ResponseWriter, r *http.Request) {
	room, file, ok := parseRoomPath(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	token := r.URL.Query().Get("streamingToken")
	who, ok := p.authorize(w, token)
	if !ok {
		return
	}
	info, ok := p.roomFor(w, r, room, who.appID)
	if !ok {
		return
	}
	if info.VODURL == "" {
		http.NotFound(w, r)
		return
	}
	f, err := p.archiver.Open(r.Context(), room, file, tokenQuery(token))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			p.Log.Warn("vod: open", "room", room, "file", file, "error", err)
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	switch {
	case f.Body != nil:
		writeManifest(w, r, f.ContentType, cacheVODManifest, f.Body)
	case file == vod.DownloadFile:
		h := w.Header()
		h.Set("Content-Type", f.ContentType)
		cacheDownload.set(h)
		h.Set("Content-Disposition", `attachment; filename="`+room+`.mp4"`)
		h.Set("Accept-Ranges", "bytes")
		http.ServeContent(w, r, "", f.ModTime, f.Content)
	default:
		serveImmutable(w, r, f.ContentType, f.Content)
	}
}
