package packager

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"

	"github.com/roomcast/roomcast/ingest/hub"
	"github.com/roomcast/roomcast/packager/timeline"
)

// TestCodecChangeStartsNewInit: a new *hub.Track mid-stream (parameters changed)
// ends the segment, and the next one starts with a new init after a discontinuity.
func TestCodecChangeStartsNewInit(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	changed := *tracks[0]
	var out []*hub.Unit
	switched := false
	for _, u := range units {
		c := *u
		if u.Track == tracks[0] && u.Key && u.DTS >= 4*time.Second {
			switched = true
		}
		if switched && u.Track == tracks[0] {
			c.Track = &changed
		}
		out = append(out, &c)
	}
	e.feed(tracks, out, true)
	body, code := e.get(e.liveURL("video1.m3u8", testToken))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if !strings.Contains(body, "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"video1_init1.mp4?streamingToken="+testToken+"\"") {
		t.Fatalf("no discontinuity with the new init:\n%s", body)
	}
	if _, code := e.get(e.liveURL("video1_init1.mp4", testToken)); code != http.StatusOK {
		t.Fatalf("init1: %d", code)
	}
	dir := filepath.Join(e.p.Dir, testRoom, "1")
	idx, dts, _ := diskSamples(t, dir)
	if len(idx.Versions) != 2 {
		t.Fatalf("%d versions in the index", len(idx.Versions))
	}
	if _, err := os.Stat(filepath.Join(dir, "video1_init1.mp4")); err != nil {
		t.Fatal(err)
	}
	var want int
	for _, u := range packaged(units) {
		if u.Track == tracks[0] {
			want++
		}
	}
	if len(dts[0]) != want {
		t.Fatalf("%d video samples on disk, %d published", len(dts[0]), want)
	}
	mbody, _ := e.get(e.liveURL("index.mpd", testToken))
	m, err := mpd.ReadFromString(mbody)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Periods) != 2 {
		t.Fatalf("%d periods, want 2", len(m.Periods))
	}
}

// TestTimestampJumpIsADiscontinuity: DTS going backwards never produces a segment
// with decreasing times; a new segment starts after a discontinuity.
func TestTimestampJumpIsADiscontinuity(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	var out []*hub.Unit
	var jumpAt time.Duration = -1
	for _, u := range units {
		c := *u
		if jumpAt < 0 && u.Track == tracks[0] && u.Key && u.DTS >= 4*time.Second {
			jumpAt = u.DTS
		}
		if jumpAt >= 0 {
			c.DTS -= 3 * time.Second
			c.PTS -= 3 * time.Second
		}
		out = append(out, &c)
	}
	e.feed(tracks, out, true)
	body, _ := e.get(e.liveURL("video1.m3u8", testToken))
	if !strings.Contains(body, "#EXT-X-DISCONTINUITY\n") {
		t.Fatalf("no discontinuity:\n%s", body)
	}
	diskSamples(t, filepath.Join(e.p.Dir, testRoom, "1")) // checks tfdt continuity inside every segment
}

// TestDiskFailureStopsOnlyThatStream: a stream whose directory cannot be written
// fails (its playlist ends), another stream keeps working.
func TestDiskFailureStopsOnlyThatStream(t *testing.T) {
	e := newTestEnv(t, nil)
	tracks, units := loadFLV(t, "h264_aac.flv")
	// a file where the session directory should be: every write fails
	roomDir := filepath.Join(e.p.Dir, testRoom)
	if err := os.MkdirAll(roomDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(roomDir, "1"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := e.startStream(tracks, true)

	other := &hub.Stream{Key: "43", Tracks: tracks, QueueSize: 4096}
	if err := other.Initialize(); err != nil {
		t.Fatal(err)
	}
	e.p.Attach("43", other)
	e.p.Bind("43", Session{AppID: testAppID, RoomUUID: testRoom, SessionNo: 2})
	for deadline := time.Now().Add(5 * time.Second); other.ReaderCount() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("packager did not attach a reader to the other stream")
		}
		time.Sleep(time.Millisecond)
	}
	go publish(other, units, 0)
	publish(s, units, 0)
	s.Close()
	defer other.Close()

	e.p.mu.Lock()
	failing := e.p.byStream[testStreamID]
	e.p.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		failing.mu.Lock()
		failed := failing.failed
		failing.mu.Unlock()
		if failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stream did not fail")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// the other session plays
	url := e.srv.URL + "/live/" + testRoom + "/2/video1.m3u8?streamingToken=" + testToken
	deadline = time.Now().Add(5 * time.Second)
	for {
		body, code := e.get(url)
		if code == http.StatusOK && strings.Contains(body, "video1_1.m4s") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("other stream: %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = timeline.IndexFile
}
