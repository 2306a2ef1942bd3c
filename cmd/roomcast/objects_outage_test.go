//go:build cluster

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/roomcast/roomcast/internal/s3test"
)

// metricValue reads an unlabelled series from base's /metrics (-1 if absent).
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	body, why := getOK(base + "/metrics")
	if why != "" {
		t.Fatalf("metrics: %s", why)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestObjectStoreOutage: the object store is down for 30 s in the middle of a
// broadcast. The live stream is unaffected (its playlist grows, ffmpeg plays
// through the outage), uploads fail and are retried, resume when the store is
// back, and the VOD — archived from the store — misses nothing.
func TestObjectStoreOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a real S3 server and the roomcast binary, broadcasting in real time")
	}
	requireFFmpeg(t)
	bin := buildRoomcast(t)
	s3 := s3test.Start(t)
	data := filepath.Join(t.TempDir(), "data")
	httpAddr, rtmpAddr := freeAddr(t), freeAddr(t)
	args := []string{"--data", data, "--http-addr", httpAddr, "--rtmp-addr", rtmpAddr,
		"--segment-duration", "1s", "--log-level", "info", "--object-store", s3.URL("recordings")}
	p := startProc(t, bin, args, s3.Env()...)
	a := &api{t: t, base: "http://" + httpAddr, apiKey: "crashkey", secret: "crashsecret-0123456789"}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("=== roomcast output tail:\n%s", outputTail(p.out.String(), 80))
		}
	})
	eventually(t, 20*time.Second, "server ready", func() bool {
		_, why := getOK(a.base + "/readyz")
		return why == ""
	})
	b := newBroadcast(t, a, rtmpAddr, "host")
	pub := publish(t, b.rtmp, b.key)
	defer pub.stop()
	eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key2(b.key) })
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	liveAt := time.Now()
	master := a.base + "/live/" + b.uuid + "/1/index.m3u8?streamingToken=" + b.token

	// A viewer plays the live stream from before the outage to after it.
	const ffmpegSeconds = 50
	ffmpegWait := ffmpegPlay(master, ffmpegSeconds)
	eventually(t, 15*time.Second, "uploads flowing", func() bool {
		return metricValue(t, a.base, "roomcast_upload_objects_total") >= 10
	})

	// The store goes down for 30 s.
	before := waitSegments(t, 5*time.Second, master, 1, "live playlist before the outage")
	s3.Kill()
	downAt := time.Now()
	eventually(t, 15*time.Second, "uploads failing", func() bool {
		return metricValue(t, a.base, "roomcast_upload_failures_total") > 0
	})
	time.Sleep(30*time.Second - time.Since(downAt)) // the outage lasts 30 s: this is the scenario, not a wait for a condition
	// 2 s segments (the test file's GOP): 30 s of outage is 15 more, at least 12
	during := waitSegments(t, 5*time.Second, master, before+12, "live playlist during the outage")
	backlog := metricValue(t, a.base, "roomcast_upload_backlog_seconds")
	failures := metricValue(t, a.base, "roomcast_upload_failures_total")
	report(t, "object store down 30 s: live playlist %d → %d segments meanwhile, upload backlog %.0f s, %.0f failed passes",
		before, during, backlog, failures)
	if backlog < 20 {
		t.Errorf("upload backlog %v s after 30 s of outage: uploads did not wait", backlog)
	}

	// Back: the backlog drains.
	if err := s3.Restart(); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	eventually(t, 60*time.Second, "upload backlog drained", func() bool {
		return metricValue(t, a.base, "roomcast_upload_backlog_seconds") < 2
	})
	report(t, "store back: backlog drained %v after it answered again", time.Since(upAt).Round(100*time.Millisecond))
	waitSegments(t, 10*time.Second, master, during+3, "live playlist after the outage")

	played, err := ffmpegWait()
	if err != nil {
		t.Fatal(err)
	}
	report(t, "ffmpeg played %.1f s of the live stream across the outage", played)
	if played < ffmpegSeconds-1 {
		t.Errorf("ffmpeg played %.1f s, want %d s", played, ffmpegSeconds)
	}

	// End: the VOD is built from the store and holds everything published.
	endAt := time.Now()
	pub.stop()
	eventually(t, 10*time.Second, "LIVE_INACTIVE", func() bool { return a.room(b.id).VideoRoomState == "LIVE_INACTIVE" })
	v, took := b.end()
	if v.VODState != "ARCHIVED" || v.VODURL == nil {
		t.Fatalf("room after end: %+v", v)
	}
	published := endAt.Sub(liveAt)
	media, why := getOK(a.base + "/vod/" + b.uuid + "/video1.m3u8?streamingToken=" + b.token)
	if why != "" {
		t.Fatalf("VOD playlist: %s", why)
	}
	runs, target := vodSessions(t, media)
	d := ffprobeDuration(t, b.url(*v.VODURL))
	report(t, "end → ARCHIVED in %v; VOD %v (ffprobe %v), published while LIVE %v, target %v",
		took.Round(time.Millisecond), runs, d.Round(time.Millisecond), published.Round(time.Millisecond), target)
	if len(runs) != 1 || runs[0] < published-target-300*time.Millisecond {
		t.Errorf("VOD %v after an outage, published %v: media lost", runs, published)
	}
	if _, err := os.Stat(filepath.Join(data, "media", b.uuid)); !os.IsNotExist(err) {
		t.Errorf("local media of the archived room still there: %v", err)
	}
	if _, why := getOK(b.url(*v.VODURL)); why != "" {
		t.Errorf("VOD from the object store: %s", why)
	}
}
