package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
)

// vodJSON is the VOD part of a room.
type vodJSON struct {
	VideoRoomState string  `json:"videoRoomState"`
	VODState       string  `json:"vodState"`
	VODURL         *string `json:"vodUrl"`
	VODArchivedAt  *string `json:"vodArchivedAt"`
	UUID           string  `json:"uuid"`
}

func (a *api) vod(id uint64) vodJSON {
	var v vodJSON
	if c := a.do("GET", fmt.Sprintf("/video-rooms/%d", id), nil, &v); c != 200 {
		a.t.Fatalf("GET room: %d", c)
	}
	return v
}

// broadcast is a room driven through the API with a real RTMP publisher.
type broadcast struct {
	t     *testing.T
	a     *api
	id    uint64
	uuid  string
	key   string
	rtmp  string
	token string
	spans []time.Duration // LIVE spans measured on the API
}

func newBroadcast(t *testing.T, a *api, rtmpAddr, user string) *broadcast {
	if code := a.do("POST", "/members", map[string]any{"appUserId": user}, nil); code >= 300 {
		t.Fatalf("create member: %d", code)
	}
	var r roomJSON
	if code := a.do("POST", "/video-rooms", map[string]any{"appUserId": user, "type": "BROADCAST_RTMP",
		"title": "vod", "scheduledAt": "2030-01-01T00:00:00Z"}, &r); code >= 300 {
		t.Fatalf("create room: %d", code)
	}
	var tok struct{ StreamingToken string }
	a.do("POST", "/members/"+user+"/tokens", map[string]any{}, &tok)
	return &broadcast{t: t, a: a, id: r.ID, uuid: r.UUID, key: a.key(user).StreamKey,
		rtmp: "rtmp://" + rtmpAddr + "/live/{key}?mode=CMAF", token: tok.StreamingToken}
}

// session publishes for d of LIVE time (the first one after a preview and start).
func (b *broadcast) session(d time.Duration, first bool) {
	p := publish(b.t, b.rtmp, b.key)
	if first {
		eventually(b.t, 10*time.Second, "key ACTIVE", func() bool { return b.a.key2(b.key) })
		time.Sleep(1500 * time.Millisecond) // preview, not part of the VOD
		if code := b.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, nil); code != 200 {
			b.t.Fatalf("start: %d", code)
		}
	}
	eventually(b.t, 10*time.Second, "LIVE", func() bool { return b.a.room(b.id).VideoRoomState == "LIVE" })
	start := time.Now()
	time.Sleep(d)
	p.stop()
	eventually(b.t, 5*time.Second, "LIVE_INACTIVE", func() bool { return b.a.room(b.id).VideoRoomState == "LIVE_INACTIVE" })
	b.spans = append(b.spans, time.Since(start))
}

func (a *api) key2(secret string) bool {
	var k keyJSON
	a.do("GET", "/members/host/stream-key", nil, &k)
	return k.StreamKeyState == "ACTIVE"
}

// end ends the room and returns the time until ARCHIVED.
func (b *broadcast) end() (vodJSON, time.Duration) {
	t0 := time.Now()
	if code := b.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", b.id), nil, nil); code != 200 {
		b.t.Fatalf("end: %d", code)
	}
	var v vodJSON
	eventually(b.t, 30*time.Second, "vod archived", func() bool {
		v = b.a.vod(b.id)
		return v.VODState == "ARCHIVED" || v.VODState == "FAILED_ARCHIVING"
	})
	return v, time.Since(t0)
}

// url turns a public URL into one of the test server, with the token.
func (b *broadcast) url(public string) string {
	u := regexp.MustCompile(`^https?://[^/]+`).ReplaceAllString(public, b.a.base)
	return u + "?streamingToken=" + b.token
}

func httpGet(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// ffprobeDuration returns the container duration ffprobe reports.
func ffprobeDuration(t *testing.T, url string) time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
		"default=nw=1:nk=1", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", out, err)
	}
	return time.Duration(f * float64(time.Second))
}

// hlsRead plays a VOD with gohlslib's client and returns the video PTS (90 kHz).
func hlsRead(t *testing.T, url string) (video []int64, audio int) {
	t.Helper()
	var mu sync.Mutex
	c := &gohlslib.Client{URI: url,
		OnDownloadPrimaryPlaylist: func(string) {}, OnDownloadStreamPlaylist: func(string) {},
		OnDownloadSegment: func(string) {}, OnDownloadPart: func(string) {},
		OnDecodeError: func(err error) { t.Errorf("decode error: %v", err) },
	}
	c.OnTracks = func(tracks []*gohlslib.Track) error {
		for _, tr := range tracks {
			switch tr.Codec.(type) {
			case *codecs.H264:
				c.OnDataH26x(tr, func(pts, _ int64, _ [][]byte) {
					mu.Lock()
					video = append(video, pts)
					mu.Unlock()
				})
			case *codecs.MPEG4Audio:
				c.OnDataMPEG4Audio(tr, func(_ int64, aus [][]byte) {
					mu.Lock()
					audio += len(aus)
					mu.Unlock()
				})
			}
		}
		return nil
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-c.Wait():
		t.Logf("gohlslib client ended: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("gohlslib client did not finish the VOD")
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]int64(nil), video...), audio
}

// runs splits PTS at backward jumps (a new session restarts its timestamps) and
// returns the span of each run.
func runs(pts []int64, clock int64) []time.Duration {
	var out []time.Duration
	start, last := pts[0], pts[0]
	for _, p := range pts[1:] {
		if p < last-clock/2 { // more than 0.5 s back: B-frame reordering never does that
			out = append(out, time.Duration(last-start)*time.Second/time.Duration(clock))
			start, last = p, p
			continue
		}
		last = max(last, p)
	}
	return append(out, time.Duration(last-start)*time.Second/time.Duration(clock))
}

func near(got, want, tol time.Duration) bool { return got > want-tol && got < want+tol }

// TestVODTwoSessions publishes two live sessions with a drop between them, ends the
// room and plays the VOD back: gohlslib's client, ffprobe (HLS, DASH, MP4), ffmpeg
// decoding the MP4, Range/HEAD/416, tokens, 404 before archiving, the player page,
// /metrics, and deletion of the media with the room.
func TestVODTwoSessions(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real-time broadcast")
	}
	dir := t.TempDir()
	c := testConfig(t, dir)
	c.SegmentDuration = time.Second
	s := startServer(t, c)
	defer s.Close()
	a := newAPI(t, s, dir)
	b := newBroadcast(t, a, s.RTMPAddr(), "host")

	vodBase := a.base + "/vod/" + b.uuid + "/"
	if resp, _ := httpGet(t, vodBase+"index.m3u8?streamingToken="+b.token, nil); resp.StatusCode != 404 {
		t.Fatalf("VOD of a scheduled room: %d", resp.StatusCode)
	}

	b.session(7*time.Second, true)
	time.Sleep(time.Second)
	b.session(5*time.Second, false)
	v, took := b.end()
	t.Logf("end → %s in %v; LIVE spans %v", v.VODState, took, b.spans)
	if v.VODState != "ARCHIVED" || v.VODURL == nil || v.VODArchivedAt == nil ||
		*v.VODURL != c.PublicHTTPURL+"/vod/"+b.uuid+"/index.m3u8" {
		t.Fatalf("room after archiving: %+v", v)
	}
	if took > 3*time.Second {
		t.Errorf("archiving took %v", took)
	}
	live := b.spans[0] + b.spans[1]
	// Each session starts with the key frame of the GOP in progress at LIVE (up
	// to one 2 s GOP before it; a resume: the publisher's first key frame).
	inRange := func(d time.Duration) bool { return d > live-time.Second && d < live+3*time.Second }

	// HLS playlists: VOD, ENDLIST, one discontinuity (between the sessions).
	mv := b.url(*v.VODURL)
	resp, body := httpGet(t, mv, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "#EXT-X-STREAM-INF") {
		t.Fatalf("multivariant: %d %s", resp.StatusCode, body)
	}
	_, media := httpGet(t, vodBase+"video1.m3u8?streamingToken="+b.token, nil)
	pl := string(media)
	for _, want := range []string{"#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-ENDLIST"} {
		if !strings.Contains(pl, want) {
			t.Errorf("media playlist lacks %s:\n%s", want, pl)
		}
	}
	if n := strings.Count(pl, "#EXT-X-DISCONTINUITY\n"); n != 1 {
		t.Errorf("%d discontinuities, want 1:\n%s", n, pl)
	}
	if n := strings.Count(pl, "streamingToken="); n != strings.Count(pl, ".m4s")+strings.Count(pl, ".mp4") {
		t.Errorf("URIs without the token:\n%s", pl)
	}
	var extinf time.Duration
	for _, m := range regexp.MustCompile(`#EXTINF:([0-9.]+)`).FindAllStringSubmatch(pl, -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		extinf += time.Duration(f * float64(time.Second))
	}
	if !inRange(extinf) {
		t.Errorf("VOD playlist lasts %v, LIVE spans %v", extinf, live)
	}

	// gohlslib's client: both sessions, timestamps restart at the discontinuity.
	pts, audio := hlsRead(t, mv)
	if len(pts) == 0 || audio == 0 {
		t.Fatalf("gohlslib read %d video, %d audio frames", len(pts), audio)
	}
	r := runs(pts, 90000)
	t.Logf("gohlslib: %d video frames, %d audio frames, runs %v", len(pts), audio, r)
	// gohlslib's client stops at the end of the playlist before it has delivered
	// the last segment: both sessions must be there, not every last frame.
	if len(r) != 2 || r[0] < b.spans[0]/3 || r[1] < b.spans[1]/3 {
		t.Errorf("gohlslib runs %v, LIVE spans %v", r, b.spans)
	}

	// ffprobe: HLS and MP4 agree with the playlist (ffmpeg 5.1's DASH demuxer reads
	// one Period only: the MPD is checked by its mediaPresentationDuration).
	for _, f := range []string{"index.m3u8", "download.mp4"} {
		d := ffprobeDuration(t, vodBase+f+"?streamingToken="+b.token)
		t.Logf("ffprobe %s: %v", f, d)
		if !near(d, extinf, 700*time.Millisecond) {
			t.Errorf("ffprobe %s: %v, playlist %v", f, d, extinf)
		}
	}
	_, mpd := httpGet(t, vodBase+"index.mpd?streamingToken="+b.token, nil)
	if n := strings.Count(string(mpd), "<Period"); n != 2 || !strings.Contains(string(mpd), `type="static"`) {
		t.Errorf("MPD with %d periods:\n%s", n, mpd)
	}
	if m := regexp.MustCompile(`mediaPresentationDuration="PT([0-9.]+)S"`).FindSubmatch(mpd); m == nil {
		t.Errorf("MPD without mediaPresentationDuration:\n%s", mpd)
	} else if f, _ := strconv.ParseFloat(string(m[1]), 64); !near(time.Duration(f*float64(time.Second)), extinf, 100*time.Millisecond) {
		t.Errorf("MPD lasts %ss, playlist %v", m[1], extinf)
	}

	// ffmpeg decodes the HLS VOD through the discontinuity (new init segment).
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", mv, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("ffmpeg decode of the HLS VOD: %v\n%s", err, out)
	}

	// MP4: ffmpeg decodes all of it; HEAD, Range, 416, Content-Length.
	mp4 := vodBase + "download.mp4?streamingToken=" + b.token
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", mp4, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("ffmpeg decode: %v\n%s", err, out)
	}
	head, _ := http.Head(mp4)
	size, _ := strconv.ParseInt(head.Header.Get("Content-Length"), 10, 64)
	resp, full := httpGet(t, mp4, nil)
	if head.StatusCode != 200 || size == 0 || int64(len(full)) != size || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("HEAD %d length %d, GET %d bytes", head.StatusCode, size, len(full))
	}
	resp, part := httpGet(t, mp4, map[string]string{"Range": "bytes=1000-1999"})
	if resp.StatusCode != 206 || !bytes.Equal(part, full[1000:2000]) {
		t.Errorf("range: %d, %d bytes", resp.StatusCode, len(part))
	}
	resp, part = httpGet(t, mp4, map[string]string{"Range": fmt.Sprintf("bytes=%d-", size-10)})
	if resp.StatusCode != 206 || !bytes.Equal(part, full[size-10:]) {
		t.Errorf("tail range: %d, %d bytes", resp.StatusCode, len(part))
	}
	if resp, _ := httpGet(t, mp4, map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)}); resp.StatusCode != 416 {
		t.Errorf("range beyond the end: %d", resp.StatusCode)
	}

	// Tokens: none → 401, another app's → 403.
	if resp, _ := httpGet(t, vodBase+"index.m3u8", nil); resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	other := otherAppToken(t, s, a)
	if resp, _ := httpGet(t, vodBase+"index.m3u8?streamingToken="+other, nil); resp.StatusCode != 403 {
		t.Errorf("other app's token: %d", resp.StatusCode)
	}

	// The player page state names the VOD (the page adds the token and plays it).
	var st struct{ State, VODURL string }
	_, sb := httpGet(t, a.base+"/watch/"+b.uuid+"/state?streamingToken="+b.token, nil)
	json.Unmarshal(sb, &struct {
		State  *string `json:"state"`
		VODURL *string `json:"vodUrl"`
	}{&st.State, &st.VODURL})
	if st.State != "ENDED" || st.VODURL != *v.VODURL {
		t.Errorf("player state %s", sb)
	}

	// /metrics: disk usage of the room.
	_, metrics := httpGet(t, a.base+"/metrics", nil)
	if !regexp.MustCompile(`roomcast_media_room_bytes\{room="` + b.uuid + `"\} [1-9]`).Match(metrics) {
		t.Errorf("no disk usage metric for the room")
	}

	// Deleting the room removes its media; the VOD is gone.
	if code := a.do("DELETE", fmt.Sprintf("/video-rooms/%d", b.id), nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	eventually(t, 5*time.Second, "media removed", func() bool {
		_, err := os.Stat(filepath.Join(dir, "media", b.uuid))
		return os.IsNotExist(err)
	})
	eventually(t, 5*time.Second, "VOD 404", func() bool {
		resp, _ := httpGet(t, vodBase+"index.m3u8?streamingToken="+b.token, nil)
		return resp.StatusCode == 404
	})
}

// otherAppToken creates a second app with a member and returns its streaming token.
func otherAppToken(t *testing.T, s *server, a *api) string {
	t.Helper()
	creds, err := s.control.CreateApp(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	o := &api{t: t, base: a.base, apiKey: creds.APIKey, secret: creds.APISecret}
	o.do("POST", "/members", map[string]any{"appUserId": "viewer"}, nil)
	var tok struct{ StreamingToken string }
	o.do("POST", "/members/viewer/tokens", map[string]any{}, &tok)
	return tok.StreamingToken
}

// TestVODRestartDuringArchiving leaves a room ARCHIVING (the packager, and with
// it archiving, is stopped before the end call) and checks that the next boot
// finishes the job.
func TestVODRestartDuringArchiving(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real-time broadcast")
	}
	dir := t.TempDir()
	c := testConfig(t, dir)
	c.SegmentDuration = time.Second
	s := startServer(t, c)
	a := newAPI(t, s, dir)
	b := newBroadcast(t, a, s.RTMPAddr(), "host")
	b.session(5*time.Second, true)
	s.packager.Close() // the process "dies" before archiving runs
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", b.id), nil, nil); code != 200 {
		t.Fatalf("end: %d", code)
	}
	time.Sleep(300 * time.Millisecond)
	if v := a.vod(b.id); v.VODState != "ARCHIVING" {
		t.Fatalf("vodState %s, want ARCHIVING", v.VODState)
	}
	s.Close()

	s = startServer(t, c)
	defer s.Close()
	a = newAPI(t, s, dir)
	b.a = a
	var v vodJSON
	eventually(t, 10*time.Second, "archived after restart", func() bool {
		v = a.vod(b.id)
		return v.VODState == "ARCHIVED"
	})
	// from the key frame of the GOP in progress at start (at most one 2 s GOP
	// before it) to the stop
	d := ffprobeDuration(t, b.url(*v.VODURL))
	if d < b.spans[0]-time.Second || d > b.spans[0]+3*time.Second {
		t.Errorf("VOD lasts %v, LIVE span %v", d, b.spans[0])
	}
}

func TestVODRetentionFlag(t *testing.T) {
	env := func(string) string { return "" }
	for _, c := range []struct {
		arg  string
		want time.Duration
		ok   bool
	}{{"", 0, true}, {"30d", 30 * 24 * time.Hour, true}, {"36h", 36 * time.Hour, true}, {"0", 0, true},
		{"5m", 0, false}, {"-1d", 0, false}, {"xd", 0, false}} {
		args := []string{}
		if c.arg != "" {
			args = []string{"--vod-retention", c.arg}
		}
		cfg, err := parseConfig(args, env, io.Discard)
		if (err == nil) != c.ok || (c.ok && cfg.VODRetention != c.want) {
			t.Errorf("--vod-retention %q: %v, %v", c.arg, cfg.VODRetention, err)
		}
	}
	cfg, err := parseConfig(nil, func(k string) string {
		if k == "ROOMCAST_VOD_RETENTION" {
			return "7d"
		}
		return ""
	}, io.Discard)
	if err != nil || cfg.VODRetention != 7*24*time.Hour {
		t.Errorf("ROOMCAST_VOD_RETENTION=7d: %v, %v", cfg.VODRetention, err)
	}
}
