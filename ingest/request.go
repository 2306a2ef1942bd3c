package ingest

import (
	"errors"
	"net/url"
	"strings"

	"github.com/roomcast/roomcast/publish"
)

// PublishRequest is what a publisher asks for; OnPublishStart decides.
type PublishRequest struct {
	// StreamKey is the secret stream key (never log it).
	StreamKey string
	// Mode is the publish name's "mode" parameter as publish.ParseMode reads it
	// (never publish.ModeUnknown: a missing mode is publish.ModeCMAF).
	Mode publish.Mode
	// RemoteAddr is the publisher's address (host:port).
	RemoteAddr string
}

// PublishGrant is OnPublishStart's answer.
type PublishGrant struct {
	// StreamID identifies the stream; its String is the hub.Registry key.
	StreamID publish.StreamID
	// Mode is the effective mode.
	Mode publish.Mode
}

// ErrBadName refuses a publish or play whose name cannot be parsed.
var ErrBadName = errors.New("bad stream name")

// ErrUnavailable, wrapped in an OnPublishStart error, refuses a publisher because
// the server cannot take one now (e.g. its media disk is nearly full); the
// publisher is told "server temporarily unavailable", never the details.
var ErrUnavailable = errors.New("server temporarily unavailable")

// ErrStreamInactive is what Server.OnPlay returns for a broadcast waiting for its
// publisher to come back (room LIVE_INACTIVE, or resumed without RTMP): a new
// player is refused, a player already playing keeps waiting.
var ErrStreamInactive = errors.New("stream inactive: waiting for the publisher")

// splitTarget joins the RTMP app and stream name and removes the expected app prefix,
// so that both OBS's split form (app "live", name "key?mode=CMAF") and the whole-URL
// form (app "live/key?mode=CMAF", or name "live/key…") give the same name and query.
// ok is false when the first path element is not app.
func splitTarget(connApp, name, app string) (target string, query url.Values, ok bool) {
	full := strings.Trim(connApp, "/")
	if name != "" {
		full += "/" + strings.TrimLeft(name, "/")
	}
	// a query may sit in the app part (whole URL form): move it to the end
	if i := strings.IndexByte(full, '?'); i >= 0 {
		q := full[i+1:]
		full = full[:i]
		if j := strings.IndexByte(q, '/'); j >= 0 { // "live/key?mode=X" + "/" + name
			full += "/" + q[j+1:]
			q = q[:j]
		}
		query, _ = url.ParseQuery(q)
	}
	first, rest, _ := strings.Cut(full, "/")
	if first != app {
		return "", nil, false
	}
	rest = strings.Trim(rest, "/")
	if rest2, ok := strings.CutPrefix(rest, app+"/"); ok { // app repeated in the name
		rest = rest2
	}
	if un, err := url.PathUnescape(rest); err == nil {
		rest = un
	}
	if query == nil {
		query = url.Values{}
	}
	return rest, query, true
}

// appOf returns the first path element of an RTMP connect app.
func appOf(connApp string) string {
	first, _, _ := strings.Cut(strings.Trim(connApp, "/"), "/")
	first, _, _ = strings.Cut(first, "?")
	return first
}
