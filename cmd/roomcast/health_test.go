package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pub "github.com/roomcast/roomcast/publish"
)

// requireFFmpeg skips a test without ffmpeg and ffprobe.
func requireFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED: %s is not installed (.ci/run installs it); the stream health test did not run", tool)
		}
	}
}

// encode runs ffmpeg with args (the inputs and codec options) into an FLV file.
func encode(t *testing.T, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	args = append(append([]string{"-nostdin", "-v", "error", "-y"}, args...), "-f", "flv", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, b)
	}
	return out
}

// ffmpegPublish publishes file at real time with ffmpeg (-c copy) until the test
// ends or stop is called; loop repeats it.
func ffmpegPublish(t *testing.T, file, url string, loop bool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{"-nostdin", "-v", "error", "-re"}
	if loop {
		args = append(args, "-stream_loop", "-1")
	}
	args = append(args, "-i", file, "-c", "copy", "-f", "flv", url)
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.Stderr = t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); _ = cmd.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// probed is what ffprobe reads from a file.
type probed struct {
	Streams []struct {
		CodecType  string `json:"codec_type"`
		CodecName  string `json:"codec_name"`
		Profile    string `json:"profile"`
		Level      int    `json:"level"`
		Width      int    `json:"width"`
		Height     int    `json:"height"`
		RFrameRate string `json:"r_frame_rate"`
		SampleRate string `json:"sample_rate"`
		Channels   int    `json:"channels"`
	} `json:"streams"`
	Packets []struct {
		PTSTime string `json:"pts_time"`
		Flags   string `json:"flags"`
	} `json:"packets"`
	Format struct {
		Tags struct {
			Encoder string `json:"encoder"`
		} `json:"tags"`
	} `json:"format"`
}

func ffprobe(t *testing.T, file string) probed {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format",
		"-select_streams", "v", "-show_entries", "packet=pts_time,flags", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	// the audio stream (-select_streams applies to packets and streams alike)
	out, err = exec.Command("ffprobe", "-v", "error", "-of", "json", "-show_streams", "-select_streams", "a", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var a probed
	if err := json.Unmarshal(out, &a); err != nil {
		t.Fatal(err)
	}
	p.Streams = append(p.Streams, a.Streams...)
	return p
}

// keyframeIntervals are the distances between the key frames ffprobe lists.
func (p probed) keyframeIntervals(t *testing.T) []float64 {
	var keys, out []float64
	for _, pk := range p.Packets {
		if strings.Contains(pk.Flags, "K") {
			v, err := strconv.ParseFloat(pk.PTSTime, 64)
			if err != nil {
				t.Fatalf("pts_time %q", pk.PTSTime)
			}
			keys = append(keys, v)
		}
	}
	for i := 1; i < len(keys); i++ {
		out = append(out, keys[i]-keys[i-1])
	}
	return out
}

// ratio parses ffprobe's "30/1".
func ratio(t *testing.T, s string) float64 {
	n, d, _ := strings.Cut(s, "/")
	a, err1 := strconv.ParseFloat(n, 64)
	b, err2 := strconv.ParseFloat(d, 64)
	if err1 != nil || err2 != nil || b == 0 {
		t.Fatalf("frame rate %q", s)
	}
	return a / b
}

// healthRoom is a LIVE room publishing through ffmpeg, with its owner's SSE
// stream and the app's webhook receiver.
type healthRoom struct {
	a      *api
	s      *server
	hooks  *hookReceiver
	sse    *sseClient
	roomID uint64
	keyID  uint64
	url    string // the RTMP publish URL
}

// newHealthRoom starts a server, a member "host" with an SSE stream, a room,
// and publishes file into it (LIVE).
func newHealthRoom(t *testing.T, file string, loop bool) (*healthRoom, func()) {
	t.Helper()
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	t.Cleanup(s.Close)
	h := &healthRoom{a: newAPI(t, s, dir), s: s, hooks: newHookReceiver(t)}
	h.hooks.subscribe(h.a)
	if code := h.a.do("POST", "/members", map[string]any{"appUserId": "host"}, nil); code >= 300 {
		t.Fatalf("create member: %d", code)
	}
	var key struct {
		ID        uint64 `json:"id"`
		StreamKey string `json:"streamKey"`
	}
	if code := h.a.do("GET", "/members/host/stream-key", nil, &key); code != 200 {
		t.Fatalf("stream key: %d", code)
	}
	h.keyID = key.ID
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	if code := h.a.do("POST", "/members/host/tokens", nil, &tok); code >= 300 {
		t.Fatalf("tokens: %d", code)
	}
	h.sse = newSSEClient(t, "sse", "http://"+s.HTTPAddr()+"/v2/members/me/event-sources", tok.AccessToken)
	var r roomJSON
	if code := h.a.do("POST", "/video-rooms", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP",
		"title": "health", "scheduledAt": "2030-01-01T00:00:00Z"}, &r); code >= 300 {
		t.Fatalf("create room: %d", code)
	}
	h.roomID = r.ID
	h.url = "rtmp://" + s.RTMPAddr() + "/live/" + key.StreamKey
	stop := ffmpegPublish(t, file, h.url, loop)
	eventually(t, 20*time.Second, "key ACTIVE", func() bool { return h.a.key("host").StreamKeyState == "ACTIVE" })
	if code := h.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", r.ID), nil, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	return h, stop
}

// ingest returns the room JSON's stats.ingest (nil when null).
func (h *healthRoom) ingest() *pub.Health {
	var r struct {
		Stats struct {
			Ingest *pub.Health `json:"ingest"`
		} `json:"stats"`
	}
	if c := h.a.do("GET", fmt.Sprintf("/video-rooms/%d", h.roomID), nil, &r); c != 200 {
		h.a.t.Fatalf("GET room: %d", c)
	}
	return r.Stats.Ingest
}

// roomHealth is the answer of GET /video-rooms/{id}/health.
type roomHealth struct {
	VideoRoomID    uint64             `json:"videoRoomId"`
	VideoRoomState string             `json:"videoRoomState"`
	StreamKeyID    *uint64            `json:"streamKeyId"`
	Ingest         *pub.Health        `json:"ingest"`
	History        []pub.HealthSample `json:"history"`
}

func (h *healthRoom) health() roomHealth {
	var r roomHealth
	if c := h.a.do("GET", fmt.Sprintf("/video-rooms/%d/health", h.roomID), nil, &r); c != 200 {
		h.a.t.Fatalf("GET health: %d", c)
	}
	return r
}

// metric returns the value of the series name{stream_key_id=<key>} on /metrics.
func (h *healthRoom) metric(name string) (float64, bool) {
	code, body := get(h.a.t, "http://"+h.s.HTTPAddr()+"/metrics", "", "")
	if code != 200 {
		h.a.t.Fatalf("/metrics: %d", code)
	}
	prefix := fmt.Sprintf("%s{stream_key_id=%q} ", name, strconv.FormatUint(h.keyID, 10))
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestStreamHealthMatchesFFprobe publishes a 30 fps file with a key frame every
// 60 frames through ffmpeg and checks that the measured health (room JSON, the
// health endpoint, /metrics) agrees with what ffprobe reads from the same file,
// and that it goes away with the publish.
func TestStreamHealthMatchesFFprobe(t *testing.T) {
	requireFFmpeg(t)
	t.Parallel()
	file := encode(t, "g60.flv", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "6",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-g", "60", "-keyint_min", "60",
		"-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "800k", "-c:a", "aac", "-b:a", "96k", "-ac", "1")
	want := ffprobe(t, file)
	v, a := want.Streams[0], want.Streams[1]
	kfis := want.keyframeIntervals(t)
	if len(kfis) < 2 {
		t.Fatalf("ffprobe key frames: %v", kfis)
	}
	h, stop := newHealthRoom(t, file, true)

	var got *pub.Health
	eventually(t, 30*time.Second, "4 s of measured health in the room JSON", func() bool {
		got = h.ingest()
		return got != nil && got.Video != nil && got.SampledAt.Sub(got.StartedAt) >= 4*time.Second
	})
	t.Logf("health: %+v video %+v audio %+v", *got, *got.Video, got.Audio)
	gv := got.Video
	if !strings.EqualFold(gv.Codec, v.CodecName) || gv.Profile != v.Profile ||
		gv.Level != fmt.Sprintf("%d.%d", v.Level/10, v.Level%10) || gv.Width != v.Width || gv.Height != v.Height {
		t.Errorf("video %+v, ffprobe %s %s level %d %dx%d", *gv, v.CodecName, v.Profile, v.Level, v.Width, v.Height)
	}
	if fps := ratio(t, v.RFrameRate); math.Abs(gv.FrameRate-fps) > 0.1 {
		t.Errorf("frame rate %v, ffprobe %v", gv.FrameRate, fps)
	}
	for _, k := range kfis {
		if math.Abs(gv.KeyframeIntervalSeconds-k) > 0.1 {
			t.Errorf("keyframe interval %v, ffprobe %v", gv.KeyframeIntervalSeconds, kfis)
			break
		}
	}
	if ga := got.Audio; ga == nil || !strings.EqualFold(ga.Codec, a.CodecName) || strconv.Itoa(ga.SampleRate) != a.SampleRate ||
		ga.Channels != a.Channels {
		t.Errorf("audio %+v, ffprobe %s %s Hz %d channels", ga, a.CodecName, a.SampleRate, a.Channels)
	}
	if !strings.HasPrefix(got.FlashVer, "FMLE/3.0") || got.Encoder != want.Format.Tags.Encoder ||
		!strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
		t.Errorf("publisher %q %q %q (ffprobe encoder %q)", got.FlashVer, got.Encoder, got.RemoteAddr, want.Format.Tags.Encoder)
	}
	if got.BitrateKbps <= 0 || got.AvgBitrateKbps <= 0 || got.IngestLagMs > 1000 || len(got.Warnings) != 0 {
		t.Errorf("bitrate %v avg %v lag %d warnings %v", got.BitrateKbps, got.AvgBitrateKbps, got.IngestLagMs, got.Warnings)
	}

	rh := h.health()
	if rh.VideoRoomID != h.roomID || rh.VideoRoomState != "LIVE" || rh.StreamKeyID == nil || *rh.StreamKeyID != h.keyID ||
		rh.Ingest == nil || len(rh.History) < 4 {
		t.Fatalf("health endpoint: %+v", rh)
	}
	for i, s := range rh.History[1:] {
		if !s.At.After(rh.History[i].At) {
			t.Errorf("history not in order: %v then %v", rh.History[i].At, s.At)
		}
	}
	last := rh.History[len(rh.History)-1]
	if math.Abs(last.FrameRate-gv.FrameRate) > 0.5 || last.BitrateKbps <= 0 {
		t.Errorf("last history sample %+v", last)
	}
	if fps, ok := h.metric("roomcast_ingest_stream_frame_rate"); !ok || math.Abs(fps-gv.FrameRate) > 0.5 {
		t.Errorf("roomcast_ingest_stream_frame_rate %v %v", fps, ok)
	}

	stop()
	eventually(t, 20*time.Second, "room LIVE_INACTIVE", func() bool { return h.health().VideoRoomState == "LIVE_INACTIVE" })
	if rh := h.health(); rh.Ingest != nil || len(rh.History) != 0 || h.ingest() != nil {
		t.Errorf("health after the publish: %+v", rh)
	}
	if _, ok := h.metric("roomcast_ingest_stream_frame_rate"); ok {
		t.Error("frame rate series left after the publish")
	}
}

// TestStreamHealthWarningEvents publishes a file with a 250-frame GOP whose
// bitrate collapses from 6 s to 24 s (noise, then a flat picture: bitrate_low
// is due at about 18 s) and comes back with 1 s key frames, with the real
// thresholds: keyframe_interval_high and
// bitrate_low arrive over webhook and SSE, then their _resolved events when the
// stream recovers; nothing else is raised.
func TestStreamHealthWarningEvents(t *testing.T) {
	requireFFmpeg(t)
	t.Parallel()
	file := encode(t, "drop.flv",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=36",
		"-filter_complex", "testsrc2=s=640x360:r=30:d=6,noise=alls=30:allf=t+u[a];"+
			"color=c=gray:s=640x360:r=30:d=18[b];testsrc2=s=640x360:r=30:d=12,noise=alls=30:allf=t+u[c];"+
			"[a][b][c]concat=n=3:v=1:a=0[v]",
		"-map", "[v]", "-map", "0:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-g", "250", "-keyint_min", "250",
		"-sc_threshold", "0", "-force_key_frames", "expr:gte(t,24)*gte(t,24+n_forced)", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k")
	kfis := ffprobe(t, file).keyframeIntervals(t)
	if len(kfis) < 3 || kfis[0] < 8 || kfis[len(kfis)-1] > 1.1 {
		t.Fatalf("source key frame intervals %v: want 8.3 s, then 1 s", kfis)
	}
	h, stop := newHealthRoom(t, file, false)
	defer stop()
	t.Cleanup(func() {
		if t.Failed() {
			for _, b := range h.hooks.bodiesOf("") {
				t.Log(b)
			}
		}
	})

	want := []string{"stream_health.keyframe_interval_high", "stream_health.bitrate_low",
		"stream_health.keyframe_interval_high_resolved", "stream_health.bitrate_low_resolved"}
	healthEvents := func(names []string) []string {
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, "stream_health.") {
				out = append(out, n)
			}
		}
		return out
	}
	eventually(t, 90*time.Second, "the warnings and their resolution over webhook", func() bool {
		return len(healthEvents(h.hooks.received())) >= len(want)
	})
	eventually(t, 20*time.Second, "the same over SSE", func() bool { return len(h.sse.healthEvents()) >= len(want) })
	stop()

	for _, got := range [][]string{healthEvents(h.hooks.received()), h.sse.healthEvents()} {
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("health events %v, want %v", got, w)
		}
	}
	// each warning is raised before it is resolved, and resolved because it recovered
	order := healthEvents(h.hooks.received())
	for _, name := range order {
		t.Logf("%s", h.hooks.bodiesOf(name)[0])
	}
	for _, w := range []string{"stream_health.keyframe_interval_high", "stream_health.bitrate_low"} {
		if slices.Index(order, w) > slices.Index(order, w+"_resolved") {
			t.Errorf("%s after its resolution: %v", w, order)
		}
	}
	var raised struct {
		Payload struct {
			VideoRoomID *uint64    `json:"videoRoomId"`
			StreamKeyID uint64     `json:"streamKeyId"`
			Warning     string     `json:"warning"`
			Value       float64    `json:"value"`
			Threshold   float64    `json:"threshold"`
			Health      pub.Health `json:"health"`
		} `json:"payload"`
	}
	if err := json.Unmarshal([]byte(h.hooks.bodiesOf("stream_health.keyframe_interval_high")[0]), &raised); err != nil {
		t.Fatal(err)
	}
	if p := raised.Payload; p.VideoRoomID == nil || *p.VideoRoomID != h.roomID || p.StreamKeyID != h.keyID ||
		p.Warning != "keyframe_interval_high" || p.Threshold != 4 || p.Value <= 4 ||
		!slices.Contains(p.Health.Warnings, pub.WarnKeyframeInterval) {
		t.Errorf("keyframe warning payload %+v", p)
	}
	var resolved struct {
		Payload struct {
			Cause  string     `json:"cause"`
			Value  float64    `json:"value"`
			Health pub.Health `json:"health"`
		} `json:"payload"`
	}
	if err := json.Unmarshal([]byte(h.hooks.bodiesOf("stream_health.bitrate_low_resolved")[0]), &resolved); err != nil {
		t.Fatal(err)
	}
	if p := resolved.Payload; p.Cause != "RECOVERED" || p.Value < p.Health.AvgBitrateKbps/2 ||
		slices.Contains(p.Health.Warnings, pub.WarnBitrateLow) {
		t.Errorf("bitrate resolved payload %+v", p)
	}
}

// healthEvents returns the customData.event of the STREAM_HEALTH signals the
// stream received, in order.
func (s *sseClient) healthEvents() []string {
	var out []string
	for _, f := range s.received() {
		var m struct {
			DeliveryType string `json:"deliveryType"`
			CustomType   string `json:"customType"`
			CustomData   struct {
				Event string `json:"event"`
			} `json:"customData"`
		}
		if err := json.Unmarshal([]byte(f.Data), &m); err != nil {
			s.t.Errorf("SSE data %q: %v", f.Data, err)
			continue
		}
		if m.CustomType == "STREAM_HEALTH" && m.DeliveryType == "DIRECT" {
			out = append(out, m.CustomData.Event)
		}
	}
	return out
}
