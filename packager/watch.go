package packager

import (
	"encoding/json"
	"net/http"

	_ "embed"
)

//go:embed web/index.html
var watchPage []byte

// hlsJS is hls.js 1.7.4 (dist/hls.min.js from npm), served locally: no CDN.
//
//go:embed web/hls.min.js
var hlsJS []byte

// watchRoom authorizes a player page request and returns the room.
func (p *Packager) watchRoom(w http.ResponseWriter, r *http.Request) (RoomInfo, bool) {
	room, ok := parseRoom(r.PathValue("room"))
	if !ok {
		http.NotFound(w, r)
		return RoomInfo{}, false
	}
	who, ok := p.authorize(w, r.URL.Query().Get("streamingToken"))
	if !ok {
		return RoomInfo{}, false
	}
	return p.roomFor(w, r, room, who.appID)
}

func (p *Packager) onWatch(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.watchRoom(w, r); !ok {
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	writeManifest(w, r, "text/html; charset=utf-8", cacheLive, watchPage)
}

func (p *Packager) onWatchState(w http.ResponseWriter, r *http.Request) {
	info, ok := p.watchRoom(w, r)
	if !ok {
		return
	}
	b, err := json.Marshal(info)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeManifest(w, r, "application/json", cacheNever, b)
}

func onHLSJS(w http.ResponseWriter, r *http.Request) {
	writeManifest(w, r, "text/javascript; charset=utf-8", cacheAsset, hlsJS)
}
