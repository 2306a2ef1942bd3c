//go:build cluster

package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/ingest/flv"
)

// TestClusterRelayEdge: an RTMP relay player on any node is fed from the node
// that ingests the session. A publish on A (mode RTMP) is played by ffmpeg
// through B for more than a minute of media across a drop of the publisher and
// its resume on C; four more ffmpeg players on B share B's one pull from A; a
// bad token on B is refused; time to the first frame is measured from A and
// through C (a new pull).
func TestClusterRelayEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("real etcd members and roomcast processes, broadcasting in real time")
	}
	requireFFmpeg(t)
	bin := buildRoomcast(t)
	_, nodes := startThreeNodes(t, bin)
	A, B, C := nodes[0], nodes[1], nodes[2]
	room, token, key := newClusterRoom(t, A, "rtmp edge")
	enc := publish(t, "rtmp://"+A.rtmpAddr+"/live/{key}?mode=RTMP", key)
	defer enc.stop()
	eventually(t, 10*time.Second, "key publishing", func() bool { return A.a.key("host").StreamKeyState == "ACTIVE" })
	if code := B.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", room.ID), nil, nil); code != 200 {
		t.Fatalf("live: %d", code)
	}
	r := C.a.room(room.ID)
	if r.RTMP == nil || !strings.HasPrefix(*r.RTMP, "rtmp://"+A.rtmpAddr+"/play/") {
		t.Fatalf("rtmpPlayUrl %v, want the ingesting node A's", str(r.RTMP))
	}
	playPath := "/play/" + room.UUID + "?streamingToken=" + token
	via := func(n *clusterNode) string { return "rtmp://" + n.rtmpAddr + playPath }

	// A bad token on B is refused, not relayed: no pull starts.
	bad := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-rw_timeout", "10000000",
		"-i", "rtmp://"+B.rtmpAddr+"/play/"+room.UUID+"?streamingToken=not-a-token", "-t", "1", "-f", "null", "-")
	if out, err := bad.CombinedOutput(); err == nil {
		t.Fatalf("ffmpeg with a bad token on B played:\n%s", out)
	}
	if n := metric(t, B, "roomcast_relay_edge_upstreams_started_total"); n != 0 {
		t.Fatalf("a refused player started %v pulls on B", n)
	}

	// Time to the first frame: from A (the holder) and through C (a new pull).
	firstFrame := func(u string) time.Duration {
		t0 := time.Now()
		out, err := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-i", u, "-frames:v", "1",
			"-f", "null", "-").CombinedOutput()
		if err != nil {
			t.Fatalf("first frame of %s: %v\n%s", u, err, out)
		}
		return time.Since(t0)
	}
	// (alternating, three times each: the first player of a fresh broadcast waits
	// for its first key frame)
	var direct, edge []time.Duration
	for range 3 {
		direct = append(direct, firstFrame(via(A)).Round(time.Millisecond))
		edge = append(edge, firstFrame(via(C)).Round(time.Millisecond))
	}
	report(t, "RTMP time to first frame (ffmpeg, connect to first decoded frame): from A %v, through C (a new pull each time) %v",
		direct, edge)

	// The long player on B: 65 s of media across the drop and resume.
	const mediaSeconds = 65
	out := filepath.Join(t.TempDir(), "edge.flv")
	long := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-i", via(B), "-t", strconv.Itoa(mediaSeconds),
		"-c", "copy", "-f", "flv", out)
	var longOut bytes.Buffer
	long.Stdout, long.Stderr = &longOut, &longOut
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	longDone := make(chan error, 1)
	longStart := time.Now()
	go func() { longDone <- long.Wait() }()
	defer func() {
		if long.ProcessState == nil {
			_ = long.Process.Kill()
			<-longDone
		}
	}()
	// Four more players on B, for 15 s of media each: one pull for all of them.
	var short []chan error
	for range 4 {
		cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-i", via(B), "-t", "15", "-f", "null", "-")
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		short = append(short, done)
	}
	eventually(t, 15*time.Second, "five players on B", func() bool {
		return metric(t, B, "roomcast_relay_edge_players") == 5
	})
	up, started, down := metric(t, B, "roomcast_relay_edge_upstreams"),
		metric(t, B, "roomcast_relay_edge_upstreams_started_total"), metric(t, A, "roomcast_relay_edge_downstreams")
	report(t, "5 RTMP players on B: B runs %v pull(s) (%v started), A serves %v", up, started, down)
	if up != 1 || started != 1 || down != 1 {
		t.Errorf("5 players on B: %v pulls running on B (%v started), A serving %v; want 1, 1, 1", up, started, down)
	}
	for _, done := range short {
		if err := <-done; err != nil {
			t.Errorf("short player on B: %v", err)
		}
	}

	// The publisher drops and resumes on C.
	enc.stop()
	eventually(t, 10*time.Second, "LIVE_INACTIVE", func() bool {
		return C.a.room(room.ID).VideoRoomState == "LIVE_INACTIVE"
	})
	droppedAt := time.Now()
	enc2 := publish(t, "rtmp://"+C.rtmpAddr+"/live/{key}?mode=RTMP", key)
	defer enc2.stop()
	eventually(t, 15*time.Second, "LIVE again, ingested by C", func() bool {
		r := B.a.room(room.ID)
		return r.VideoRoomState == "LIVE" && r.RTMP != nil && strings.HasPrefix(*r.RTMP, "rtmp://"+C.rtmpAddr+"/")
	})
	eventually(t, 15*time.Second, "B pulling from C", func() bool {
		return metric(t, B, "roomcast_relay_edge_upstreams_started_total") == 2 &&
			metric(t, B, "roomcast_relay_edge_upstreams") == 1 && metric(t, C, "roomcast_relay_edge_downstreams") == 1
	})
	report(t, "publisher dropped on A, resumed on C: B's player fed from C %v after the drop",
		time.Since(droppedAt).Round(time.Millisecond))

	select {
	case err := <-longDone:
		if err != nil {
			t.Fatalf("ffmpeg through B: %v\n%s", err, outputTail(longOut.String(), 20))
		}
	case <-time.After(3 * mediaSeconds * time.Second):
		t.Fatalf("ffmpeg through B still playing after %d s", 3*mediaSeconds)
	}
	wall := time.Since(longStart)
	tags, err := flv.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	media, frames := checkMonotonic(t, tags)
	report(t, "ffmpeg through B: %.1f s of media (%d video frames) in %.1f s, timestamps monotonic per track, across a drop on A and a resume on C",
		media.Seconds(), frames, wall.Seconds())
	if media < 60*time.Second {
		t.Errorf("ffmpeg through B received %.1f s of media, want ≥ 60 s", media.Seconds())
	}
	eventually(t, 15*time.Second, "B's pull ended with its last player", func() bool {
		return metric(t, B, "roomcast_relay_edge_upstreams") == 0 && metric(t, C, "roomcast_relay_edge_downstreams") == 0
	})
}

// checkMonotonic fails unless every track's timestamps never go back, and
// returns the media duration (last timestamp − first) and the video frames.
func checkMonotonic(t *testing.T, tags []flv.Tag) (time.Duration, int) {
	t.Helper()
	last := map[uint8]uint32{}
	seen := map[uint8]bool{}
	var first, end uint32
	frames := 0
	for i, tg := range tags {
		if tg.Type != flv.TagAudio && tg.Type != flv.TagVideo {
			continue
		}
		if seen[tg.Type] && tg.Timestamp < last[tg.Type] {
			t.Fatalf("tag %d (type %d): timestamp went back from %d to %d ms", i, tg.Type, last[tg.Type], tg.Timestamp)
		}
		if len(seen) == 0 {
			first = tg.Timestamp
		}
		seen[tg.Type], last[tg.Type] = true, tg.Timestamp
		end = max(end, tg.Timestamp)
		if tg.Type == flv.TagVideo && len(tg.Data) > 1 && tg.Data[1] == 1 {
			frames++
		}
	}
	return time.Duration(end-first) * time.Millisecond, frames
}

// metric reads the value of an unlabelled metric of node n (0 when absent).
func metric(t *testing.T, n *clusterNode, name string) float64 {
	t.Helper()
	body, why := getOK(n.a.base + "/metrics")
	if why != "" {
		t.Fatalf("metrics of %s: %s", n.id, why)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}
