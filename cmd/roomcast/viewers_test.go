package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
)

// statsJSON is the room JSON's stats.
type statsJSON struct {
	Stats struct {
		ViewerCount     int `json:"viewerCount"`
		PeakViewerCount int `json:"peakViewerCount"`
	} `json:"stats"`
}

func (a *api) stats(id uint64) (current, peak int) {
	var s statsJSON
	if c := a.do("GET", fmt.Sprintf("/video-rooms/%d", id), nil, &s); c != 200 {
		a.t.Fatalf("GET room: %d", c)
	}
	return s.Stats.ViewerCount, s.Stats.PeakViewerCount
}

// waitViewers waits until the room JSON's viewerCount is within ±1 of want.
func (a *api) waitViewers(id uint64, want int, d time.Duration) (current, peak int) {
	a.t.Helper()
	eventually(a.t, d, fmt.Sprintf("viewerCount %d±1", want), func() bool {
		current, peak = a.stats(id)
		return current >= want-1 && current <= want+1
	})
	return current, peak
}

// streamingToken logs member user in and returns its streaming token.
func (a *api) streamingToken(user string) string {
	a.t.Helper()
	if code := a.do("POST", "/members", map[string]any{"appUserId": user}, nil); code >= 300 {
		a.t.Fatalf("create member %s: %d", user, code)
	}
	var tok struct{ StreamingToken string }
	if code := a.do("POST", "/members/"+user+"/tokens", map[string]any{}, &tok); code >= 300 || tok.StreamingToken == "" {
		a.t.Fatalf("token of %s: %d", user, code)
	}
	return tok.StreamingToken
}

// hlsPoller is a lightweight live HLS viewer: it reads the multivariant
// playlist, then every second the first variant's media playlist and its newest
// segment when it changed, until stopped.
type hlsPoller struct {
	url      string // the multivariant playlist, with the token
	client   *http.Client
	requests atomic.Int64
	failures atomic.Int64
	last     atomic.Int64 // unix nanoseconds of the last request sent
}

var uriLine = regexp.MustCompile(`(?m)^[^#\s].*$`)

func (p *hlsPoller) get(ctx context.Context, u string) []byte {
	p.last.Store(time.Now().UnixNano())
	p.requests.Add(1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			p.failures.Add(1)
		}
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		if ctx.Err() == nil {
			p.failures.Add(1)
		}
		return nil
	}
	return b
}

func (p *hlsPoller) run(ctx context.Context) {
	base, _ := url.Parse(p.url)
	var variant *url.URL
	lastSeg := ""
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if variant == nil {
			if uris := uriLine.FindAll(p.get(ctx, p.url), -1); len(uris) > 0 {
				variant, _ = base.Parse(string(uris[0]))
			}
		} else if uris := uriLine.FindAll(p.get(ctx, variant.String()), -1); len(uris) > 0 {
			if seg := string(uris[len(uris)-1]); seg != lastSeg {
				lastSeg = seg
				if u, err := variant.Parse(seg); err == nil {
					p.get(ctx, u.String())
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ffmpegRTMPPlayer plays an RTMP URL with ffmpeg, discarding what it gets, until
// the returned func stops it (and waits).
func ffmpegRTMPPlayer(t *testing.T, u string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", u, "-c", "copy", "-f", "null", "-")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start ffmpeg: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cmd.Wait() // killed by stop
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// gauge returns the roomcast_room_viewers line of room in /metrics, "" when
// absent.
func (a *api) gauge(room string) string {
	a.t.Helper()
	_, body := get(a.t, a.base+"/metrics", "", "")
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, `roomcast_room_viewers{room="`+room+`"}`) {
			return line
		}
	}
	return ""
}

// TestConcurrentViewers counts the viewers of a real RTMP-published room
// (mode=RTMP_CMAF): none, one real player (gohlslib's client), 50 HLS viewers
// with their own member tokens, 5 RTMP relay players (ffmpeg); viewers that stop
// drop out 30 s after their last request, RTMP players when they disconnect;
// the peak stays with the room after the end and a restart.
func TestConcurrentViewers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := testConfig(t, dir)
	s := startServer(t, c)
	defer func() { s.Close() }()
	a := newAPI(t, s, dir)
	b := newBroadcast(t, a, s.RTMPAddr(), "host")
	p := publish(t, strings.Replace(b.rtmp, "mode=CMAF", "mode=RTMP_CMAF", 1), b.key)
	eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key("host").StreamKeyState == "ACTIVE" })
	var r roomJSON
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, &r); code != 200 {
		t.Fatalf("start: %d", code)
	}
	hlsURL := func(token string) string {
		return regexp.MustCompile(`^https?://[^/]+`).ReplaceAllString(str(r.HLS), a.base) + "?streamingToken=" + token
	}
	rtmpURL := strings.Replace(str(r.RTMP), "rtmp://localhost:1935", "rtmp://"+s.RTMPAddr(), 1)

	// 0 viewers: the live room is sampled (its gauge series exists) and shows 0.
	eventually(t, 10*time.Second, "the room's gauge", func() bool { return a.gauge(b.uuid) != "" })
	if cur, peak := a.stats(b.id); cur != 0 || peak != 0 {
		t.Fatalf("no viewer: viewerCount %d peak %d", cur, peak)
	}

	// 1 viewer: gohlslib's client plays the live stream.
	player := &gohlslib.Client{URI: hlsURL(a.streamingToken("viewer-0")),
		OnDownloadPrimaryPlaylist: func(string) {}, OnDownloadStreamPlaylist: func(string) {},
		OnDownloadSegment: func(string) {}, OnDownloadPart: func(string) {}, OnDecodeError: func(error) {}}
	player.OnTracks = func([]*gohlslib.Track) error { return nil }
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	a.waitViewers(b.id, 1, 20*time.Second)

	// 50 more: HTTP pollers with 50 member tokens.
	ctx, stopPollers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		stopPollers()
		wg.Wait()
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	pollStart := time.Now()
	pollers := make([]*hlsPoller, 50)
	for i := range pollers {
		pollers[i] = &hlsPoller{url: hlsURL(a.streamingToken(fmt.Sprintf("viewer-%d", i+1))), client: client}
		wg.Go(func() { pollers[i].run(ctx) })
	}
	a.waitViewers(b.id, 51, 30*time.Second)

	// 5 RTMP relay players (one member: players count by connection).
	rtmpToken := a.streamingToken("rtmp-viewer")
	var stopRTMP []func()
	for range 5 {
		stopRTMP = append(stopRTMP, ffmpegRTMPPlayer(t, rtmpURL+"?streamingToken="+rtmpToken))
	}
	cur, peak := a.waitViewers(b.id, 56, 30*time.Second)
	// Everyone keeps watching for a whole window: the count stays at 56±1 (a
	// count per request or per connection of the pollers would climb past it).
	eventually(t, 60*time.Second, "a window of watching", func() bool {
		if cur, _ = a.stats(b.id); cur < 55 || cur > 57 {
			t.Fatalf("viewerCount %d while 56 watch", cur)
		}
		return time.Since(pollStart) > 35*time.Second
	})
	t.Logf("1 gohlslib player + 50 HLS pollers + 5 RTMP players: viewerCount %d, peak %d", cur, peak)
	if g := a.gauge(b.uuid); !strings.HasSuffix(g, " 55") && !strings.HasSuffix(g, " 56") && !strings.HasSuffix(g, " 57") {
		t.Errorf("gauge %q, want 56±1", g)
	}
	// The player page's state shows the same count.
	var ws struct {
		ViewerCount int `json:"viewerCount"`
	}
	resp, body := httpGet(t, a.base+"/watch/"+b.uuid+"/state?streamingToken="+b.token, nil)
	if err := json.Unmarshal(body, &ws); resp.StatusCode != 200 || err != nil || ws.ViewerCount < 55 || ws.ViewerCount > 57 {
		t.Errorf("/watch state: %d %s, want viewerCount 56±1", resp.StatusCode, body)
	}

	// The HLS viewers stop: they drop out 30 s after their last request.
	player.Close()
	stopPollers()
	wg.Wait()
	var lastReq int64
	for _, pl := range pollers {
		if pl.failures.Load() > 0 || pl.requests.Load() < 3 {
			t.Errorf("poller: %d requests, %d failed", pl.requests.Load(), pl.failures.Load())
		}
		lastReq = max(lastReq, pl.last.Load())
	}
	eventually(t, 60*time.Second, "HLS viewers dropped out, the 5 RTMP players remain", func() bool {
		cur, _ = a.stats(b.id)
		return cur == 5
	})
	// (the count is exact below 1024 viewers, to the 1 s tick of the sampler)
	if since := time.Since(time.Unix(0, lastReq)); since < 29*time.Second {
		t.Fatalf("HLS viewers dropped out %v after their last request, before 30 s", since)
	}
	for _, stop := range stopRTMP {
		stop()
	}
	eventually(t, 10*time.Second, "RTMP players gone", func() bool {
		cur, _ = a.stats(b.id)
		return cur == 0
	})

	// The end: viewerCount 0, the peak kept (stored), the gauge series removed.
	_, peak = a.stats(b.id)
	if peak < 55 || peak > 57 {
		t.Fatalf("peak %d, want 56±1", peak)
	}
	p.stop()
	eventually(t, 10*time.Second, "LIVE_INACTIVE", func() bool { return a.room(b.id).VideoRoomState == "LIVE_INACTIVE" })
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", b.id), nil, nil); code != 200 {
		t.Fatalf("end: %d", code)
	}
	if cur, p := a.stats(b.id); cur != 0 || p != peak {
		t.Fatalf("ended: viewerCount %d peak %d, want 0 and %d", cur, p, peak)
	}
	if g := a.gauge(b.uuid); g != "" {
		t.Fatalf("gauge series of an ended room: %q", g)
	}
	s.Close()
	s = startServer(t, c) // the same data directory
	a = newAPI(t, s, dir)
	if cur, p := a.stats(b.id); cur != 0 || p != peak {
		t.Fatalf("after restart: viewerCount %d peak %d, want 0 and %d", cur, p, peak)
	}
}
