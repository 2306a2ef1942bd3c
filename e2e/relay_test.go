//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// An RTMP relay player and the player page (hls.js) watch one RTMP_CMAF broadcast for
// a minute across a drop and resume of the publisher: the relay player must receive
// 60 s of media without being cut, the page must follow the new session, and the VOD
// must hold everything published while LIVE.
func TestRelayAndPageAcrossDrop(t *testing.T) {
	requireTools(t, "ffmpeg", "ffprobe", "node")
	in := startServer(t)
	b := newBroadcast(t, in, "relay", "RTMP_CMAF")
	b.publish(t, ffmpegPublisher)
	if b.room.RTMPPlayURL == nil || b.room.CmafHlsPlayURL == nil {
		t.Fatalf("RTMP_CMAF room without rtmpPlayUrl or cmafHlsPlayUrl: %+v", b.room)
	}
	player := startProc(t, &progress{}, "ffmpeg", "-nostdin", "-loglevel", "error",
		"-i", *b.room.RTMPPlayURL+"?streamingToken="+b.token,
		"-t", "60", "-f", "null", "-progress", "pipe:1", "-stats_period", "0.5", "-")
	playerStart := time.Now()
	page := startFollower(t, in.httpURL+"/watch/"+b.room.UUID+"?streamingToken="+b.token)

	b.waitMedia(t, 20*time.Second)
	b.drop(t)
	b.publish(t, ffmpegPublisher)
	// 20 s + 45 s published: more than the relay player's 60 s.
	b.waitMedia(t, 45*time.Second)
	if !player.waitExit(15 * time.Second) {
		t.Errorf("relay player still running 15 s after the publisher sent 65 s")
	}
	b.drop(t)

	got, _, _, ended := player.prog.snapshot()
	wall := time.Since(playerStart)
	if player.exited() {
		wall = player.ended.Sub(playerStart)
	}
	t.Logf("E2E-REPORT relay_play_seconds=%.2f relay_wall_seconds=%.1f relay_progress_end=%v relay_exit=%v",
		got.Seconds(), wall.Seconds(), ended, player.err)
	if got < 55*time.Second {
		t.Errorf("relay player received %.1f s of media in %.1f s (exit %v), want ≥ 55 s across the drop and resume",
			got.Seconds(), wall.Seconds(), player.err)
	}

	played, urls := page.playedSeconds()
	live := b.live.Seconds()
	t.Logf("E2E-REPORT page_play_seconds=%.2f page_play_urls=%d live_published_seconds=%.2f", played, urls, live)
	// Each session may take a few seconds to start on the page (room state poll,
	// playlist, first part): 6 s per session.
	if want := live - 6*float64(b.sessions); played < want {
		t.Errorf("player page played %.1f s of %.1f s LIVE over %d sessions, want ≥ %.1f s", played, live, b.sessions, want)
	}
	if urls < 2 {
		t.Errorf("player page played %d session URLs, want 2 (it must follow the resume)", urls)
	}
	page.close(t)

	b.checkVOD(t, "rtmp_cmaf")
}
