//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// broadcast drives one room of one member through publish, start, drops, automatic
// resumes and end, and keeps the LIVE time published: the sum over sessions of the
// time from the moment the room became LIVE (start call answered, or the automatic
// resume seen by polling) until the publisher was stopped.
type broadcast struct {
	in     *instance
	user   string
	mode   string // CMAF, RTMP or RTMP_CMAF
	key    string
	ingest string
	token  string
	room   room

	pub       *proc
	liveSince time.Time
	live      time.Duration
	sessions  int

	// What the (ffmpeg) publishers say they sent while LIVE: a loaded machine can
	// make a publisher fall behind real time, so the two are reported side by side.
	mediaAtLive time.Duration
	liveMedia   time.Duration
}

// newBroadcast creates a member, its room and a streaming token.
func newBroadcast(t *testing.T, in *instance, user, mode string) *broadcast {
	t.Helper()
	b := &broadcast{in: in, user: user, mode: mode}
	if c := in.api(t, "POST", "/members", map[string]any{"appUserId": user, "appUserName": user}, nil); c >= 300 {
		t.Fatalf("create member: %d", c)
	}
	var key struct {
		StreamKey string `json:"streamKey"`
		IngestURL string `json:"ingestUrl"`
	}
	in.api(t, "GET", "/members/"+user+"/stream-key", nil, &key)
	b.key, b.ingest = key.StreamKey, key.IngestURL
	if c := in.api(t, "POST", "/video-rooms", map[string]any{
		"appUserId": user, "type": "BROADCAST_RTMP", "title": "e2e " + user,
		"scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	}, &b.room); c >= 300 {
		t.Fatalf("create room: %d", c)
	}
	var tok struct {
		StreamingToken string `json:"streamingToken"`
	}
	in.api(t, "POST", "/members/"+user+"/tokens", map[string]any{}, &tok)
	b.token = tok.StreamingToken
	return b
}

// publishURL is the whole-URL form OBS-like clients use: ingestUrl/KEY?mode=MODE.
func (b *broadcast) publishURL() string {
	return fmt.Sprintf("%s/%s?mode=%s", b.ingest, b.key, b.mode)
}

func (b *broadcast) refresh(t *testing.T) room {
	t.Helper()
	b.in.api(t, "GET", fmt.Sprintf("/video-rooms/%d", b.room.ID), nil, &b.room)
	return b.room
}

// publish starts a publisher with start(url) and waits until the room is LIVE: the
// first time through the start call (once the key is ACTIVE), later by the automatic
// resume.
func (b *broadcast) publish(t *testing.T, start func(*testing.T, string) *proc) {
	t.Helper()
	b.pub = start(t, b.publishURL())
	b.sessions++
	if b.sessions == 1 {
		waitFor(t, 20*time.Second, "stream key ACTIVE", func() bool {
			var key struct {
				StreamKeyState string `json:"streamKeyState"`
			}
			b.in.api(t, "GET", "/members/"+b.user+"/stream-key", nil, &key)
			return key.StreamKeyState == "ACTIVE"
		})
		if c := b.in.api(t, "POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.room.ID), nil, &b.room); c >= 300 || b.room.VideoRoomState != "LIVE" {
			t.Fatalf("start: %d, room %+v", c, b.room)
		}
		b.markLive()
		return
	}
	deadline := time.Now().Add(20 * time.Second)
	for b.refresh(t).VideoRoomState != "LIVE" {
		if time.Now().After(deadline) || b.pub.exited() {
			t.Fatalf("room did not resume LIVE (session %d): %s, publisher exited %v", b.sessions, b.room.VideoRoomState, b.pub.exited())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.markLive()
}

func (b *broadcast) markLive() {
	b.liveSince = time.Now()
	if b.pub.prog != nil {
		b.mediaAtLive = b.pub.mediaTime()
	}
}

// publishFor publishes until the publisher has sent d of media, then drops it.
func (b *broadcast) publishFor(t *testing.T, d time.Duration) {
	t.Helper()
	b.publish(t, ffmpegPublisher)
	b.waitMedia(t, d)
	b.drop(t)
}

// waitMedia waits until the ffmpeg publisher has sent d of media.
func (b *broadcast) waitMedia(t *testing.T, d time.Duration) {
	t.Helper()
	waitFor(t, d+20*time.Second, fmt.Sprintf("publisher sent %s of media", d), func() bool {
		if b.pub.exited() {
			t.Fatalf("publisher exited early after %s of media: %v", b.pub.mediaTime(), b.pub.err)
		}
		return b.pub.mediaTime() >= d
	})
}

// drop kills the publisher (a dropped connection, not a clean unpublish), adds the
// session's LIVE time and waits for the room to become LIVE_INACTIVE.
func (b *broadcast) drop(t *testing.T) {
	t.Helper()
	b.live += time.Since(b.liveSince)
	if b.pub.prog != nil {
		b.liveMedia += b.pub.mediaTime() - b.mediaAtLive
	}
	b.pub.kill()
	waitFor(t, 20*time.Second, "room LIVE_INACTIVE", func() bool {
		return b.refresh(t).VideoRoomState == "LIVE_INACTIVE"
	})
}

// end ends the room and waits for the VOD to be archived.
func (b *broadcast) end(t *testing.T) room {
	t.Helper()
	if c := b.in.api(t, "POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", b.room.ID), nil, &b.room); c >= 300 {
		t.Fatalf("end: %d", c)
	}
	waitFor(t, 60*time.Second, "VOD ARCHIVED", func() bool {
		r := b.refresh(t)
		if r.VODState == "FAILED_ARCHIVING" {
			t.Fatalf("VOD archiving failed: %+v", r)
		}
		return r.VODState == "ARCHIVED" && r.VODURL != nil
	})
	return b.room
}

// checkVOD ffprobes the archived HLS VOD and wants at least the LIVE time published
// less 0.5 s.
func (b *broadcast) checkVOD(t *testing.T, name string) {
	t.Helper()
	r := b.end(t)
	got, err := ffprobeDuration(t, *r.VODURL+"?streamingToken="+b.token)
	if err != nil {
		t.Fatalf("%s VOD: %v", name, err)
	}
	live := b.live.Seconds()
	t.Logf("E2E-REPORT vod=%s sessions=%d live_published_seconds=%.2f publisher_media_while_live_seconds=%.2f vod_seconds=%.2f missing_seconds=%.2f",
		name, b.sessions, live, b.liveMedia.Seconds(), got, live-got)
	if got < live-0.5 {
		t.Errorf("%s VOD is %.2f s, want ≥ %.2f s (LIVE time published %.2f s over %d sessions, less 0.5 s; the publishers report %.2f s of media sent while LIVE)",
			name, got, live-0.5, live, b.sessions, b.liveMedia.Seconds())
	}
}
