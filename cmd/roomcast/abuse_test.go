//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// slowBodies is a client sending POSTs whose bodies trickle a byte every 2 s from
// many connections, reconnecting when the server closes one.
type slowBodies struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	dials  atomic.Int64 // connections opened
	closed atomic.Int64 // connections the server ended (a write failed)
}

// startSlowBodies runs n such connections from the loopback address from to addr:
// a third without credentials, a third with a wrong secret, a third with the
// right one.
func startSlowBodies(t *testing.T, addr, from string, n int, a *api) *slowBodies {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &slowBodies{cancel: cancel}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	for i := range n {
		req := "POST /v2/apps/me/video-rooms HTTP/1.1\r\nHost: roomcast\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
		switch i % 3 {
		case 1:
			req += "Authorization: Basic " + basicAuth(a.apiKey, "wrong-secret") + "\r\n"
		case 2:
			req += "Authorization: Basic " + basicAuth(a.apiKey, a.secret) + "\r\n"
		}
		s.wg.Add(1)
		go s.run(ctx, d, addr, req+"\r\n{")
	}
	t.Cleanup(s.stop)
	return s
}

func basicAuth(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// run keeps one slow request going until ctx ends.
func (s *slowBodies) run(ctx context.Context, d *net.Dialer, addr, head string) {
	defer s.wg.Done()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			s.dials.Add(1)
			s.trickle(ctx, nc, head, tick.C)
			nc.Close()
			continue
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// trickle sends head, then one byte per tick until a write fails or ctx ends.
func (s *slowBodies) trickle(ctx context.Context, nc net.Conn, head string, tick <-chan time.Time) {
	_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, head); err != nil {
		s.closed.Add(1)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write([]byte{' '}); err != nil {
			s.closed.Add(1)
			return
		}
	}
}

func (s *slowBodies) stop() {
	s.cancel()
	s.wg.Wait()
}

// openFiles counts the descriptors of process pid.
func openFiles(pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(entries)
}

// TestSlowBodiesKeepStreamAndHealthz runs the real binary with 256 descriptors
// (prlimit), publishes over RTMP and goes live, then opens 300 POSTs trickling a
// byte every 2 s from another loopback address (127.0.0.2). For 15 s, /healthz and
// the live media playlist must keep answering, the playlist must keep growing and
// the room stay LIVE; the server never holds more than its descriptor limit.
func TestSlowBodiesKeepStreamAndHealthz(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and broadcasts in real time")
	}
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("needs prlimit (util-linux)")
	}
	tmp := t.TempDir()
	bin := buildRoomcast(t)
	const nofile = 256
	httpAddr, rtmpAddr := freeAddr(t), freeAddr(t)
	p := startProc(t, "prlimit", []string{fmt.Sprintf("--nofile=%d:%d", nofile, nofile), bin,
		"--data", filepath.Join(tmp, "data"), "--http-addr", httpAddr, "--rtmp-addr", rtmpAddr,
		"--segment-duration", "1s", "--body-timeout", "3s", "--log-level", "warn"})
	a := &api{t: t, base: "http://" + httpAddr, apiKey: "crashkey", secret: "crashsecret-0123456789"}
	// A new connection per request, as load-balancer probes and joining viewers make.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	eventually(t, 20*time.Second, "server ready", func() bool {
		resp, err := client.Get(a.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	b := newBroadcast(t, a, rtmpAddr, "host")
	pub := publish(t, b.rtmp, b.key)
	eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key2(b.key) })
	var r roomJSON
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, &r); code != 200 {
		t.Fatalf("start: %d", code)
	}
	fetch := func(url string) (int, string, time.Duration, error) {
		t0 := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			return 0, "", time.Since(t0), err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), time.Since(t0), err
	}
	var media string
	eventually(t, 10*time.Second, "live playlist", func() bool {
		code, body, _, _ := fetch(b.url(*r.HLS))
		for _, line := range strings.Split(body, "\n") {
			if code == 200 && line != "" && !strings.HasPrefix(line, "#") {
				media = b.a.base + "/live/" + b.uuid + "/1/" + line
				return true
			}
		}
		return false
	})
	_, first, _, _ := fetch(media)

	attack := startSlowBodies(t, httpAddr, "127.0.0.2", 300, a)
	var healthz, playlist []time.Duration
	var failures []string
	peakFiles := 0
	last := first
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); <-tick.C {
		code, _, took, err := fetch(a.base + "/healthz")
		healthz = append(healthz, took)
		if err != nil || code != 200 {
			failures = append(failures, fmt.Sprintf("healthz: %d %v", code, err))
		}
		code, body, took, err := fetch(media)
		playlist = append(playlist, took)
		if err != nil || code != 200 {
			failures = append(failures, fmt.Sprintf("media playlist: %d %v", code, err))
		} else {
			last = body
		}
		peakFiles = max(peakFiles, openFiles(p.cmd.Process.Pid))
	}
	attack.stop()

	t.Logf("300 slow bodies for 15 s: %d connections opened, %d ended by the server; server descriptors peak %d of %d",
		attack.dials.Load(), attack.closed.Load(), peakFiles, nofile)
	t.Logf("/healthz under attack: p50 %v, max %v (%d requests); live media playlist: p50 %v, max %v",
		percentile(healthz, 50), percentile(healthz, 100), len(healthz), percentile(playlist, 50), percentile(playlist, 100))
	if len(failures) > 0 {
		out := p.out.String()
		t.Errorf("%d failed requests under attack, first: %s\nserver log (end):\n%s",
			len(failures), failures[0], out[max(0, len(out)-4000):])
	}
	if out := p.out.String(); strings.Contains(out, "too many open files") || strings.Contains(out, "packaging failed") {
		t.Errorf("server ran out of descriptors:\n%s", out[max(0, len(out)-4000):])
	}
	if last == first {
		t.Errorf("live playlist did not move under attack:\n%s", last)
	}
	if st := a.room(b.id).VideoRoomState; st != "LIVE" {
		t.Errorf("room %s after the attack, want LIVE", st)
	}
	if a.key("host").StreamKeyState != "ACTIVE_LIVE" {
		t.Errorf("publisher lost under attack")
	}
	pub.stop()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// percentile returns the p-th percentile of ds (p = 100: the maximum).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(100 * time.Microsecond)
}
