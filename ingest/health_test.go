package ingest

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/roomcast/roomcast/publish"
)

// TestHealthOfFFmpegPublisher publishes testdata/h264_aac.flv with a real ffmpeg
// and reads the publish's health (Server.Health, the history and the
// Prometheus series), then checks that the series go with the publish.
func TestHealthOfFFmpegPublisher(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("SKIPPED: ffmpeg is not installed (.ci/run installs it); the real-publisher test did not run")
	}
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(s *Server) { s.Registerer = reg })
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format_tags=encoder", "-of", "csv=p=0",
		"../testdata/h264_aac.flv").Output()
	if err != nil {
		t.Fatal(err)
	}
	encoder := strings.TrimSpace(string(out)) // ffmpeg passes the file's encoder tag on in onMetaData

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-v", "error", "-re", "-stream_loop", "-1",
		"-i", "../testdata/h264_aac.flv", "-c", "copy", "-f", "flv", "rtmp://"+h.addr()+"/live/key1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	var hl *publish.Health
	h.wait("three seconds of health", func() bool {
		hl = h.s.Health(1)
		return hl != nil && hl.Video != nil && hl.SampledAt.Sub(hl.StartedAt) >= 3*time.Second
	})
	if !strings.HasPrefix(hl.FlashVer, "FMLE/3.0") || hl.Encoder != encoder || !strings.HasPrefix(hl.RemoteAddr, "127.0.0.1:") {
		t.Errorf("publisher: flashVer %q encoder %q (want %q) addr %q", hl.FlashVer, hl.Encoder, encoder, hl.RemoteAddr)
	}
	if v := hl.Video; v.Codec != "H264" || v.Width != 640 || v.Height != 360 ||
		v.FrameRate < 29.9 || v.FrameRate > 30.1 || v.KeyframeIntervalSeconds < 1.9 || v.KeyframeIntervalSeconds > 2.1 {
		t.Errorf("video %+v", *v)
	}
	if hl.Audio == nil || hl.Audio.SampleRate != 48000 || hl.Audio.Channels != 2 || hl.BitrateKbps <= 0 {
		t.Errorf("audio %+v, bitrate %v", hl.Audio, hl.BitrateKbps)
	}
	if hist := h.s.HealthHistory(1, nil); len(hist) < 3 || !hist[len(hist)-1].At.After(hist[0].At) {
		t.Errorf("history %+v", hist)
	}
	if got := streamSeries(t, reg, "roomcast_ingest_stream_frame_rate"); len(got) != 1 || got["1"] < 29 {
		t.Errorf("frame rate series %v", got)
	}
	if got := streamSeries(t, reg, "roomcast_ingest_stream_warning"); len(got) != 1 {
		t.Errorf("warning series %v", got)
	}

	cancel()
	h.waitStop("1")
	if h.s.Health(1) != nil || h.s.HealthHistory(1, nil) != nil {
		t.Error("health of a stopped publish")
	}
	for _, name := range []string{"roomcast_ingest_stream_frame_rate", "roomcast_ingest_stream_bitrate_bits_per_second"} {
		if got := streamSeries(t, reg, name); len(got) != 0 {
			t.Errorf("%s of a stopped publish: %v", name, got)
		}
	}
}

// streamSeries gathers reg and returns the values of metric name by stream_key_id.
func streamSeries(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[label(m, "stream_key_id")] = m.GetGauge().GetValue()
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
