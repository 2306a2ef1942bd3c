//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// dashSeconds is how much media each DASH player must play.
const dashSeconds = 20

// gstPosition follows `gst-launch-1.0 -v` output: the PTS of each buffer the video
// fakesink (name vsink, sync=true: in real time) renders.
type gstPosition struct {
	mu              sync.Mutex
	first, last     time.Duration
	firstAt, lastAt time.Time
	buffers         int
}

var vsinkPTS = regexp.MustCompile(`\(vsink:sink\).*?pts: (\d+):(\d+):(\d+(?:\.\d+)?)`)

func (g *gstPosition) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := vsinkPTS.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		s, _ := strconv.ParseFloat(m[3], 64)
		pts := time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s*float64(time.Second))
		g.mu.Lock()
		if g.buffers == 0 {
			g.first, g.firstAt = pts, time.Now()
		}
		g.last, g.lastAt = pts, time.Now()
		g.buffers++
		g.mu.Unlock()
	}
}

// played returns the media time rendered (last − first PTS), the last PTS and when
// it was rendered.
func (g *gstPosition) played() (played, last time.Duration, at time.Time, buffers int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last - g.first, g.last, g.lastAt, g.buffers
}

// dashResult is what one DASH player did.
type dashResult struct {
	name     string
	played   float64 // seconds of media played
	wall     float64 // seconds from start to the end of play
	edgeLag  float64 // the player's own or derived distance to the live edge, seconds
	requests string
	n404     int
	dups     int
	redo     int           // of dups, immediate re-downloads (countingProxy.duplicates)
	took     time.Duration // median segment request duration
	gap      time.Duration // median gap between video segment requests
	behind   [3]float64    // median segments, median seconds, last seconds behind the edge when requesting
	errs     []string
}

func (r dashResult) report(t *testing.T) {
	t.Helper()
	t.Logf("E2E-REPORT dash_player=%s play_seconds=%.2f wall_seconds=%.1f edge_lag_seconds=%.2f "+
		"request_behind_edge_segments_median=%.1f request_behind_edge_seconds_median=%.2f request_behind_edge_seconds_last=%.2f "+
		"segment_request_ms_median=%d video_request_gap_ms_median=%d requests_404=%d duplicate_segment_downloads=%d immediate_redownloads=%d requests=%q",
		r.name, r.played, r.wall, r.edgeLag, r.behind[0], r.behind[1], r.behind[2],
		r.took.Milliseconds(), r.gap.Milliseconds(), r.n404, r.dups, r.redo, r.requests)
}

// GStreamer publishes (rtmp2sink) a CMAF broadcast; it goes LIVE and plays over HLS;
// then GStreamer's dashdemux2 (playbin3), ffmpeg, dash.js and Shaka Player (both in
// low-latency mode, in Chromium) play its live DASH from the live edge, each through
// its own counting proxy.
func TestGStreamerPublishAndDASHPlayers(t *testing.T) {
	requireTools(t, "gst-launch-1.0", "ffmpeg", "ffprobe", "node")
	in := startServer(t)
	b := newBroadcast(t, in, "gst", "CMAF")
	b.publish(t, gstPublisher)
	if b.room.CmafHlsPlayURL == nil || b.room.CmafDashPlayURL == nil {
		t.Fatalf("CMAF room without play URLs: %+v", b.room)
	}
	ffprobeStreams(t, "gstreamer-published hls", *b.room.CmafHlsPlayURL+"?streamingToken="+b.token)

	mpd := *b.room.CmafDashPlayURL + "?streamingToken=" + b.token
	edge := watchEdge(t, mpd)
	before := in.playbackRequests(t)
	players := []struct {
		name string
		play func(*testing.T, string, *edgeWatcher) dashResult
	}{
		{"gstreamer", playDASHGStreamer},
		{"ffmpeg", playDASHFFmpeg},
	}
	results := make([]dashResult, len(players))
	proxies := make([]*countingProxy, len(players))
	var wg sync.WaitGroup
	for i, p := range players {
		proxies[i] = newCountingProxy(t, in.httpURL)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = p.play(t, proxies[i].url(in.httpURL, mpd), edge)
		}()
	}
	llProxy, shakaProxy := newCountingProxy(t, in.httpURL), newCountingProxy(t, in.httpURL)
	browser := playDASHBrowsers(t, llProxy.url(in.httpURL, mpd), shakaProxy.url(in.httpURL, mpd))
	wg.Wait()
	results = append(results, browser...)
	proxies = append(proxies, llProxy, shakaProxy)

	for i := range results {
		r := &results[i]
		r.requests, r.n404 = proxies[i].summary()
		r.dups, r.redo = proxies[i].duplicates()
		r.took, r.gap = proxies[i].segmentTimes()
		segs, secs, last, _ := edge.behind(proxies[i].requests())
		r.behind = [3]float64{segs, secs, last}
		r.report(t)
		// gst-launch and ffmpeg stop after dashSeconds of media; the browsers are
		// measured over dashSeconds of wall time after their first frame.
		want := float64(dashSeconds - 1)
		if r.name == "dash.js" || r.name == "shaka" {
			want = dashSeconds * 3 / 4
		}
		if r.played < want {
			t.Errorf("%s played %.1f s of live DASH in %.1f s, want ≥ %.0f s", r.name, r.played, r.wall, want)
		}
		if len(r.errs) > 0 {
			t.Errorf("%s: %v", r.name, r.errs)
		}
		if dups, ok := checkedDuplicates(*r); ok && dups > 2 {
			t.Errorf("%s downloaded media segments %d times more than once (and got %d 404s): a live player fetches each segment once; requests:%s",
				r.name, dups, r.n404, proxies[i].dump())
		}
	}
	after := in.playbackRequests(t)
	t.Logf("E2E-REPORT dash_server_requests code_200=%.0f code_404=%.0f (all four players and the edge watcher, roomcast_playback_requests_total)",
		after["200"]-before["200"], after["404"]-before["404"])
}

// checkedDuplicates returns the duplicate segment downloads the server is
// answerable for, and whether they are checked for that player at all.
//
//   - ffmpeg (5.1 to 7, libavformat/dashdec.c) is not checked: before each segment
//     of a live SegmentTimeline it reloads the MPD and takes the position of the
//     segment it wants in the new timeline, counted from the first S element
//     without @startNumber (calc_next_seg_no_from_timelines in refresh_manifest),
//     as the $Number$ it asks for; get_segment_start_time_based_on_timeline reads
//     that number back as a position. Once the live window slides (@startNumber
//     > 0) it asks again for segments of the window it already has: the request
//     dump shows runs like d5 d6 d7 d6 d7 d8 d9, each after an MPD request. Only
//     a timeline that starts at $Number$ 0 and never slides would avoid it, and
//     dashdec starts 60 s before the end of such a listing.
//   - GStreamer's dashdemux2 sometimes fetches a video segment it has just had
//     again at once (immediate re-downloads: identical 200 answer, no MPD request
//     in between); those are its own and not counted.
func checkedDuplicates(r dashResult) (int, bool) {
	switch r.name {
	case "ffmpeg":
		return r.dups, false
	case "gstreamer":
		return r.dups - r.redo, true
	}
	return r.dups, true
}

// playDASHGStreamer plays with playbin3 (dashdemux2) into synchronised fakesinks until
// dashSeconds of video are rendered (rebuffering included). The edge lag is (now − availabilityStartTime) −
// the PTS rendered now: GStreamer timestamps DASH buffers with the period's
// presentation time.
func playDASHGStreamer(t *testing.T, mpd string, edge *edgeWatcher) dashResult {
	r := dashResult{name: "gstreamer"}
	pos := &gstPosition{}
	start := time.Now()
	// GStreamer 1.22's dashdemux2 waits for 30 s of media (its high watermark) before it
	// leaves buffering, and gst-launch pauses while buffering: a live stream played
	// from near its edge never gets there. A live player sets 2–4 s watermarks, here
	// through playbin3's child proxy (the element names are gst's own defaults).
	const demux = "uridecodebin3::urisourcebin0::dashdemux2-0::"
	p := startProc(t, pos, "gst-launch-1.0", "-v", "playbin3", "uri="+mpd,
		demux+"low-watermark-time=2000000000", demux+"high-watermark-time=4000000000",
		`video-sink=fakesink name=vsink sync=true silent=false`, `audio-sink=fakesink sync=true`)
	deadline := time.Now().Add(dashSeconds*time.Second + 40*time.Second)
	for time.Now().Before(deadline) && !p.exited() {
		if played, _, _, _ := pos.played(); played >= dashSeconds*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	played, last, at, buffers := pos.played()
	r.played, r.wall = played.Seconds(), time.Since(start).Seconds()
	if ast := edge.availabilityStart(); !ast.IsZero() && buffers > 0 {
		r.edgeLag = at.Sub(ast).Seconds() - last.Seconds()
	}
	if p.exited() {
		r.errs = append(r.errs, fmt.Sprintf("gst-launch exited (%v) after %d video buffers: %s", p.err, buffers, tail(p.stderr.String(), 500)))
	}
	p.kill()
	return r
}

// playDASHFFmpeg runs `ffmpeg -i URL.mpd -t 20 -f null -`. ffmpeg reads as fast as
// segments are available, so the media it gets at once (out_time − the wall time it
// spent after its first output) is how far behind the live edge it started.
func playDASHFFmpeg(t *testing.T, mpd string, _ *edgeWatcher) dashResult {
	r := dashResult{name: "ffmpeg"}
	start := time.Now()
	p := startProc(t, &progress{}, "ffmpeg", "-nostdin", "-loglevel", "error", "-i", mpd,
		"-t", strconv.Itoa(dashSeconds), "-f", "null", "-progress", "pipe:1", "-stats_period", "0.5", "-")
	// ffmpeg 5.1 may ignore SIGTERM as a live DASH player (REAL-CLIENTS.md): kill it.
	if !p.waitExit(dashSeconds*time.Second + 40*time.Second) {
		r.errs = append(r.errs, "ffmpeg did not finish in time")
	}
	p.kill()
	out, first, last, _ := p.prog.snapshot()
	r.played, r.wall = out.Seconds(), time.Since(start).Seconds()
	if !first.IsZero() {
		r.edgeLag = out.Seconds() - last.Sub(first).Seconds()
	}
	return r
}

// playDASHBrowsers plays the MPD with dash.js (low-latency settings) and Shaka Player
// (lowLatencyMode) in headless Chromium (play.mjs), one after the other, and reports
// the players' own latency.
func playDASHBrowsers(t *testing.T, llURL, shakaURL string) []dashResult {
	shots, _ := filepath.Abs("out")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "play.mjs", "--shots", shots, "--seconds", strconv.Itoa(dashSeconds),
		"--dash-ll", llURL, "--shaka", shakaURL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		e := fmt.Sprintf("play.mjs: %v: %s", err, tail(stderr.String(), 1000))
		return []dashResult{{name: "dash.js", errs: []string{e}}, {name: "shaka", errs: []string{e}}}
	}
	var res []struct {
		Kind          string   `json:"kind"`
		Advanced      float64  `json:"advanced"`
		WallMs        float64  `json:"wallMs"`
		VideoWidth    int      `json:"videoWidth"`
		LatencyMedian *float64 `json:"latencyMedian"`
		LatencyLast   *float64 `json:"latencyLast"`
		Errors        []any    `json:"errors"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 2 {
		e := fmt.Sprintf("play.mjs output %q: %v", out, err)
		return []dashResult{{name: "dash.js", errs: []string{e}}, {name: "shaka", errs: []string{e}}}
	}
	var rs []dashResult
	for i, name := range []string{"dash.js", "shaka"} {
		p := res[i]
		r := dashResult{name: name, played: p.Advanced, wall: p.WallMs / 1000}
		if p.LatencyMedian != nil {
			r.edgeLag = *p.LatencyMedian
		}
		last := "null"
		if p.LatencyLast != nil {
			last = strconv.FormatFloat(*p.LatencyLast, 'f', 2, 64)
		}
		t.Logf("E2E-REPORT dash_player=%s latency_median_seconds=%.2f latency_last_seconds=%s (player's own: %s)",
			name, r.edgeLag, last, map[string]string{"dash.js": "getCurrentLiveLatency()", "shaka": "getStats().liveLatency"}[name])
		if p.VideoWidth != 640 {
			r.errs = append(r.errs, fmt.Sprintf("videoWidth %d, want 640", p.VideoWidth))
		}
		for _, e := range p.Errors {
			r.errs = append(r.errs, fmt.Sprint(e))
		}
		rs = append(rs, r)
	}
	return rs
}
