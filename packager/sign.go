package packager

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Media signatures make live playback CDN-ready. A viewer's token stays on the
// manifests and playlists (who may watch: checked, counted), but the URIs of
// media files (init segments, segments, parts) carry a signature of the room and
// session instead, the same for every viewer for SignWindow, so that a CDN in
// front caches each file once per window instead of once per viewer:
//
//	video1_d17.m4s?sig=1767225600.Wq3…
//
// The signature is {exp}.{mac}: exp is the end of the next window after the one
// the playlist was rendered in (a signature is valid from one to two windows);
// mac is HMAC-SHA256(SignKey, "live/{room}/{session}/{exp}"), 16 bytes,
// base64url. One parameter without "&": it goes into XML (the MPD) unescaped.

// DefaultSignWindow is Packager.SignWindow when zero.
const DefaultSignWindow = 10 * time.Minute

// signedQuery is a media query and the expiry it was computed for.
type signedQuery struct {
	exp   int64
	query string
}

// mediaQuery is mediaSig, computed once per window for stream st (every viewer's
// playlist request of the window gets the same query).
func (p *Packager) mediaQuery(st *stream, room string, no int, now time.Time) string {
	exp := p.sigExp(now)
	if q := st.sig.Load(); q != nil && q.exp == exp {
		return q.query
	}
	q := &signedQuery{exp: exp, query: p.mediaSig(room, no, now)}
	st.sig.Store(q)
	return q.query
}

// sigExp is the expiry of the signatures handed out at now.
func (p *Packager) sigExp(now time.Time) int64 {
	w := p.signWindow()
	return now.Truncate(w).Add(2 * w).Unix()
}

// mediaSig returns the query of the media files of session no of room at now.
func (p *Packager) mediaSig(room string, no int, now time.Time) string {
	exp := p.sigExp(now)
	return "sig=" + strconv.FormatInt(exp, 10) + "." + p.sign(room, no, exp)
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
	expS, mac, _ := strings.Cut(q.Get("sig"), ".")
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || now.Unix() > exp || time.Unix(exp, 0).Sub(now) > 2*p.signWindow() {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	want, _ := base64.RawURLEncoding.DecodeString(p.sign(room, no, exp))
	return err == nil && hmac.Equal(got, want)
}

func (p *Packager) signWindow() time.Duration {
	if p.SignWindow > 0 {
		return p.SignWindow
	}
	return DefaultSignWindow
}
