//go:build cluster

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/internal/etcdtest"
	"github.com/roomcast/roomcast/internal/s3test"
	"github.com/roomcast/roomcast/objstore"
	"github.com/roomcast/roomcast/objstore/objstoretest"
)

// storedKeys lists the object keys under prefix ("" on error).
func storedKeys(c *objstore.Client, prefix string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	infos, err := c.List(ctx, prefix, true)
	if err != nil {
		return nil
	}
	var keys []string
	for _, in := range infos {
		keys = append(keys, in.Key)
	}
	return keys
}

// vodSessions parses a VOD media playlist: the media duration of each run
// between discontinuities (one per session here) and the target duration.
func vodSessions(t *testing.T, pl string) ([]time.Duration, time.Duration) {
	t.Helper()
	runs := []time.Duration{0}
	var target time.Duration
	for _, line := range strings.Split(pl, "\n") {
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			s, _ := strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
			target = time.Duration(s) * time.Second
		case strings.HasPrefix(line, "#EXT-X-DISCONTINUITY") && runs[len(runs)-1] > 0:
			runs = append(runs, 0)
		case strings.HasPrefix(line, "#EXTINF:"):
			f, _ := strconv.ParseFloat(strings.TrimSuffix(strings.SplitN(strings.TrimPrefix(line, "#EXTINF:"), ",", 2)[0], ","), 64)
			runs[len(runs)-1] += time.Duration(f * float64(time.Second))
		}
	}
	return runs, target
}

// TestClusterObjectStore: recordings in object storage outlive the node that
// ingested them. Three nodes on etcd store in one real S3 server (SeaweedFS). A
// publish on A is played through B (hls.js) and C (ffmpeg) with the same URL;
// A is killed with SIGKILL and its data directory deleted; the encoder
// reconnects to B; the room ends; the VOD, archived from the object store, holds
// session 1 (from A's uploads) and session 2, and plays in ffprobe and hls.js
// through any node. Deleting the room deletes its objects.
func TestClusterObjectStore(t *testing.T) {
	if testing.Short() {
		t.Skip("real etcd members, S3 server and roomcast processes, broadcasting in real time")
	}
	requireFFmpeg(t)
	bin := buildRoomcast(t)
	s3 := s3test.Start(t)
	const bucket = "recordings"
	objects := objstoretest.Client(t, s3, bucket) // the nodes create the bucket
	etcd := etcdtest.Start(t, 3)
	var nodes []*clusterNode
	for _, id := range []string{"node-a", "node-b", "node-c"} {
		nodes = append(nodes, startClusterNodeWith(t, bin, id, etcd.AllEndpoints(),
			[]string{"--object-store", s3.URL(bucket)}, s3.Env()))
	}
	for _, n := range nodes {
		eventually(t, 30*time.Second, n.id+" ready", n.ready)
	}
	A, B, C := nodes[0], nodes[1], nodes[2]

	room, token, key := newClusterRoom(t, A, "objects")

	// 1. The encoder publishes through the ingest address, which points at A.
	front := newRTMPFront(t, A.rtmpAddr)
	enc := startPublisher(t, "rtmp://"+front.addr()+"/live/{key}?mode=CMAF", key, 300*time.Millisecond)
	defer enc.stop()
	eventually(t, 10*time.Second, "key publishing", func() bool { return B.a.key("host").StreamKeyState == "ACTIVE" })
	if code := C.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", room.ID), nil, nil); code != 200 {
		t.Fatalf("live: %d", code)
	}
	live1 := time.Now()
	path := "/live/" + room.UUID + "/1/index.m3u8?streamingToken=" + token
	for _, n := range []*clusterNode{B, C} {
		waitSegments(t, 15*time.Second, n.a.base+path, 2, "session 1 through "+n.id)
	}

	// 2. The same URL on B (hls.js) and C (ffmpeg, 20 s) while A uploads.
	const ffmpegSeconds = 20
	ffmpegWait := ffmpegPlay(C.a.base+path, ffmpegSeconds)
	for _, p := range playWith(t, 1, "--hls", B.a.base+path) {
		report(t, "hls.js through B (session 1, ingested by A): played %.1f s, %dpx wide, latency %v, errors %v",
			p.Advanced, p.VideoWidth, p.latency(), p.Errors)
		if p.Advanced < 8 || p.VideoWidth == 0 || len(p.Errors) > 0 {
			t.Errorf("hls.js through B: played %.1f s of 12, %dpx, errors %v", p.Advanced, p.VideoWidth, p.Errors)
		}
	}
	played, err := ffmpegWait()
	if err != nil {
		t.Fatal(err)
	}
	report(t, "ffmpeg played %.1f s of session 1 through C", played)
	if played < ffmpegSeconds-1 {
		t.Errorf("ffmpeg through C played %.1f s, want %d s", played, ffmpegSeconds)
	}
	stored := storedKeys(objects, room.UUID+"/1/")
	if len(stored) < 10 {
		t.Fatalf("session 1 in the object store after %v: %d objects %v", time.Since(live1).Round(time.Second), len(stored), stored)
	}

	// 3. kill -9 A and delete its data directory: session 1 now exists only in
	// the object store.
	killAt := time.Now()
	A.kill(t)
	if err := os.RemoveAll(A.dataDir); err != nil {
		t.Fatal(err)
	}
	report(t, "A killed and its data directory deleted %v after LIVE (%d objects of session 1 stored)",
		killAt.Sub(live1).Round(time.Millisecond), len(storedKeys(objects, room.UUID+"/1/")))
	eventually(t, 15*time.Second, "room LIVE_INACTIVE after the kill", func() bool {
		var r roomJSON
		code, err := B.a.request("GET", fmt.Sprintf("/v2/apps/me/video-rooms/%d", room.ID), nil, &r)
		return err == nil && code == 200 && r.VideoRoomState == "LIVE_INACTIVE"
	})

	// 4. The encoder reconnects, through the balancer, to B: session 2.
	front.setTarget(B.rtmpAddr)
	var live2 time.Time
	eventually(t, 15*time.Second, "room LIVE again (session 2)", func() bool {
		var r roomJSON
		code, err := C.a.request("GET", fmt.Sprintf("/v2/apps/me/video-rooms/%d", room.ID), nil, &r)
		if err == nil && code == 200 && r.VideoRoomState == "LIVE" && r.LastSessionNo == 2 {
			live2 = time.Now()
			return true
		}
		return false
	})
	path2 := "/live/" + room.UUID + "/2/index.m3u8?streamingToken=" + token
	waitSegments(t, 15*time.Second, C.a.base+path2, 8, "session 2 through C")

	// 5. The encoder stops; end through C; B (session 2's node) archives from the
	// object store.
	endAt := time.Now()
	enc.stop()
	eventually(t, 10*time.Second, "room LIVE_INACTIVE after the encoder stopped", func() bool {
		return C.a.room(room.ID).VideoRoomState == "LIVE_INACTIVE"
	})
	var ended roomJSON
	if code := C.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", room.ID), nil, &ended); code != 200 {
		t.Fatalf("end: %d", code)
	}
	var vod vodJSON
	eventually(t, 60*time.Second, "VOD archived", func() bool {
		vod = C.a.vod(room.ID)
		return vod.VODState == "ARCHIVED" || vod.VODState == "FAILED_ARCHIVING"
	})
	report(t, "end → %s in %v", vod.VODState, time.Since(endAt).Round(time.Millisecond))
	if vod.VODState != "ARCHIVED" || vod.VODURL == nil {
		t.Fatalf("VOD: %+v", vod)
	}
	published1, published2 := killAt.Sub(live1), endAt.Sub(live2)

	// 6. The VOD, from any node: both sessions, nothing missing beyond the
	// segment A was writing when it died.
	vodPath := regexp.MustCompile(`^https?://[^/]+`).ReplaceAllString(*vod.VODURL, "") + "?streamingToken=" + token
	media, why := getOK(C.a.base + "/vod/" + room.UUID + "/video1.m3u8?streamingToken=" + token)
	if why != "" {
		t.Fatalf("VOD media playlist through C: %s", why)
	}
	runs, target := vodSessions(t, media)
	report(t, "VOD sessions %v (target %v); published while LIVE: session 1 %v (until the kill), session 2 %v",
		runs, target, published1.Round(time.Millisecond), published2.Round(time.Millisecond))
	if len(runs) != 2 {
		t.Fatalf("VOD has %d sessions, want 2:\n%s", len(runs), media)
	}
	// the measured LIVE spans include API round trips: 300 ms of slack
	const slack = 300 * time.Millisecond
	if runs[0] < published1-target-slack {
		t.Errorf("session 1 in the VOD: %v, published %v: more than one segment (%v) missing", runs[0], published1, target)
	}
	if runs[1] < published2-target-slack {
		t.Errorf("session 2 in the VOD: %v, published %v: more than one segment (%v) missing", runs[1], published2, target)
	}
	for _, n := range []*clusterNode{B, C} {
		d := ffprobeDuration(t, n.a.base+vodPath)
		report(t, "ffprobe of the VOD through %s: %v (published %v)", n.id, d.Round(time.Millisecond), (published1 + published2).Round(time.Millisecond))
		if d < published1+published2-target-2*slack {
			t.Errorf("ffprobe VOD through %s: %v, published %v", n.id, d, published1+published2)
		}
	}
	for _, p := range playWith(t, 1, "--vod-hls", C.a.base+vodPath) {
		report(t, "hls.js plays the VOD through C: %.1f s in 12 s, %dpx, errors %v", p.Advanced, p.VideoWidth, p.Errors)
		if p.Advanced < 8 || p.VideoWidth == 0 || len(p.Errors) > 0 {
			t.Errorf("hls.js VOD through C: played %.1f s, %dpx, errors %v", p.Advanced, p.VideoWidth, p.Errors)
		}
	}
	// B's local copy of session 2 is gone once the archive is stored.
	eventually(t, 10*time.Second, "B's local media of the room removed", func() bool {
		_, err := os.Stat(filepath.Join(B.dataDir, "media", room.UUID))
		return os.IsNotExist(err)
	})

	// 7. Deleting the room deletes its objects.
	if code := C.a.do("DELETE", fmt.Sprintf("/video-rooms/%d", room.ID), nil, nil); code >= 300 {
		t.Fatalf("delete room: %d", code)
	}
	eventually(t, 20*time.Second, "the room's objects deleted", func() bool {
		return len(storedKeys(objects, room.UUID+"/")) == 0
	})
}
