package packager

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"time"
)

// Media signatures make live playback CDN-ready. A viewer's token stays on the
// manifests and playlists (who may watch: checked, counted), but the URIs of
// media files (init segments, segments, parts) carry a signature of the room and
// session instead, the same for every viewer for SignWindow, so that a CDN in
// front caches each file once per window instead of once per viewer:
//
//	video1_d17.m4s?exp=1767225600&sig=Wq3…
//
// exp is the end of the next window after the one the playlist was rendered in
// (a signature is valid from one to two windows); sig is
// HMAC-SHA256(SignKey, "live/{room}/{session}/{exp}"), 16 bytes, base64url.

// DefaultSignWindow is Packager.SignWindow when zero.
const DefaultSignWindow = 10 * time.Minute

// mediaSig returns the query of the media files of session no of room at now.
func (p *Packager) mediaSig(room string, no int, now time.Time) string {
	w := p.signWindow()
	exp := now.Truncate(w).Add(2 * w).Unix()
	return "exp=" + strconv.FormatInt(exp, 10) + "&sig=" + p.sign(room, no, exp)
}

// sign is the signature of session no of room until exp.
func (p *Packager) sign(room string, no int, exp int64) string {
	m := hmac.New(sha256.New, p.SignKey)
	m.Write([]byte("live/" + room + "/" + strconv.Itoa(no) + "/" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// verifySig reports whether q carries a valid, unexpired signature of session no
// of room.
func (p *Packager) verifySig(room string, no int, q url.Values, now time.Time) bool {
	if len(p.SignKey) == 0 {
		return false
	}
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || now.Unix() > exp || time.Unix(exp, 0).Sub(now) > 2*p.signWindow() {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	want, _ := base64.RawURLEncoding.DecodeString(p.sign(room, no, exp))
	return err == nil && hmac.Equal(got, want)
}

func (p *Packager) signWindow() time.Duration {
	if p.SignWindow > 0 {
		return p.SignWindow
	}
	return DefaultSignWindow
}
