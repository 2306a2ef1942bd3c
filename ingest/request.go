package ingest

import (
	"errors"
	"net/url"
	"strings"
)

// PublishRequest is what a publisher asks for; OnPublishStart decides.
type PublishRequest struct {
	// StreamKey is the secret stream key (never log it).
	StreamKey string
	// Mode is "CMAF", "RTMP" or "RTMP_CMAF"; "" means CMAF (SPEC §4.1).
	Mode string
	// RemoteAddr is the publisher's address (host:port).
	RemoteAddr string
}

// PublishGrant is OnPublishStart's answer.
type PublishGrant struct {
	// StreamID is the decimal stream key ID: the hub.Registry key of the stream.
	StreamID string
	// Mode is the effective mode ("CMAF", "RTMP" or "RTMP_CMAF").
	Mode string
}

// Modes accepted in the publish name's "mode" parameter (SPEC §4.1).
const (
	ModeCMAF     = "CMAF"
	ModeRTMP     = "RTMP"
	ModeRTMPCMAF = "RTMP_CMAF"
)

// ErrInvalidMode refuses a publish whose mode parameter is not one of the Mode* values.
var ErrInvalidMode = errors.New("invalid mode")

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

// ParseMode validates a mode parameter (case-insensitive); "" is returned unchanged.
func ParseMode(s string) (string, error) {
	switch m := strings.ToUpper(s); m {
	case "", ModeCMAF, ModeRTMP, ModeRTMPCMAF:
		return m, nil
	default:
		return "", ErrInvalidMode
	}
}

// hasRTMP reports whether a mode includes the RTMP relay.
func hasRTMP(mode string) bool { return mode == ModeRTMP || mode == ModeRTMPCMAF }

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
