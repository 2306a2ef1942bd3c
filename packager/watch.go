package packager

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	_ "embed"
)

//go:embed web/index.html
var watchPage []byte

// hlsJS is hls.js 1.7.4 (dist/hls.min.js from npm), served locally: no CDN.
//
//go:embed web/hls.min.js
var hlsJS []byte

// roomFor authorizes a player page request and returns the room.
func (p *Packager) roomFor(w http.ResponseWriter, r *http.Request) (RoomInfo, bool) {
	room, ok := parseRoom(r.PathValue("room"))
	if !ok {
		http.NotFound(w, r)
		return RoomInfo{}, false
	}
	appID, ok := p.authorize(w, r.URL.Query().Get("streamingToken"))
	if !ok {
		return RoomInfo{}, false
	}
	if p.RoomInfo == nil {
		http.NotFound(w, r)
		return RoomInfo{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	info, err := p.RoomInfo(ctx, room)
	switch {
	case errors.Is(err, ErrRoomNotFound):
		http.NotFound(w, r)
		return RoomInfo{}, false
	case err != nil:
		p.Log.Error("room info", "room", room, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return RoomInfo{}, false
	case info.AppID != appID:
		http.Error(w, "forbidden", http.StatusForbidden)
		return RoomInfo{}, false
	}
	return info, true
}

func (p *Packager) onWatch(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.roomFor(w, r); !ok {
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	writeManifest(w, r, "text/html; charset=utf-8", "no-cache", watchPage)
}

func (p *Packager) onWatchState(w http.ResponseWriter, r *http.Request) {
	info, ok := p.roomFor(w, r)
	if !ok {
		return
	}
	b, err := json.Marshal(info)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeManifest(w, r, "application/json", "no-store", b)
}

func onHLSJS(w http.ResponseWriter, r *http.Request) {
	writeManifest(w, r, "text/javascript; charset=utf-8", "public, max-age=86400", hlsJS)
}
