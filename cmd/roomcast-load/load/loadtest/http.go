package loadtest

import (
	"net/http"

	"github.com/bluenviron/gohlslib/v2"
)

// httpHandler serves the muxer's playlists, parts and segments at the root path.
func httpHandler(m *gohlslib.Muxer) http.Handler {
	return http.HandlerFunc(m.Handle)
}
