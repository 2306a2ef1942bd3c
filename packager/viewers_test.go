package packager

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/roomcast/roomcast/packager/viewers"
)

// TestLiveViewers: every authorized request of a live session (playlists, MPD,
// init and media segments) reports its room and the token's member to
// OnViewer; refused requests and the player page do not. Through a real
// viewers.Counter, three members with five requests each are three viewers.
func TestLiveViewers(t *testing.T) {
	var mu sync.Mutex
	seen := map[uint64]int{}
	counter := &viewers.Counter{}
	if err := counter.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer counter.Close()
	counter.Begin(testRoom)
	e := newTestEnv(t, func(p *Packager) {
		p.OnViewer = func(room string, member uint64) {
			if room != testRoom {
				t.Errorf("OnViewer room %q", room)
			}
			mu.Lock()
			seen[member]++
			mu.Unlock()
			counter.See(room, member)
		}
	})
	tracks, units := loadFLV(t, "h264_aac.flv")
	e.feed(tracks, units, false)
	base := e.srv.URL + "/live/" + testRoom + "/"
	for _, refused := range []struct {
		url  string
		code int
	}{
		{base + "1/index.m3u8", http.StatusUnauthorized},
		{base + "1/index.m3u8?streamingToken=garbage", http.StatusUnauthorized},
		{base + "1/index.m3u8?streamingToken=" + otherAppToken, http.StatusForbidden},
		{base + "2/index.m3u8?streamingToken=member-10", http.StatusNotFound},
		{e.srv.URL + "/watch/" + testRoom + "?streamingToken=member-10", http.StatusOK},
		{e.srv.URL + "/vod/" + testRoom + "/index.m3u8?streamingToken=member-10", http.StatusNotFound},
	} {
		if _, code := e.get(refused.url); code != refused.code {
			t.Fatalf("%s: %d, want %d", refused.url, code, refused.code)
		}
	}
	mu.Lock()
	if len(seen) != 0 {
		t.Fatalf("requests that are not live playback reported: %v", seen)
	}
	mu.Unlock()
	for m := 10; m < 13; m++ {
		tok := "?streamingToken=member-" + strconv.Itoa(m)
		for _, f := range []string{"index.m3u8", "video1.m3u8", "index.mpd", "video1_init0.mp4", "audio2_1.m4s"} {
			if body, code := e.get(base + "1/" + f + tok); code != http.StatusOK {
				t.Fatalf("%s: %d %.100q", f, code, body)
			}
		}
	}
	mu.Lock()
	if len(seen) != 3 || seen[10] != 5 || seen[11] != 5 || seen[12] != 5 {
		t.Fatalf("OnViewer calls per member: %v, want 5 each for 10, 11, 12", seen)
	}
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for { // the counter samples once per second
		if cur, peak := counter.Viewers(testRoom); cur == 3 && peak == 3 {
			break
		}
		if time.Now().After(deadline) {
			cur, peak := counter.Viewers(testRoom)
			t.Fatalf("counter: %d viewers, peak %d; want 3", cur, peak)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
