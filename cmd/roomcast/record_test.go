package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
	"github.com/roomcast/roomcast/ingest/flv"
	"github.com/roomcast/roomcast/packager/timeline"
)

// Issue 10: every live session is recorded whatever its mode, from its first key
// frame on.

// firstKeyframe returns the timestamp of the first video key frame the test
// publisher sends after (re)connecting: the first key frame of its media body.
func firstKeyframe(t *testing.T) time.Duration {
	t.Helper()
	m, err := load.LoadMedia("../../testdata/h264_aac.flv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range m.Body {
		// FLV video tag header: FrameType (4 bits, 1 = key frame), CodecID (4 bits)
		if tag.Type == flv.TagVideo && len(tag.Data) > 0 && tag.Data[0]>>4 == 1 {
			return time.Duration(tag.Timestamp) * time.Millisecond
		}
	}
	t.Fatal("no video key frame in the test media")
	return 0
}

// sessionIndex reads the index of one session of the broadcast.
func sessionIndex(t *testing.T, dataDir string, b *broadcast, no int) *timeline.Index {
	t.Helper()
	idx, err := timeline.ReadIndex(filepath.Join(dataDir, "media", b.uuid, strconv.Itoa(no)))
	if err != nil {
		t.Fatalf("session %d: %v", no, err)
	}
	if len(idx.Segments) == 0 || len(idx.Versions) == 0 {
		t.Fatalf("session %d: %d segments, %d versions indexed", no, len(idx.Segments), len(idx.Versions))
	}
	return idx
}

// firstMediaTime is the media time (video tfdt) of the first indexed segment.
func firstMediaTime(idx *timeline.Index) time.Duration {
	seg := idx.Segments[0]
	v := idx.Versions[0]
	for i, tr := range v.Tracks {
		if tr.Kind == timeline.KindVideo {
			return timeline.TicksToDuration(seg.Tracks[i].BaseTime, tr.TimeScale)
		}
	}
	return timeline.TicksToDuration(seg.Tracks[0].BaseTime, v.Tracks[0].TimeScale)
}

// previewPackaged waits until the publish of the broadcast is being packaged as a
// preview (a segment file exists), so that start binds a running stream.
func previewPackaged(t *testing.T, dataDir string) {
	t.Helper()
	eventually(t, 10*time.Second, "preview segments", func() bool {
		m, _ := filepath.Glob(filepath.Join(dataDir, "media", ".preview", "*", "video1_*.m4s"))
		return len(m) > 0
	})
}

func (b *broadcast) start() time.Time {
	b.t.Helper()
	at := time.Now()
	if code := b.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, nil); code != 200 {
		b.t.Fatalf("start: %d", code)
	}
	return at
}

// stopped stops p and waits for the room to be LIVE_INACTIVE.
func (b *broadcast) stopped(p *publisher) {
	b.t.Helper()
	p.stop()
	eventually(b.t, 5*time.Second, "LIVE_INACTIVE", func() bool { return b.a.room(b.id).VideoRoomState == "LIVE_INACTIVE" })
}

// TestSessionStartsAtKeyframe: a session going LIVE from the preview starts with the
// key frame of the GOP in progress at start, and a resumed session starts with the
// first key frame its publisher sent after reconnecting (not one GOP later).
func TestSessionStartsAtKeyframe(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real-time broadcast")
	}
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir)) // 2 s segments, 2 s GOP
	defer s.Close()
	a := newAPI(t, s, dir)
	b := newBroadcast(t, a, s.RTMPAddr(), "host")
	key0 := firstKeyframe(t)

	p := publish(t, b.rtmp, b.key)
	eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key2(b.key) })
	previewPackaged(t, dir)
	time.Sleep(2500 * time.Millisecond) // mid-GOP of the preview
	liveAt := b.start()
	time.Sleep(3 * time.Second)
	b.stopped(p)

	for range 3 { // a resume is a race between the publisher and the packager: retry it
		p = publish(t, b.rtmp, b.key)
		eventually(t, 10*time.Second, "LIVE", func() bool { return a.room(b.id).VideoRoomState == "LIVE" })
		time.Sleep(3 * time.Second)
		b.stopped(p)
	}
	v, _ := b.end()
	if v.VODState != "ARCHIVED" {
		t.Fatalf("vodState %s", v.VODState)
	}

	idx := sessionIndex(t, dir, b, 1)
	pdt := idx.Segments[0].PDT
	t.Logf("session 1: first segment PDT %v before start, media time %v, independent %v",
		liveAt.Sub(pdt).Round(time.Millisecond), firstMediaTime(idx), !idx.Segments[0].NotIndependent)
	if idx.Segments[0].NotIndependent || pdt.After(liveAt) || liveAt.Sub(pdt) > 2500*time.Millisecond {
		t.Errorf("session 1 starts at %v (%v before start), want the key frame of the GOP in progress at start",
			pdt, liveAt.Sub(pdt))
	}
	for no := 2; no <= 4; no++ {
		idx := sessionIndex(t, dir, b, no)
		got := firstMediaTime(idx)
		t.Logf("session %d: first segment media time %v (publisher's first key frame %v)", no, got, key0)
		if got != key0 || idx.Segments[0].NotIndependent {
			t.Errorf("session %d starts at media time %v, want %v (the publisher's first key frame)", no, got, key0)
		}
	}
}

// TestShortBroadcastArchived: a broadcast LIVE for less than a second is archived
// with a playable VOD, whether start binds a running preview or comes before the
// stream is packaged.
func TestShortBroadcastArchived(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real-time broadcast")
	}
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("needs ffprobe")
	}
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	defer s.Close()
	a := newAPI(t, s, dir)
	for i, preview := range []bool{true, false} {
		b := newBroadcast(t, a, s.RTMPAddr(), "host"+strconv.Itoa(i))
		p := publish(t, b.rtmp, b.key)
		eventually(t, 10*time.Second, "key ACTIVE", func() bool {
			var k keyJSON
			a.do("GET", "/members/host"+strconv.Itoa(i)+"/stream-key", nil, &k)
			return k.StreamKeyState == "ACTIVE"
		})
		if preview {
			// start in the middle of the preview's first GOP, after its first
			// (short) segment: the GOP's key frame is in a complete preview segment
			previewPackaged(t, dir)
			time.Sleep(time.Second)
		}
		liveAt := b.start()
		time.Sleep(500 * time.Millisecond)
		b.stopped(p)
		live := time.Since(liveAt)
		v, _ := b.end()
		t.Logf("preview %v: LIVE ≤ %v → %s", preview, live.Round(time.Millisecond), v.VODState)
		if v.VODState != "ARCHIVED" || v.VODURL == nil {
			t.Errorf("preview %v: short broadcast not archived: %+v", preview, v)
			continue
		}
		d := ffprobeDuration(t, b.url(*v.VODURL))
		pts, audio := hlsRead(t, b.url(*v.VODURL))
		t.Logf("preview %v: VOD %v (ffprobe), %d video / %d audio frames", preview, d, len(pts), audio)
		if d <= 0 || len(pts) == 0 || audio == 0 {
			t.Errorf("preview %v: VOD not playable: %v, %d video, %d audio frames", preview, d, len(pts), audio)
		}
	}
}

// TestEveryModeRecorded: an RTMP-only broadcast is archived, and a broadcast mixing
// modes (RTMP, CMAF, RTMP_CMAF sessions) has every session in its VOD; the live
// CMAF URLs of an RTMP-only session answer 404.
func TestEveryModeRecorded(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real-time broadcast")
	}
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("needs ffprobe")
	}
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	defer s.Close()
	a := newAPI(t, s, dir)
	rtmp := "rtmp://" + s.RTMPAddr() + "/live/{key}?mode="

	cases := []struct {
		name  string
		modes []string
	}{{"rtmp", []string{"RTMP"}}, {"mixed", []string{"RTMP", "CMAF", "RTMP_CMAF"}}}
	for ci, c := range cases {
		b := newBroadcast(t, a, s.RTMPAddr(), "host"+strconv.Itoa(ci))
		for i, mode := range c.modes {
			b.rtmp = rtmp + mode
			p := publish(t, b.rtmp, b.key)
			if i == 0 {
				eventually(t, 10*time.Second, "key ACTIVE", func() bool {
					var k keyJSON
					a.do("GET", "/members/host"+strconv.Itoa(ci)+"/stream-key", nil, &k)
					return k.StreamKeyState == "ACTIVE"
				})
				time.Sleep(1500 * time.Millisecond) // preview
				b.start()
			}
			eventually(t, 10*time.Second, "LIVE", func() bool { return a.room(b.id).VideoRoomState == "LIVE" })
			start := time.Now()
			live := a.base + "/live/" + b.uuid + "/" + strconv.Itoa(i+1) + "/index.m3u8?streamingToken=" + b.token
			want := 200
			if mode == "RTMP" {
				want = 404
			}
			eventually(t, 10*time.Second, fmt.Sprintf("%s session %d live playlist %d", mode, i+1, want), func() bool {
				resp, _ := httpGet(t, live, nil)
				return resp.StatusCode == want
			})
			r := a.room(b.id)
			if (mode == "RTMP") != (r.HLS == nil) {
				t.Errorf("%s session %d: cmafHlsPlayUrl %s", mode, i+1, str(r.HLS))
			}
			time.Sleep(4*time.Second - time.Since(start))
			if resp, _ := httpGet(t, live, nil); resp.StatusCode != want {
				t.Errorf("%s session %d: live playlist %d, want %d", mode, i+1, resp.StatusCode, want)
			}
			p.stop()
			eventually(t, 5*time.Second, "LIVE_INACTIVE", func() bool { return a.room(b.id).VideoRoomState == "LIVE_INACTIVE" })
			b.spans = append(b.spans, time.Since(start))
		}
		v, _ := b.end()
		if v.VODState != "ARCHIVED" || v.VODURL == nil {
			t.Errorf("%s: not archived: %+v", c.name, v)
			continue
		}
		_, media := httpGet(t, a.base+"/vod/"+b.uuid+"/video1.m3u8?streamingToken="+b.token, nil)
		pl := string(media)
		if n := strings.Count(pl, "#EXT-X-DISCONTINUITY\n"); n != len(c.modes)-1 {
			t.Errorf("%s: %d discontinuities, want %d:\n%s", c.name, n, len(c.modes)-1, pl)
		}
		var extinf time.Duration
		for _, m := range regexp.MustCompile(`#EXTINF:([0-9.]+)`).FindAllStringSubmatch(pl, -1) {
			f, _ := strconv.ParseFloat(m[1], 64)
			extinf += time.Duration(f * float64(time.Second))
		}
		var live time.Duration
		for _, sp := range b.spans {
			live += sp
		}
		d := ffprobeDuration(t, b.url(*v.VODURL))
		pts, _ := hlsRead(t, b.url(*v.VODURL))
		r := runs(pts, 90000)
		t.Logf("%s: LIVE spans %v (%v), VOD playlist %v, ffprobe %v, gohlslib runs %v",
			c.name, b.spans, live, extinf, d, r)
		// every session from the key frame of the GOP in progress at LIVE: up to one
		// GOP (2 s) more than LIVE for the first one, a little less at each stop
		if !near(extinf, live, 2500*time.Millisecond) || !near(d, extinf, 700*time.Millisecond) {
			t.Errorf("%s: VOD %v (ffprobe %v), LIVE %v", c.name, extinf, d, live)
		}
		if len(r) != len(c.modes) {
			t.Errorf("%s: gohlslib played %d sessions, want %d", c.name, len(r), len(c.modes))
		}
		for i := range c.modes {
			idx := sessionIndex(t, dir, b, i+1)
			var sd time.Duration
			for _, seg := range idx.Segments {
				sd += seg.Duration
			}
			if !near(sd, b.spans[i], 2500*time.Millisecond) {
				t.Errorf("%s session %d (%s): %v indexed, LIVE %v", c.name, i+1, c.modes[i], sd, b.spans[i])
			}
		}
	}
}
