//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	appKey    = "e2e-key"
	appSecret = "e2e-secret-0123456789"
)

// instance is a running roomcast binary.
type instance struct {
	httpURL string
	rtmpURL string
	cmd     *exec.Cmd
	logs    *bytes.Buffer
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startServer(t *testing.T) *instance {
	t.Helper()
	bin, err := filepath.Abs("../bin/roomcast")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make build` (make e2e does)", bin)
	}
	hp, rp := freePort(t), freePort(t)
	in := &instance{
		httpURL: fmt.Sprintf("http://127.0.0.1:%d", hp),
		rtmpURL: fmt.Sprintf("rtmp://127.0.0.1:%d", rp),
		logs:    &bytes.Buffer{},
	}
	in.cmd = exec.Command(bin,
		"--data", t.TempDir(),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", hp),
		"--rtmp-addr", fmt.Sprintf("127.0.0.1:%d", rp),
		"--public-http-url", in.httpURL,
		"--public-rtmp-url", in.rtmpURL,
		"--part-duration", "200ms", "--segment-duration", "1s")
	in.cmd.Env = append(os.Environ(), "ROOMCAST_APP_KEY="+appKey, "ROOMCAST_APP_SECRET="+appSecret)
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = in.cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- in.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("roomcast exited with %v", err)
			}
		case <-time.After(15 * time.Second):
			_ = in.cmd.Process.Kill()
			t.Errorf("roomcast did not stop within 15 s of SIGINT")
		}
		if t.Failed() {
			t.Logf("server logs:\n%s", in.logs.String())
		}
	})
	waitFor(t, 10*time.Second, "server ready", func() bool {
		resp, err := http.Get(in.httpURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return in
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// api calls the App API and decodes the JSON answer into out (if not nil).
func (in *instance) api(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.httpURL+"/v2/apps/me"+path, rd)
	req.SetBasicAuth(appKey, appSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s → %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// publishLikeOBS starts ffmpeg with the settings OBS uses (REAL-CLIENTS.md).
func publishLikeOBS(t *testing.T, url string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
		"-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-f", "flv", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("ffmpeg: %s", stderr.String())
		}
	})
	return cmd
}

type room struct {
	VODState        string  `json:"vodState"`
	VODURL          *string `json:"vodUrl"`
	ID              uint64  `json:"id"`
	UUID            string  `json:"uuid"`
	VideoRoomState  string  `json:"videoRoomState"`
	PlayURL         *string `json:"playUrl"`
	CmafHlsPlayURL  *string `json:"cmafHlsPlayUrl"`
	CmafDashPlayURL *string `json:"cmafDashPlayUrl"`
	RTMPPlayURL     *string `json:"rtmpPlayUrl"`
	LastSessionNo   int     `json:"lastSessionNo"`
}

func TestBrowserPlayback(t *testing.T) {
	for _, tool := range []string{"ffmpeg", "ffprobe", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (.ci/run installs it)", tool)
		}
	}
	in := startServer(t)

	var key struct {
		StreamKey      string `json:"streamKey"`
		StreamKeyState string `json:"streamKeyState"`
		IngestURL      string `json:"ingestUrl"`
	}
	if c := in.api(t, "POST", "/members", map[string]any{"appUserId": "host", "appUserName": "Host"}, nil); c >= 300 {
		t.Fatalf("create member: %d", c)
	}
	in.api(t, "GET", "/members/host/stream-key", nil, &key)
	var r room
	if c := in.api(t, "POST", "/video-rooms", map[string]any{
		"appUserId": "host", "type": "BROADCAST_RTMP", "title": "E2E broadcast",
		"scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}, &r); c != 201 && c != 200 {
		t.Fatalf("create room: %d", c)
	}

	pub := publishLikeOBS(t, key.IngestURL+"/"+key.StreamKey+"?mode=CMAF")
	waitFor(t, 15*time.Second, "stream key ACTIVE", func() bool {
		in.api(t, "GET", "/members/host/stream-key", nil, &key)
		return key.StreamKeyState == "ACTIVE"
	})
	if c := in.api(t, "POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", r.ID), nil, &r); c >= 300 {
		t.Fatalf("start: %d", c)
	}
	if r.VideoRoomState != "LIVE" || r.CmafHlsPlayURL == nil || r.CmafDashPlayURL == nil {
		t.Fatalf("room after start: %+v", r)
	}
	var tok struct {
		StreamingToken string `json:"streamingToken"`
	}
	in.api(t, "POST", "/members/host/tokens", map[string]any{}, &tok)
	hlsURL := *r.CmafHlsPlayURL + "?streamingToken=" + tok.StreamingToken
	dashURL := *r.CmafDashPlayURL + "?streamingToken=" + tok.StreamingToken
	watchURL := in.httpURL + "/watch/" + r.UUID + "?streamingToken=" + tok.StreamingToken

	t.Run("ffprobe", func(t *testing.T) {
		for name, u := range map[string]string{"hls": hlsURL, "dash": dashURL} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries",
				"stream=codec_name,width,height", "-of", "compact", u).CombinedOutput()
			cancel()
			if err != nil {
				t.Errorf("ffprobe %s: %v\n%s", name, err, out)
				continue
			}
			s := string(out)
			if !strings.Contains(s, "codec_name=h264") || !strings.Contains(s, "codec_name=aac") || !strings.Contains(s, "width=640") {
				t.Errorf("ffprobe %s: want h264 640x360 + aac, got\n%s", name, s)
			}
			t.Logf("ffprobe %s: %s", name, strings.ReplaceAll(strings.TrimSpace(s), "\n", " | "))
		}
	})

	t.Run("browsers", func(t *testing.T) {
		runPlayers(t, "--hls", hlsURL, "--dash", dashURL, "--watch", watchURL)
	})

	// The player page follows the broadcast: drop, resume (new session URL), end (VOD).
	t.Run("player page follows drop, resume and end", func(t *testing.T) {
		f := startFollower(t, watchURL)
		f.waitFor(t, 20*time.Second, "page playing session 1", func(s pageState) bool {
			return s.State == "LIVE" && strings.Contains(s.URL, "/1/") && s.CurrentTime > 1
		})
		stopPublisher(pub)
		f.waitFor(t, 20*time.Second, "page paused", func(s pageState) bool { return s.State == "LIVE_INACTIVE" })
		pub = publishLikeOBS(t, key.IngestURL+"/"+key.StreamKey+"?mode=CMAF")
		f.waitFor(t, 30*time.Second, "page playing session 2", func(s pageState) bool {
			return s.State == "LIVE" && strings.Contains(s.URL, "/2/") && s.CurrentTime > 1
		})
		stopPublisher(pub)
		waitFor(t, 15*time.Second, "room LIVE_INACTIVE", func() bool {
			in.api(t, "GET", fmt.Sprintf("/video-rooms/%d", r.ID), nil, &r)
			return r.VideoRoomState == "LIVE_INACTIVE"
		})
		if c := in.api(t, "POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", r.ID), nil, &r); c >= 300 {
			t.Fatalf("end: %d", c)
		}
		waitFor(t, 15*time.Second, "VOD archived", func() bool {
			in.api(t, "GET", fmt.Sprintf("/video-rooms/%d", r.ID), nil, &r)
			return r.VODState == "ARCHIVED" && r.VODURL != nil
		})
		f.waitFor(t, 30*time.Second, "page playing the VOD", func(s pageState) bool {
			return s.State == "ENDED" && strings.Contains(s.URL, "/vod/") && s.CurrentTime > 1
		})
		f.close(t)
	})

	t.Run("vod", func(t *testing.T) {
		if r.VODURL == nil {
			t.Skip("no VOD (previous subtest failed)")
		}
		vodHLS := *r.VODURL + "?streamingToken=" + tok.StreamingToken
		vodDASH := strings.TrimSuffix(*r.VODURL, "index.m3u8") + "index.mpd?streamingToken=" + tok.StreamingToken
		runPlayers(t, "--vod-hls", vodHLS, "--vod-dash", vodDASH)
	})
}

// runPlayers runs play.mjs with args and checks every result it prints.
func runPlayers(t *testing.T, args ...string) {
	t.Helper()
	{
		shots, _ := filepath.Abs("out")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", append([]string{"play.mjs", "--shots", shots, "--seconds", "10"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("play.mjs: %v\n%s", err, stderr.String())
		}
		var results []map[string]any
		if err := json.Unmarshal(out, &results); err != nil {
			t.Fatalf("play.mjs output %q: %v", out, err)
		}
		for _, res := range results {
			kind := res["kind"]
			b, _ := json.Marshal(res)
			t.Logf("%s: %s", kind, b)
			if kind == "watch" {
				if ct, _ := res["currentTime"].(float64); ct <= 1 {
					t.Errorf("player page did not play (currentTime %v)", ct)
				}
				if errs, _ := res["errors"].([]any); len(errs) > 0 {
					t.Errorf("player page errors: %v", errs)
				}
				continue
			}
			if adv, _ := res["advanced"].(float64); adv <= 2 {
				t.Errorf("%s: currentTime advanced %.2f s, want > 2 s", kind, adv)
			}
			if kind == "hls" || kind == "dash" {
				t.Logf("%s live latency: median %v s", kind, res["latencyMedian"])
			}
			if w, _ := res["videoWidth"].(float64); w != 640 {
				t.Errorf("%s: videoWidth %v, want 640", kind, w)
			}
			if a, _ := res["audioBytes"].(float64); a <= 0 {
				t.Errorf("%s: no audio decoded", kind)
			}
			if sd, _ := res["pixelStd"].(float64); sd <= 5 {
				t.Errorf("%s: frame is flat (pixel std %.1f)", kind, sd)
			}
			if errs, _ := res["errors"].([]any); len(errs) > 0 {
				t.Errorf("%s: player errors %v", kind, errs)
			}
		}
	}
}

// pageState is one line of play.mjs --follow: what the player page shows.
type pageState struct {
	State       string   `json:"state"`
	URL         string   `json:"url"`
	CurrentTime float64  `json:"currentTime"`
	VideoWidth  int      `json:"videoWidth"`
	Errors      []string `json:"errors"`
	PageErrors  []string `json:"pageErrors"`
}

// follower is a headless Chromium tab on the player page.
type follower struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	states chan pageState
	last   pageState

	mu       sync.Mutex
	played   float64        // seconds of media the page played, summed over sessions
	sessions map[string]int // play URL → number of states seen playing it
}

// count adds the media time the page advanced since the previous state of the same
// play URL (at most 3 s a step: a seek is not playing).
func (f *follower) count(prev, s pageState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.URL != "" && s.CurrentTime > 0 {
		f.sessions[s.URL]++
	}
	if d := s.CurrentTime - prev.CurrentTime; s.URL != "" && s.URL == prev.URL && d > 0 && d < 3 {
		f.played += d
	}
}

// playedSeconds is the media time the page has played so far and on how many play
// URLs (sessions or the VOD).
func (f *follower) playedSeconds() (float64, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.played, len(f.sessions)
}

func startFollower(t *testing.T, watchURL string) *follower {
	t.Helper()
	shots, _ := filepath.Abs("out")
	cmd := exec.Command("node", "play.mjs", "--follow", watchURL, "--shots", shots)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &follower{cmd: cmd, stdin: stdin, states: make(chan pageState, 4096), sessions: map[string]int{}}
	go func() {
		defer close(f.states)
		dec := json.NewDecoder(stdout)
		var prev pageState
		for {
			var s pageState
			if err := dec.Decode(&s); err != nil {
				return
			}
			f.count(prev, s)
			prev = s
			select {
			case f.states <- s:
			default: // nobody is waiting on states: counting is enough
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("follower stderr: %s", stderr.String())
		}
	})
	return f
}

// waitFor reads page states until ok or the deadline.
func (f *follower) waitFor(t *testing.T, d time.Duration, what string, ok func(pageState) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case s, open := <-f.states:
			if !open {
				t.Fatalf("player page closed while waiting for %s (last %+v)", what, f.last)
			}
			f.last = s
			if len(s.PageErrors) > 0 {
				t.Errorf("player page errors: %v", s.PageErrors)
			}
			if ok(s) {
				t.Logf("%s: %+v", what, s)
				return
			}
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s (last %+v)", d, what, f.last)
		}
	}
}

func (f *follower) close(t *testing.T) {
	_ = f.stdin.Close()
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("follower did not exit after stdin closed")
	}
}

func stopPublisher(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}
