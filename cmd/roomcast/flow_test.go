package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomcast/roomcast/cmd/roomcast-load/load"
)

// api is an App API client of one running server.
type api struct {
	t              *testing.T
	base           string
	apiKey, secret string
	client         *http.Client // nil: http.DefaultClient
}

func newAPI(t *testing.T, s *server, dir string) *api {
	creds := readCredentials(t, dir)
	return &api{t: t, base: "http://" + s.HTTPAddr(), apiKey: creds.APIKey, secret: creds.APISecret}
}

func (a *api) do(method, path string, body any, out any) int {
	a.t.Helper()
	code, err := a.request(method, "/v2/apps/me"+path, body, out)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	return code
}

// request sends a request with the app's basic auth to path (from the server's
// root) and decodes the answer into out. It fails nothing: a transport error or an
// undecodable body is returned, as a real client sees it.
func (a *api) request(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(a.apiKey, a.secret)
	req.Header.Set("Content-Type", "application/json")
	client := a.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%q: %w", data, err)
		}
	}
	return resp.StatusCode, nil
}

type roomJSON struct {
	ID             uint64  `json:"id"`
	UUID           string  `json:"uuid"`
	VideoRoomState string  `json:"videoRoomState"`
	VODState       string  `json:"vodState"`
	LastSessionNo  int     `json:"lastSessionNo"`
	PlayURL        *string `json:"playUrl"`
	LiveURL        *string `json:"liveUrl"`
	HLS            *string `json:"cmafHlsPlayUrl"`
	DASH           *string `json:"cmafDashPlayUrl"`
	RTMP           *string `json:"rtmpPlayUrl"`
	StreamKey      *struct {
		StreamKeyState string `json:"streamKeyState"`
	} `json:"streamKey"`
}

type keyJSON struct {
	StreamKey      string `json:"streamKey"`
	StreamKeyState string `json:"streamKeyState"`
	IngestURL      string `json:"ingestUrl"`
}

func (a *api) room(id uint64) roomJSON {
	var r roomJSON
	if c := a.do("GET", fmt.Sprintf("/video-rooms/%d", id), nil, &r); c != 200 {
		a.t.Fatalf("GET room: %d", c)
	}
	return r
}

func (a *api) key(user string) keyJSON {
	var k keyJSON
	if c := a.do("GET", "/members/"+user+"/stream-key", nil, &k); c != 200 {
		a.t.Fatalf("GET stream key: %d", c)
	}
	return k
}

func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publisher replays testdata/h264_aac.flv at real time (looping) with the load
// tool's go-rtmp publisher until stopped.
type publisher struct {
	cancel context.CancelFunc
	done   chan struct{}
	report *load.Report
	err    error
	ended  atomic.Int64 // publishes that ended (refused or dropped) while running
}

// endedHandler sends the load tool's log to the test's log and counts the
// publishes that ended ("publish ended": refused, or dropped by the server).
type endedHandler struct {
	slog.Handler
	ended *atomic.Int64
}

func (h endedHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "publish ended" {
		h.ended.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h endedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return endedHandler{h.Handler.WithAttrs(as), h.ended}
}

func (h endedHandler) WithGroup(name string) slog.Handler {
	return endedHandler{h.Handler.WithGroup(name), h.ended}
}

func publish(t *testing.T, url, key string) *publisher {
	t.Helper()
	return startPublisher(t, url, key, 0)
}

// startPublisher starts a publisher that, with reconnect > 0, reconnects that long
// after its connection is dropped or refused, as OBS does.
func startPublisher(t *testing.T, url, key string, reconnect time.Duration) *publisher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{cancel: cancel, done: make(chan struct{})}
	r := &load.Runner{Config: load.DefaultConfig()}
	r.Log = slog.New(endedHandler{slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}), &p.ended})
	r.Config.File = "../../testdata/h264_aac.flv"
	r.Config.PublishURL = url
	r.Config.Keys = []string{key}
	r.Config.Streams = 1
	r.Config.Duration = 0
	r.Config.Progress = 0
	r.Config.Reconnect = reconnect
	go func() {
		defer close(p.done)
		p.report, p.err = r.Run(ctx)
	}()
	t.Cleanup(p.stop)
	return p
}

var stopMu sync.Mutex

// stop unpublishes like OBS and waits for the report.
func (p *publisher) stop() {
	stopMu.Lock()
	defer stopMu.Unlock()
	p.cancel()
	<-p.done
}

func str(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// TestBroadcastFlowOverRTMP drives the broadcast flow through the real wiring: a real RTMP
// publisher, the REST API, and the packager's playlists.
func TestBroadcastFlowOverRTMP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := testConfig(t, dir)
	c.SegmentDuration = time.Second
	s := startServer(t, c)
	defer s.Close()
	a := newAPI(t, s, dir)
	rtmpBase := "rtmp://" + s.RTMPAddr() + "/live/"
	hooks := newHookReceiver(t)
	hooks.subscribe(a)

	if code := a.do("POST", "/members", map[string]any{"appUserId": "host"}, nil); code >= 300 {
		t.Fatalf("create member: %d", code)
	}
	key := a.key("host")
	var r roomJSON
	if code := a.do("POST", "/video-rooms", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP",
		"title": "flow", "scheduledAt": "2030-01-01T00:00:00Z"}, &r); code != 201 && code != 200 {
		t.Fatalf("create room: %d", code)
	}

	// Start is refused while nothing publishes.
	var apiErr struct{ ErrorCode string }
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", r.ID), nil, &apiErr); code != 400 ||
		apiErr.ErrorCode != "STREAM_KEY_STATE_NOT_ACTIVE" {
		t.Fatalf("start without publisher: %d %s", code, apiErr.ErrorCode)
	}

	// 1. Preview: key ACTIVE, room still SCHEDULED with no play URL.
	p1 := publish(t, rtmpBase+"{key}?mode=CMAF", key.StreamKey)
	eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key("host").StreamKeyState == "ACTIVE" })
	if r = a.room(r.ID); r.VideoRoomState != "SCHEDULED" || r.PlayURL != nil || r.StreamKey != nil {
		t.Fatalf("preview room: %s playUrl %s streamKey %+v", r.VideoRoomState, str(r.PlayURL), r.StreamKey)
	}

	// A second publisher on the same key is refused; the first goes on.
	p2 := publish(t, rtmpBase+"{key}", key.StreamKey)
	eventually(t, 10*time.Second, "second publisher refused", func() bool { return p2.ended.Load() > 0 })
	p2.stop()
	if p2.report == nil || p2.report.Publish.Published != 0 || p2.report.Publish.Refused == 0 {
		t.Fatalf("second publisher not refused: %+v", p2.report)
	}
	// Unknown keys and modes are refused too.
	for _, bad := range []string{rtmpBase + "nope{key}", rtmpBase + "{key}?mode=WEBRTC"} {
		p := publish(t, bad, key.StreamKey)
		eventually(t, 10*time.Second, bad+" refused", func() bool { return p.ended.Load() > 0 })
		p.stop()
		if p.report == nil || p.report.Publish.Published != 0 {
			t.Fatalf("%s accepted", bad)
		}
	}
	if st := a.key("host").StreamKeyState; st != "ACTIVE" {
		t.Fatalf("first publisher disturbed: key %s", st)
	}

	// 2. Start: LIVE, session 1, HLS + DASH URLs (CMAF), playlist plays at once.
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", r.ID), nil, &r); code != 200 {
		t.Fatalf("start: %d", code)
	}
	if r.VideoRoomState != "LIVE" || r.LastSessionNo != 1 || r.HLS == nil || r.DASH == nil || r.RTMP != nil ||
		str(r.PlayURL) != str(r.HLS) || str(r.LiveURL) != str(r.PlayURL) || !strings.HasSuffix(str(r.HLS), "/1/index.m3u8") {
		t.Fatalf("room after start: %+v hls=%s", r, str(r.HLS))
	}
	if st := a.key("host").StreamKeyState; st != "ACTIVE_LIVE" || r.StreamKey == nil || r.StreamKey.StreamKeyState != st {
		t.Fatalf("key after start: %s, room's streamKey %+v", st, r.StreamKey)
	}
	var tok struct{ StreamingToken string }
	a.do("POST", "/members/host/tokens", map[string]any{}, &tok)
	playlist := func(url string) (int, string) {
		url = strings.Replace(url, c.PublicHTTPURL, a.base, 1) // the public URL names :8080
		resp, err := http.Get(url + "?streamingToken=" + tok.StreamingToken)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	eventually(t, 10*time.Second, "session 1 playlist", func() bool {
		code, body := playlist(*r.HLS)
		return code == 200 && strings.Contains(body, "#EXT-X-STREAM-INF")
	})
	if code, body := playlist(*r.DASH); code != 200 || !strings.Contains(body, "<MPD") {
		t.Fatalf("DASH: %d %.200s", code, body)
	}
	hls1 := *r.HLS

	// End is refused while publishing.
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", r.ID), nil, &apiErr); code != 400 ||
		apiErr.ErrorCode != "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE" {
		t.Fatalf("end while live: %d %s", code, apiErr.ErrorCode)
	}

	// 3. Drop: LIVE_INACTIVE, key INACTIVE_LIVE, no play URLs.
	p1.stop()
	eventually(t, 5*time.Second, "room LIVE_INACTIVE", func() bool { return a.room(r.ID).VideoRoomState == "LIVE_INACTIVE" })
	if r = a.room(r.ID); r.PlayURL != nil || r.HLS != nil || r.DASH != nil {
		t.Fatalf("play URLs while LIVE_INACTIVE: %s", str(r.PlayURL))
	}
	if st := a.key("host").StreamKeyState; st != "INACTIVE_LIVE" {
		t.Fatalf("key after drop: %s", st)
	}

	// 4. Resume with the same key: LIVE again by itself, session 2, a new URL.
	p3 := publish(t, rtmpBase+"{key}?mode=CMAF", key.StreamKey)
	eventually(t, 10*time.Second, "room LIVE again", func() bool { return a.room(r.ID).VideoRoomState == "LIVE" })
	r = a.room(r.ID)
	if r.LastSessionNo != 2 || !strings.HasSuffix(str(r.HLS), "/2/index.m3u8") || str(r.HLS) == hls1 {
		t.Fatalf("resumed room: session %d hls %s", r.LastSessionNo, str(r.HLS))
	}
	eventually(t, 10*time.Second, "session 2 playlist", func() bool {
		code, _ := playlist(*r.HLS)
		return code == 200
	})

	// 5. End: only after the publisher stopped; key INACTIVE, VOD archiving begins.
	p3.stop()
	eventually(t, 5*time.Second, "room LIVE_INACTIVE", func() bool { return a.room(r.ID).VideoRoomState == "LIVE_INACTIVE" })
	if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", r.ID), nil, &r); code != 200 {
		t.Fatalf("end: %d", code)
	}
	if r.VideoRoomState != "ENDED" || r.PlayURL != nil || r.VODState == "NOT_ARCHIVED" {
		t.Fatalf("ended room: %+v", r)
	}
	if st := a.key("host").StreamKeyState; st != "INACTIVE" {
		t.Fatalf("key after end: %s", st)
	}

	// Playback requests are counted in /metrics (they bypass the REST middleware).
	if code, body := get(t, a.base+"/metrics", "", ""); code != 200 ||
		!strings.Contains(string(body), `roomcast_playback_requests_total{code="200",route="live"}`) {
		t.Errorf("/metrics lacks playback counters (%d)", code)
	}

	// 6. Every transition reached the webhook, signed, once, in order.
	want := []string{
		"stream_key.publish_started", "video_room.live", "stream_key.publish_stopped", "video_room.live_inactive",
		"stream_key.publish_started", "video_room.live", "stream_key.publish_stopped", "video_room.live_inactive",
		"video_room.ended",
	}
	eventually(t, 10*time.Second, "webhooks", func() bool {
		got := hooks.received()
		return len(got) >= len(want) && strings.Join(got[:len(want)], ",") == strings.Join(want, ",")
	})
}

// TestRTMPModeRelayURL checks that mode=RTMP reveals only rtmpPlayUrl.
func TestRTMPModePlayURLs(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	defer s.Close()
	a := newAPI(t, s, dir)
	a.do("POST", "/members", map[string]any{"appUserId": "host"}, nil)
	key := a.key("host")
	for _, mode := range []string{"RTMP", "RTMP_CMAF"} {
		var r roomJSON
		a.do("POST", "/video-rooms", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP",
			"scheduledAt": "2030-01-01T00:00:00Z"}, &r)
		p := publish(t, "rtmp://"+s.RTMPAddr()+"/live/{key}?mode="+mode, key.StreamKey)
		eventually(t, 10*time.Second, "key ACTIVE", func() bool { return a.key("host").StreamKeyState == "ACTIVE" })
		if code := a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", r.ID), nil, &r); code != 200 {
			t.Fatalf("%s start: %d", mode, code)
		}
		wantRTMP := "rtmp://localhost:1935/play/" + r.UUID
		if str(r.RTMP) != wantRTMP {
			t.Errorf("%s rtmpPlayUrl %s, want %s", mode, str(r.RTMP), wantRTMP)
		}
		switch mode {
		case "RTMP":
			if r.HLS != nil || r.DASH != nil || str(r.PlayURL) != wantRTMP {
				t.Errorf("RTMP: playUrl %s hls %s dash %s", str(r.PlayURL), str(r.HLS), str(r.DASH))
			}
		case "RTMP_CMAF":
			if r.HLS == nil || r.DASH == nil || str(r.PlayURL) != str(r.HLS) {
				t.Errorf("RTMP_CMAF: playUrl %s hls %s", str(r.PlayURL), str(r.HLS))
			}
		}
		p.stop()
		eventually(t, 5*time.Second, "LIVE_INACTIVE", func() bool { return a.room(r.ID).VideoRoomState == "LIVE_INACTIVE" })
		a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", r.ID), nil, nil)
	}
}
