//go:build faults

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
	"syscall"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
)

// mountTmpfs mounts a tmpfs of size bytes on dir (root only) until the test ends.
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting a tmpfs needs root (make faults runs as root in CI)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// fill writes a file into dir until at most leave bytes are free on its file
// system (or it is full), and returns the file's path.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(dir, &fs); err != nil {
			t.Fatal(err)
		}
		free := int64(fs.Bavail) * int64(fs.Bsize)
		if free <= leave {
			return path
		}
		n := min(int64(len(buf)), free-leave)
		if _, err := f.Write(buf[:n]); err != nil {
			return path // full
		}
	}
}

// reconnectingPublisher publishes h264_aac.flv in a loop at real time and, like
// OBS, reconnects 300 ms after its connection is dropped or refused.
func reconnectingPublisher(t *testing.T, url, key string) *publisher {
	t.Helper()
	return startPublisher(t, url, key, 300*time.Millisecond)
}

// TestFaultMediaDiskFull fills the media disk (a small tmpfs) during a live
// broadcast. The stream that cannot be written is ended visibly — publisher
// dropped with STORAGE_ERROR, room LIVE_INACTIVE, events sent — while the disk is
// below the reserve new publishers are refused and /readyz says why, and when space
// is freed the encoder's reconnect resumes the room as session 2. The VOD holds
// both sessions.
func TestFaultMediaDiskFull(t *testing.T) {
	dir := t.TempDir()
	media := filepath.Join(dir, "media")
	mountTmpfs(t, media, 64<<20)
	c := testConfig(t, dir)
	c.DiskReserve = 8 << 20
	s := startServer(t, c)
	defer s.Close()
	a := newAPI(t, s, dir)
	hooks := newHookReceiver(t)
	hooks.subscribe(a)
	b := newBroadcast(t, a, s.RTMPAddr(), "host")
	pub := reconnectingPublisher(t, b.rtmp, b.key)
	eventually(t, 15*time.Second, "key ACTIVE", func() bool { return a.key2(b.key) })
	var r roomJSON
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, &r); code != 200 {
		t.Fatalf("start: %d", code)
	}
	if code, body := readyz(a.base); code != 200 {
		t.Fatalf("readyz before the fault: %d %s", code, body)
	}

	start := time.Now()
	filler := fill(t, media, 256<<10) // below the reserve, and full within a second of media
	eventually(t, 30*time.Second, "room LIVE_INACTIVE after the disk filled", func() bool {
		return a.room(r.ID).VideoRoomState == "LIVE_INACTIVE"
	})
	t.Logf("stream ended %v after the disk filled", time.Since(start).Round(time.Millisecond))
	if st := a.key("host").StreamKeyState; st != "INACTIVE_LIVE" {
		t.Fatalf("key after the fault: %s", st)
	}
	eventually(t, 15*time.Second, "publish_stopped STORAGE_ERROR and live_inactive webhooks", func() bool {
		stopped := strings.Join(hooks.bodiesOf("stream_key.publish_stopped"), "\n")
		return strings.Contains(stopped, `"STORAGE_ERROR"`) && len(hooks.bodiesOf("video_room.live_inactive")) == 1
	})
	code, body := readyz(a.base)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "free") {
		t.Fatalf("readyz with a full disk: %d %s", code, body)
	}
	// a publisher is refused while the disk is below the reserve
	once := load.DefaultConfig()
	probe := &load.Runner{Config: once}
	probe.Config.File = "../../testdata/h264_aac.flv"
	probe.Config.PublishURL = "rtmp://" + s.RTMPAddr() + "/live/{key}?mode=CMAF"
	probe.Config.Keys = []string{b.key}
	probe.Config.Streams, probe.Config.Duration, probe.Config.Progress = 1, 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	rep, err := probe.Run(ctx)
	cancel()
	if err != nil || rep.Publish.Refused != 1 || rep.Publish.Published != 0 {
		t.Fatalf("publisher while the disk is full: %+v, %v", rep, err)
	}
	if st := a.room(r.ID).VideoRoomState; st != "LIVE_INACTIVE" {
		t.Fatalf("room while the disk is full: %s", st)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "room LIVE again as session 2", func() bool {
		r = a.room(r.ID)
		return r.VideoRoomState == "LIVE" && r.LastSessionNo == 2
	})
	if code, body := readyz(a.base); code != 200 {
		t.Fatalf("readyz after freeing space: %d %s", code, body)
	}
	eventually(t, 15*time.Second, "session 2 segments", func() bool {
		entries, _ := os.ReadDir(filepath.Join(media, r.UUID, "2"))
		return len(entries) > 3
	})
	pub.stop()
	eventually(t, 15*time.Second, "LIVE_INACTIVE after the publisher stopped", func() bool {
		return a.room(r.ID).VideoRoomState == "LIVE_INACTIVE"
	})
	segments := endWithVODOfSessions(t, b)
	t.Logf("FAULT-REPORT fault=media_disk_full stream_ended=STORAGE_ERROR resumed_as_session=%d vod_segments=%d",
		r.LastSessionNo, segments)
}

// readyz answers GET /readyz of the server at base (0 and the error when it
// cannot be reached).
func readyz(base string) (int, string) {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// endWithVODOfSessions ends b's room, waits for its VOD and checks that the VOD
// playlist joins more than one session (a discontinuity); it returns the number of
// VOD segments.
func endWithVODOfSessions(t *testing.T, b *broadcast) int {
	t.Helper()
	if v, _ := b.end(); v.VODState != "ARCHIVED" {
		t.Fatalf("VOD: %+v", v)
	}
	resp, body := httpGet(t, b.a.base+"/vod/"+b.uuid+"/video1.m3u8?streamingToken="+b.token, nil)
	if resp.StatusCode != 200 || strings.Count(string(body), "#EXT-X-DISCONTINUITY\n") < 1 {
		t.Fatalf("VOD of both sessions: %d\n%s", resp.StatusCode, body)
	}
	return strings.Count(string(body), "#EXTINF")
}
