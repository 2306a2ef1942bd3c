package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Operating rooms through the real wiring: a real RTMP publisher that
// reconnects like OBS, the REST API over HTTP, webhooks to a real receiver.

// liveTimes is what the deadline tests read of a room.
type liveTimes struct {
	VideoRoomState  string     `json:"videoRoomState"`
	LiveStartedAt   *time.Time `json:"liveStartedAt"`
	LiveEndedAt     *time.Time `json:"liveEndedAt"`
	AutoCloseConfig *struct {
		Type     string `json:"type"`
		Duration int    `json:"duration"`
	} `json:"autoCloseConfig"`
}

func (a *api) liveTimes(id uint64) liveTimes {
	var r liveTimes
	if c := a.do("GET", fmt.Sprintf("/video-rooms/%d", id), nil, &r); c != 200 {
		a.t.Fatalf("GET room: %d", c)
	}
	return r
}

// goLive publishes b's key with an encoder that reconnects 300 ms after a drop
// and starts the broadcast; it returns the publisher.
func goLive(t *testing.T, b *broadcast) *publisher {
	t.Helper()
	p := startPublisher(t, b.rtmp, b.key, 300*time.Millisecond)
	eventually(t, 15*time.Second, "key ACTIVE", func() bool { return b.a.key2(b.key) })
	if code := b.a.do("POST", fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/live", b.id), nil, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	return p
}

// hookedServer starts a server (its config changed by mod, if not nil), an App
// API client and a webhook receiver subscribed to the app's events; the server
// is closed at the end of the test.
func hookedServer(t *testing.T, mod func(*Config)) (dir string, s *server, a *api, hooks *hookReceiver) {
	t.Helper()
	dir = t.TempDir()
	c := testConfig(t, dir)
	if mod != nil {
		mod(&c)
	}
	s = startServer(t, c)
	t.Cleanup(s.Close)
	a = newAPI(t, s, dir)
	hooks = newHookReceiver(t)
	hooks.subscribe(a)
	return dir, s, a, hooks
}

// hookWith reports whether an event named name whose body holds every one of
// parts was received.
func (h *hookReceiver) hookWith(name string, parts ...string) bool {
	for _, b := range h.bodiesOf(name) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(b, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestForceEndDisconnectsPublisher: the seed's end is refused while the streamer
// is connected; with {"force":true} the same call disconnects the publisher
// (KICKED) and ends the room, whose VOD is archived. The encoder's reconnect
// only previews: the ended room stays ENDED.
func TestForceEndDisconnectsPublisher(t *testing.T) {
	t.Parallel()
	dir, s, a, hooks := hookedServer(t, func(c *Config) { c.SegmentDuration = time.Second })
	b := newBroadcast(t, a, s.RTMPAddr(), "host")
	p := goLive(t, b)
	defer p.stop()
	path := fmt.Sprintf("/video-rooms/%d/rtmp-broadcast/state/ended", b.id)
	eventually(t, 15*time.Second, "live segments", func() bool {
		entries, _ := os.ReadDir(filepath.Join(dir, "media", b.uuid, "1"))
		return len(entries) > 3
	})

	var refused struct {
		Code string `json:"errorCode"`
	}
	if code := a.do("POST", path, nil, &refused); code != 400 || refused.Code != "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE" {
		t.Fatalf("end without force while publishing: %d %+v", code, refused)
	}
	if code := a.do("POST", path, map[string]any{"force": false}, &refused); code != 400 {
		t.Fatalf("end with force false while publishing: %d", code)
	}
	var ended roomJSON
	if code := a.do("POST", path, map[string]any{"force": true}, &ended); code != 200 || ended.VideoRoomState != "ENDED" {
		t.Fatalf("forced end: %d %+v", code, ended)
	}
	eventually(t, 15*time.Second, "ended (FORCED) and publish_stopped (KICKED) webhooks", func() bool {
		return hooks.hookWith("video_room.ended", `"reason":"FORCED"`) &&
			hooks.hookWith("stream_key.publish_stopped", `"KICKED"`)
	})
	// The encoder reconnects: a preview on its key, the room stays ENDED.
	eventually(t, 15*time.Second, "the reconnect previews", func() bool { return a.key2(b.key) })
	eventually(t, 30*time.Second, "VOD archived", func() bool { return a.vod(b.id).VODState == "ARCHIVED" })
	if r := a.room(b.id); r.VideoRoomState != "ENDED" || r.LastSessionNo != 1 {
		t.Fatalf("room after the reconnect: %+v", r)
	}
	if code := a.do("POST", path, map[string]any{"force": true}, &refused); code != 400 {
		t.Fatalf("forced end of an ENDED room: %d", code)
	}
	if code := a.do("POST", path, map[string]any{"force": "yes"}, &refused); code != 400 || refused.Code != "INVALID_REQUEST" {
		t.Fatalf("force of the wrong type: %d %+v", code, refused)
	}
}

// TestKeyResetDisconnectsPublisher: resetting a publishing key disconnects its
// publisher (KEY_RESET); the room goes LIVE_INACTIVE, the encoder's reconnects
// with the old key are refused, and the new key resumes the room as session 2.
func TestKeyResetDisconnectsPublisher(t *testing.T) {
	t.Parallel()
	_, s, a, hooks := hookedServer(t, nil)
	b := newBroadcast(t, a, s.RTMPAddr(), "host")
	old := goLive(t, b)
	defer old.stop()
	eventually(t, 15*time.Second, "LIVE", func() bool { return a.room(b.id).VideoRoomState == "LIVE" })

	var k keyJSON
	if code := a.do("POST", "/members/host/stream-key/reset", nil, &k); code != 200 || k.StreamKey == b.key {
		t.Fatalf("reset while publishing: %d %+v", code, k)
	}
	if k.StreamKeyState != "INACTIVE_LIVE" {
		t.Fatalf("the answer comes after the stop: key %s", k.StreamKeyState)
	}
	if r := a.room(b.id); r.VideoRoomState != "LIVE_INACTIVE" {
		t.Fatalf("room after the reset: %s", r.VideoRoomState)
	}
	eventually(t, 15*time.Second, "publish_stopped (KEY_RESET) webhook", func() bool {
		return hooks.hookWith("stream_key.publish_stopped", `"KEY_RESET"`)
	})
	// The old encoder keeps reconnecting with the old key: refused every time.
	before := old.ended.Load()
	eventually(t, 15*time.Second, "two reconnects with the old key refused", func() bool { return old.ended.Load() >= before+2 })
	if r := a.room(b.id); r.VideoRoomState != "LIVE_INACTIVE" || r.LastSessionNo != 1 {
		t.Fatalf("room while the old key retries: %+v", r)
	}
	old.stop()
	fresh := publish(t, b.rtmp, k.StreamKey)
	defer fresh.stop()
	eventually(t, 15*time.Second, "resumed with the new key as session 2", func() bool {
		r := a.room(b.id)
		return r.VideoRoomState == "LIVE" && r.LastSessionNo == 2
	})
}

// TestAutoCloseConfigEndsRoomAcrossRestart: a room created with autoCloseConfig
// (duration 4, one unit = 1 s here) is ended with force at LiveStartedAt + 4 s,
// its publisher disconnected (MAX_DURATION), although the server was restarted
// in between: the deadline is kept with the room.
func TestAutoCloseConfigEndsRoomAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := testConfig(t, dir)
	c.AutoCloseUnit = time.Second
	s := startServer(t, c)
	a := newAPI(t, s, dir)
	hooks := newHookReceiver(t)
	hooks.subscribe(a)
	if code := a.do("POST", "/members", map[string]any{"appUserId": "host"}, nil); code >= 300 {
		t.Fatalf("create member: %d", code)
	}
	var r roomJSON
	if code := a.do("POST", "/video-rooms", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP",
		"scheduledAt": "2030-01-01T00:00:00Z", "autoCloseConfig": map[string]any{"type": "session-ends", "duration": 4}}, &r); code != 201 {
		t.Fatalf("create room: %d", code)
	}
	b := &broadcast{t: t, a: a, id: r.ID, uuid: r.UUID, key: a.key("host").StreamKey,
		rtmp: "rtmp://" + s.RTMPAddr() + "/live/{key}?mode=CMAF"}
	if ac := a.liveTimes(b.id).AutoCloseConfig; ac == nil || ac.Type != "session-ends" || ac.Duration != 4 {
		t.Fatalf("autoCloseConfig = %+v", ac)
	}
	p := goLive(t, b)
	eventually(t, 15*time.Second, "LIVE", func() bool { return a.room(b.id).VideoRoomState == "LIVE" })
	started := *a.liveTimes(b.id).LiveStartedAt
	p.stop()
	s.Close() // before the deadline: the new process must end the room

	s2 := startServer(t, c)
	defer s2.Close()
	a2 := newAPI(t, s2, dir)
	b.a, b.rtmp = a2, "rtmp://"+s2.RTMPAddr()+"/live/{key}?mode=CMAF"
	p2 := startPublisher(t, b.rtmp, b.key, 300*time.Millisecond) // the encoder comes back: session 2
	defer p2.stop()
	eventually(t, 20*time.Second, "ENDED by the maximum duration", func() bool {
		return a2.room(b.id).VideoRoomState == "ENDED"
	})
	lt := a2.liveTimes(b.id)
	if lived := lt.LiveEndedAt.Sub(started); lived < 4*time.Second {
		t.Fatalf("ended %v after it first went LIVE, before its 4 s", lived)
	}
	eventually(t, 15*time.Second, "ended (MAX_DURATION) webhook", func() bool {
		return hooks.hookWith("video_room.ended", `"reason":"MAX_DURATION"`)
	})
	if a2.room(b.id).LastSessionNo == 2 { // the encoder was back before the deadline: disconnected
		eventually(t, 15*time.Second, "publish_stopped (MAX_DURATION) of the resumed session", func() bool {
			return hooks.hookWith("stream_key.publish_stopped", `"MAX_DURATION"`)
		})
	}
}

// TestMaxLiveDurationDefault: without autoCloseConfig the server's
// --max-live-duration ends the room and disconnects the publisher.
func TestMaxLiveDurationDefault(t *testing.T) {
	t.Parallel()
	_, s, a, hooks := hookedServer(t, func(c *Config) { c.MaxLiveDuration = 3 * time.Second })
	b := newBroadcast(t, a, s.RTMPAddr(), "host")
	if ac := a.liveTimes(b.id).AutoCloseConfig; ac != nil {
		t.Fatalf("autoCloseConfig of a room created without one: %+v", ac)
	}
	p := goLive(t, b)
	defer p.stop()
	eventually(t, 20*time.Second, "ENDED by the maximum duration", func() bool {
		return a.room(b.id).VideoRoomState == "ENDED"
	})
	lt := a.liveTimes(b.id)
	if lived := lt.LiveEndedAt.Sub(*lt.LiveStartedAt); lived < 3*time.Second {
		t.Fatalf("ended after %v, before its 3 s", lived)
	}
	eventually(t, 15*time.Second, "ended and publish_stopped (MAX_DURATION) webhooks", func() bool {
		return hooks.hookWith("video_room.ended", `"reason":"MAX_DURATION"`) &&
			hooks.hookWith("stream_key.publish_stopped", `"MAX_DURATION"`)
	})
}
