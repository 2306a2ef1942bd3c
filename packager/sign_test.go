package packager

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSignedMediaURIs: with a SignKey, playlists and manifests keep the viewer's
// token (who may watch), and the URIs of media files carry one signature of the
// session, the same for every viewer, so a CDN caches each file once. A signed
// URL serves the file without a token, immutable; a wrong, expired, far-future
// or other-session signature is refused; a signature never opens a playlist.
func TestSignedMediaURIs(t *testing.T) {
	e := newTestEnv(t, func(p *Packager) { p.SignKey = []byte("test signing key, 32 bytes long!") })
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.feed(tracks, units, true)

	uris := regexp.MustCompile(`(?m)(?:URI="([^"]+)"|^([^#\s][^\s]*)$)`)
	mediaOf := func(token string) (files, playlists []string) {
		body, code := e.get(e.liveURL("video1.m3u8", token))
		if code != http.StatusOK {
			t.Fatalf("media playlist: %d", code)
		}
		for _, m := range uris.FindAllStringSubmatch(body, -1) {
			u := m[1] + m[2]
			if strings.Contains(u, ".m3u8") {
				playlists = append(playlists, u)
			} else {
				files = append(files, u)
			}
		}
		return files, playlists
	}
	filesA, playlistsA := mediaOf(testToken)
	filesB, _ := mediaOf("member-9")
	if len(filesA) < 3 || strings.Join(filesA, " ") != strings.Join(filesB, " ") {
		t.Fatalf("media URIs differ between viewers or are missing:\n A %v\n B %v", filesA, filesB)
	}
	for _, f := range filesA {
		if strings.Contains(f, "streamingToken") || !strings.Contains(f, "sig=") || strings.Contains(f, "&") {
			t.Fatalf("media URI %q: want a signature, no token", f)
		}
	}
	for _, pl := range playlistsA { // rendition reports
		if !strings.Contains(pl, "streamingToken="+testToken) {
			t.Fatalf("playlist URI %q lost the viewer's token", pl)
		}
	}
	mpd, code := e.get(e.liveURL("index.mpd", testToken))
	if code != http.StatusOK || strings.Contains(mpd, "streamingToken") || !strings.Contains(mpd, "sig=") {
		t.Fatalf("MPD templates: %d, want signed URLs without token:\n%s", code, mpd)
	}
	for d := xml.NewDecoder(strings.NewReader(mpd)); ; {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the MPD with signed URLs is not well-formed XML: %v", err)
		}
	}

	base := e.srv.URL + "/live/" + testRoom + "/1/"
	signed := base + filesA[len(filesA)-1]
	res, err := http.Get(signed)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != string(cacheImmutable) {
		t.Fatalf("signed file: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}

	name, query, _ := strings.Cut(filesA[len(filesA)-1], "?")
	q, _ := url.ParseQuery(query)
	expS, mac, _ := strings.Cut(q.Get("sig"), ".")
	exp, _ := strconv.ParseInt(expS, 10, 64)
	w := int64(DefaultSignWindow / time.Second)
	with := func(exp int64, mac string) string {
		return base + name + "?sig=" + strconv.FormatInt(exp, 10) + "." + mac
	}
	tampered := "A" + mac[1:]
	if mac[0] == 'A' {
		tampered = "B" + mac[1:]
	}
	cases := map[string]string{
		"tampered":       with(exp, tampered),
		"expired":        with(time.Now().Unix()-1, e.p.sign(testRoom, 1, time.Now().Unix()-1)),
		"too far ahead":  with(exp+2*w, e.p.sign(testRoom, 1, exp+2*w)),
		"no exp":         base + name + "?sig=" + mac,
		"other session":  e.srv.URL + "/live/" + testRoom + "/2/" + name + "?" + query,
		"playlist":       base + "video1.m3u8?" + query,
		"manifest (mpd)": base + "index.mpd?" + query,
	}
	for what, u := range cases {
		if body, code := e.get(u); code != http.StatusForbidden && code != http.StatusUnauthorized {
			t.Errorf("%s: %d %q, want 403 or 401", what, code, body)
		}
	}
}
