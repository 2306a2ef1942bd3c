//go:build faults && linux

package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// setSoftNofile sets the soft RLIMIT_NOFILE of process pid (prlimit(1); lowering
// and raising a soft limit up to the hard one needs no privilege).
func setSoftNofile(t *testing.T, pid int, soft uint64) {
	t.Helper()
	out, err := exec.Command("prlimit", "--pid", strconv.Itoa(pid), fmt.Sprintf("--nofile=%d:", soft)).CombinedOutput()
	if err != nil {
		t.Fatalf("prlimit --nofile=%d: %v: %s", soft, err, out)
	}
}

// TestFaultDescriptorsExhausted runs the real binary, goes live, then lowers its
// descriptor limit below what it holds (prlimit --pid): the packager cannot open
// its next segment (EMFILE). The stream is ended visibly — publisher dropped with
// STORAGE_ERROR, room LIVE_INACTIVE — while descriptors stay short the encoder's
// reconnects are refused, and once the limit is restored the reconnect resumes the
// room as session 2; the webhooks held back meanwhile arrive, and the VOD holds
// both sessions.
func TestFaultDescriptorsExhausted(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("SKIPPED: needs prlimit (util-linux)")
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "roomcast")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(tmp, "data")
	httpAddr, rtmpAddr := freeAddr(t), freeAddr(t)
	p := startProc(t, bin, []string{"--data", data, "--http-addr", httpAddr, "--rtmp-addr", rtmpAddr,
		"--segment-duration", "1s", "--fd-reserve", "16", "--log-level", "info"})
	pid := p.cmd.Process.Pid
	a := &api{t: t, base: "http://" + httpAddr, apiKey: "crashkey", secret: "crashsecret-0123456789"}
	eventually(t, 20*time.Second, "server ready", func() bool { code, _ := readyz(a.base); return code == 200 })
	hooks := newHookReceiver(t)
	hooks.subscribe(a)
	b := newBroadcast(t, a, rtmpAddr, "host")
	pub := reconnectingPublisher(t, b.rtmp, b.key)
	eventually(t, 15*time.Second, "key ACTIVE", func() bool { return a.key2(b.key) })
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	session1 := filepath.Join(data, "media", b.uuid, "1")
	eventually(t, 15*time.Second, "session 1 segments", func() bool {
		entries, _ := os.ReadDir(session1)
		return len(entries) > 3
	})
	// Idle keep-alive connections would hold descriptors the fault must not count on.
	http.DefaultClient.CloseIdleConnections()

	// The kernel gives a new descriptor the lowest free number and refuses it
	// (EMFILE) only when that number is at or above the soft limit. A limit just
	// under the count held leaves the holes that closed connections and segment
	// files free below it, and the packager can go on reusing them; a limit of 3
	// (stdin, stdout, stderr) makes every new descriptor fail, whatever the layout.
	held := openFiles(pid)
	const limit = 3
	start := time.Now()
	setSoftNofile(t, pid, limit)
	eventually(t, 30*time.Second, "publisher dropped with STORAGE_ERROR", func() bool {
		return strings.Contains(p.out.String(), "reason=STORAGE_ERROR")
	})
	ended := time.Since(start)
	// While descriptors stay short, the encoder's reconnects are refused (they
	// may also fail at accept, which backs off); none is let in.
	eventually(t, 30*time.Second, "a reconnect refused for lack of descriptors", func() bool {
		return strings.Contains(p.out.String(), "server temporarily unavailable") ||
			strings.Contains(p.out.String(), "accept failed")
	})
	if strings.Count(p.out.String(), "publish started") != 1 {
		t.Fatalf("a publisher was let in while descriptors were short:\n%s", p.out.String())
	}

	setSoftNofile(t, pid, rl.Cur)
	restored := time.Now()
	eventually(t, 30*time.Second, "room LIVE again as session 2", func() bool {
		r := a.room(b.id)
		return r.VideoRoomState == "LIVE" && r.LastSessionNo == 2
	})
	resumed := time.Since(restored)
	eventually(t, 30*time.Second, "publish_stopped STORAGE_ERROR and live_inactive webhooks", func() bool {
		stopped := strings.Join(hooks.bodiesOf("stream_key.publish_stopped"), "\n")
		return strings.Contains(stopped, `"STORAGE_ERROR"`) && len(hooks.bodiesOf("video_room.live_inactive")) == 1
	})
	if code, body := readyz(a.base); code != 200 {
		t.Fatalf("readyz after the limit was restored: %d %s", code, body)
	}
	eventually(t, 15*time.Second, "session 2 segments", func() bool {
		entries, _ := os.ReadDir(filepath.Join(data, "media", b.uuid, "2"))
		return len(entries) > 3
	})
	pub.stop()
	eventually(t, 15*time.Second, "LIVE_INACTIVE after the publisher stopped", func() bool {
		return a.room(b.id).VideoRoomState == "LIVE_INACTIVE"
	})
	segments := endWithVODOfSessions(t, b)
	for _, line := range strings.Split(p.out.String(), "\n") {
		if strings.Contains(line, "packaging failed") || strings.Contains(line, "refusing publisher") ||
			strings.Contains(line, "accept failed") || strings.Contains(line, "STORAGE_ERROR") {
			t.Log(line)
		}
	}
	t.Logf("FAULT-REPORT fault=descriptors_exhausted held=%d soft_limit=%d stream_ended_after=%v resumed_after_restore=%v vod_segments=%d",
		held, limit, ended.Round(time.Millisecond), resumed.Round(time.Millisecond), segments)
}
