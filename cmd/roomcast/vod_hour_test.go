package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
	"github.com/roomcast/roomcast/packager/timeline"
)

// TestVODOneHourFast archives a one-hour broadcast published as fast as possible
// (the load tool's Fast mode) and reports the time from the end call to ARCHIVED,
// the MP4 layout build time and the MP4 download rate. Opt-in (minutes of CPU and
// ~500 MB of disk): ROOMCAST_VOD_HOUR=1 go test -run OneHour -v ./cmd/roomcast/
func TestVODOneHourFast(t *testing.T) {
	if os.Getenv("ROOMCAST_VOD_HOUR") == "" {
		t.Skip("set ROOMCAST_VOD_HOUR=1 to run")
	}
	media := time.Hour
	if v, err := time.ParseDuration(os.Getenv("ROOMCAST_VOD_HOUR")); err == nil {
		media = v
	}
	dir := t.TempDir()
	if d := os.Getenv("ROOMCAST_VOD_HOUR_DIR"); d != "" {
		dir = d // keep the data for inspection
	}
	c := testConfig(t, dir)
	c.MaxBitrate = 0
	s := startServer(t, c)
	defer s.Close()
	a := newAPI(t, s, dir)
	b := newBroadcast(t, a, s.RTMPAddr(), "host")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &load.Runner{Config: load.DefaultConfig()}
	r.Config.File = "../../testdata/h264_aac.flv"
	r.Config.PublishURL = b.rtmp
	r.Config.Keys = []string{b.key}
	r.Config.Streams, r.Config.Duration, r.Config.Progress = 1, 0, 0
	r.Config.Fast = true
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx) //nolint:errcheck // stopped by cancel
	}()
	eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key2(b.key) })
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	t0 := time.Now()
	session := filepath.Join(dir, "media", b.uuid, "1")
	for indexDuration(session) < media {
		if time.Since(t0) > 30*time.Minute {
			t.Fatal("publishing too slow")
		}
		time.Sleep(time.Second)
	}
	t.Logf("published %v of media in %v", media, time.Since(t0).Round(time.Second))
	cancel()
	<-done
	eventually(t, 10*time.Second, "LIVE_INACTIVE", func() bool { return a.room(b.id).VideoRoomState == "LIVE_INACTIVE" })

	v, took := b.end()
	t.Logf("end → %s in %v", v.VODState, took)
	if v.VODState != "ARCHIVED" {
		t.Fatal("not archived")
	}
	url := a.base + "/vod/" + b.uuid + "/download.mp4?streamingToken=" + b.token
	t1 := time.Now()
	head, err := http.Head(url)
	if err != nil || head.StatusCode != 200 {
		t.Fatalf("HEAD mp4: %v %v", err, head)
	}
	t.Logf("MP4 layout (first request): %v, %d bytes", time.Since(t1).Round(time.Millisecond), head.ContentLength)
	t2 := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	el := time.Since(t2)
	t.Logf("MP4 download: %d bytes in %v (%.0f MB/s), err %v", n, el.Round(time.Millisecond), float64(n)/el.Seconds()/1e6, err)
	out, _ := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", url).CombinedOutput()
	t.Logf("ffprobe mp4 duration: %s", strings.TrimSpace(string(out)))
}

// indexDuration sums the segment durations of a session index.
func indexDuration(dir string) time.Duration {
	idx, err := timeline.ReadIndex(dir)
	if err != nil {
		return 0
	}
	var d time.Duration
	for _, s := range idx.Segments {
		d += s.Duration
	}
	return d
}
