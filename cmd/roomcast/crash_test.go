package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a subprocess's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// avoidPort is never handed out by freeAddr.
const avoidPort = 2024

// freeAddr returns a loopback address with a port that was free a moment ago
// (never avoidPort).
func freeAddr(t *testing.T) string {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		ln.Close()
		if addr.Port != avoidPort {
			return addr.String()
		}
	}
}

// proc is the roomcast binary running as a subprocess.
type proc struct {
	cmd *exec.Cmd
	out *lockedBuffer
}

func startProc(t *testing.T, bin string, args []string, env ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), out: &lockedBuffer{}}
	p.cmd.Env = append(os.Environ(), "ROOMCAST_APP_KEY=crashkey", "ROOMCAST_APP_SECRET=crashsecret-0123456789")
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// TestCrashKill9DuringBroadcast builds the real binary, publishes over RTMP, kills
// the server with SIGKILL mid-broadcast, restarts it, ends the room and checks that
// the VOD holds the media up to within one segment of the kill (the loss window is
// logged; the archiver recovers the segment in progress up to its last part).
func TestCrashKill9DuringBroadcast(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and broadcasts in real time")
	}
	tmp := t.TempDir()
	bin := buildRoomcast(t)
	data := filepath.Join(tmp, "data")
	httpAddr, rtmpAddr := freeAddr(t), freeAddr(t)
	args := []string{"--data", data, "--http-addr", httpAddr, "--rtmp-addr", rtmpAddr,
		"--segment-duration", "1s", "--log-level", "info"}
	a := &api{t: t, base: "http://" + httpAddr, apiKey: "crashkey", secret: "crashsecret-0123456789"}
	healthy := func() bool {
		resp, err := http.Get(a.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}

	p1 := startProc(t, bin, args)
	eventually(t, 20*time.Second, "server ready", healthy)
	b := newBroadcast(t, a, rtmpAddr, "host")
	pub := publish(t, b.rtmp, b.key)
	eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key2(b.key) })
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	liveAt := time.Now()
	time.Sleep(6500 * time.Millisecond)
	killAt := time.Now()
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p1.cmd.Wait()
	pub.stop()
	t.Logf("killed %v after start", killAt.Sub(liveAt).Round(time.Millisecond))

	p2 := startProc(t, bin, args)
	eventually(t, 20*time.Second, "server ready again", healthy)
	if st := a.room(b.id).VideoRoomState; st != "LIVE_INACTIVE" {
		t.Fatalf("room after restart: %s, want LIVE_INACTIVE", st)
	}
	v, took := b.end()
	if v.VODState != "ARCHIVED" || v.VODURL == nil {
		t.Fatalf("room after end: %+v\n%s", v, p2.out.String())
	}
	t.Logf("end → ARCHIVED in %v", took)

	_, media := httpGet(t, a.base+"/vod/"+b.uuid+"/video1.m3u8?streamingToken="+b.token, nil)
	last, total := lastSegmentEnd(t, string(media))
	loss := killAt.Sub(last)
	t.Logf("VOD: %v of media, last sample ends %v before the kill", total.Round(time.Millisecond), loss.Round(time.Millisecond))
	for _, line := range strings.Split(p2.out.String(), "\n") {
		if strings.Contains(line, "vod:") {
			t.Log(line)
		}
	}
	if loss > 2*time.Second || loss < -time.Second {
		t.Errorf("loss window %v, want within one segment (2 s GOP)", loss)
	}
	if d := ffprobeDuration(t, b.url(*v.VODURL)); !near(d, total, 500*time.Millisecond) {
		t.Errorf("ffprobe: %v, playlist %v", d, total)
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	p2.cmd.Wait()
}

// lastSegmentEnd returns the wall-clock end of the last segment of a media
// playlist (EXT-X-PROGRAM-DATE-TIME + EXTINF) and the playlist's total duration.
func lastSegmentEnd(t *testing.T, pl string) (time.Time, time.Duration) {
	t.Helper()
	var pdt time.Time
	var last, total time.Duration
	re := regexp.MustCompile(`(?m)^#EXT-X-PROGRAM-DATE-TIME:(\S+)$|^#EXTINF:([0-9.]+)`)
	for _, m := range re.FindAllStringSubmatch(pl, -1) {
		if m[1] != "" {
			var err error
			if pdt, err = time.Parse(time.RFC3339Nano, m[1]); err != nil {
				t.Fatalf("PDT %q: %v", m[1], err)
			}
			continue
		}
		f, _ := strconv.ParseFloat(m[2], 64)
		last = time.Duration(f * float64(time.Second))
		total += last
	}
	if pdt.IsZero() {
		t.Fatalf("no PDT in\n%s", pl)
	}
	return pdt.Add(last), total
}
