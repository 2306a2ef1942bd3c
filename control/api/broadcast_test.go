package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/control/member"
	"github.com/roomcast/roomcast/publish"
)

// TestBroadcastFlow drives the broadcast flow through the API and the ingest seams: preview →
// start → drop → resume (new session, new playUrl) → end, checking room and key
// states and the play URLs at each step.
func TestBroadcastFlow(t *testing.T) {
	for _, tc := range []struct {
		mode               string
		hls, dash, rtmp    bool
		playIsRTMP         bool
		wantMode, resumeAs string
	}{
		{mode: "", hls: true, dash: true, wantMode: "CMAF", resumeAs: "CMAF"},
		{mode: "CMAF", hls: true, dash: true, wantMode: "CMAF", resumeAs: "RTMP_CMAF"},
		{mode: "RTMP", rtmp: true, playIsRTMP: true, wantMode: "RTMP", resumeAs: "RTMP"},
		{mode: "RTMP_CMAF", hls: true, dash: true, rtmp: true, wantMode: "RTMP_CMAF", resumeAs: "CMAF"},
	} {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := context.Background()
			_, app := e.newApp("app")
			host := e.newMember(app, "host")
			room := e.newRoom(app, "host", "Show")
			path := roomPath(room)
			uuid := room["uuid"].(string)
			checkRoom(t, room, "SCHEDULED", "", 0)

			// Start before publishing: the key must be ACTIVE first.
			e.fail(400, "STREAM_KEY_STATE_NOT_ACTIVE", "POST", path+"/rtmp-broadcast/state/live", app, nil)

			// 1. Publish: preview, no playUrl.
			ps, err := e.c.PublishStarted(ctx, host.Key, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			if ps.KeyID != host.KeyID || ps.Mode != publish.Mode(tc.wantMode) || ps.RoomUUID != "" || ps.SessionNo != 0 {
				t.Fatalf("PublishStarted = %+v", ps)
			}
			if _, err := e.c.PublishStarted(ctx, host.Key, tc.mode); !errors.Is(err, control.ErrAlreadyPublishing) {
				t.Fatalf("second publisher: err = %v, want ErrAlreadyPublishing", err)
			}
			got := e.must(200, "GET", path, app, nil).JSON()
			checkRoom(t, got, "SCHEDULED", "", 0)
			e.fail(400, "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE", "POST", path+"/rtmp-broadcast/state/ended", app, nil)

			// 2. Start: LIVE, URLs per mode, session 1.
			got = e.must(200, "POST", path+"/rtmp-broadcast/state/live", app, nil).JSON()
			checkRoom(t, got, "LIVE", "ACTIVE_LIVE", 1)
			checkURLs(t, got, uuid, 1, tc.hls, tc.dash, tc.rtmp, tc.playIsRTMP)
			if got["liveStartedAt"] == nil {
				t.Fatal("liveStartedAt not set")
			}
			e.fail(400, "VIDEO_ROOM_STATE_NOT_SCHEDULED", "POST", path+"/rtmp-broadcast/state/live", app, nil)
			e.fail(400, "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE", "POST", path+"/rtmp-broadcast/state/ended", app, nil)
			e.fail(400, "VIDEO_ROOM_STATE_NOT_SCHEDULED", "POST", path+"/rtmp-broadcast/state/cancelled", app, nil)
			e.fail(400, "VIDEO_ROOM_STATE_LIVE", "DELETE", path, app, nil)

			// 3. Drop: LIVE_INACTIVE, no URLs.
			if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
				t.Fatal(err)
			}
			if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
				t.Fatalf("repeated PublishStopped: %v", err)
			}
			got = e.must(200, "GET", path, app, nil).JSON()
			checkRoom(t, got, "LIVE_INACTIVE", "INACTIVE_LIVE", 1)
			checkURLs(t, got, uuid, 0, false, false, false, false)
			e.fail(400, "VIDEO_ROOM_STATE_LIVE", "DELETE", path, app, nil)

			// Resume: LIVE again with session 2 and a new playUrl, no API call.
			ps2, err := e.c.PublishStarted(ctx, host.Key, tc.resumeAs)
			if err != nil {
				t.Fatal(err)
			}
			if ps2.RoomUUID != uuid || ps2.SessionNo != 2 || ps2.Mode != publish.Mode(tc.resumeAs) {
				t.Fatalf("resume PublishStarted = %+v", ps2)
			}
			got = e.must(200, "GET", path, app, nil).JSON()
			checkRoom(t, got, "LIVE", "ACTIVE_LIVE", 2)
			rm := publish.Mode(tc.resumeAs)
			checkURLs(t, got, uuid, 2, rm.HasCMAF(), rm.HasCMAF(), rm.HasRTMP(), !rm.HasCMAF())

			// End refused while ingest runs (key ACTIVE_LIVE, room LIVE).
			e.fail(400, "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE", "POST", path+"/rtmp-broadcast/state/ended", app, nil)
			if err := e.c.PublishStopped(ctx, ps.KeyID, "CONNECTION_ERROR"); err != nil {
				t.Fatal(err)
			}

			// 4. End: ENDED, key INACTIVE and free, VOD archiving.
			got = e.must(200, "POST", path+"/rtmp-broadcast/state/ended", app, nil).JSON()
			checkRoom(t, got, "ENDED", "", 2)
			if got["vodState"] != "ARCHIVING" || got["liveEndedAt"] == nil || got["playUrl"] != nil {
				t.Fatalf("ended room: %v", got)
			}
			key := e.must(200, "GET", "/v2/apps/me/members/host/stream-key", app, nil).JSON()
			if key["streamKeyState"] != "INACTIVE" || key["videoRoomId"] != nil {
				t.Fatalf("key after end: %v", key)
			}
			e.fail(400, "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE", "POST", path+"/rtmp-broadcast/state/ended", app, nil)

			// VOD archived: vodUrl.
			if err := e.c.VODFinished(ctx, uuid, nil); err != nil {
				t.Fatal(err)
			}
			got = e.must(200, "GET", path, app, nil).JSON()
			if got["vodState"] != "ARCHIVED" || got["vodUrl"] != "http://media.test/vod/"+uuid+"/index.m3u8" || got["vodArchivedAt"] == nil {
				t.Fatalf("archived room: %v", got)
			}
			if err := e.c.VODFinished(ctx, uuid, nil); err == nil {
				t.Fatal("second VODFinished accepted")
			}

			// Events and hooks, in order.
			want := []string{
				events.EventPublishStarted, events.EventVideoRoomLive, events.EventPublishStopped, events.EventVideoRoomLiveInactive,
				events.EventPublishStarted, events.EventVideoRoomLive, events.EventPublishStopped, events.EventVideoRoomLiveInactive,
				events.EventVideoRoomEnded, events.EventVideoRoomVODArchived,
			}
			if names := e.rec.names(); !slices.Equal(names, want) {
				t.Fatalf("events = %v\nwant %v", names, want)
			}
			if len(e.rec.lives) != 2 || e.rec.lives[1].SessionNo != 2 || e.rec.lives[1].RoomUUID != uuid ||
				e.rec.lives[0].KeyID != host.KeyID || e.rec.lives[1].Mode != publish.Mode(tc.resumeAs) {
				t.Fatalf("OnSessionLive calls = %+v", e.rec.lives)
			}
			if !slices.Equal(e.rec.ended, []string{uuid}) {
				t.Fatalf("OnRoomEnded calls = %v", e.rec.ended)
			}
			// The key is free for a new room.
			room2 := e.newRoom(app, "host", "Second")
			if _, err := e.c.PublishStarted(ctx, host.Key, ""); err != nil {
				t.Fatal(err)
			}
			e.must(200, "POST", roomPath(room2)+"/rtmp-broadcast/state/live", app, nil)
		})
	}
}

// checkRoom checks videoRoomState, the room's streamKey state ("" = null) and
// lastSessionNo.
func checkRoom(t *testing.T, room map[string]any, state, keyState string, session int) {
	t.Helper()
	if room["videoRoomState"] != state {
		t.Fatalf("videoRoomState = %v, want %s", room["videoRoomState"], state)
	}
	if int(room["lastSessionNo"].(float64)) != session {
		t.Fatalf("lastSessionNo = %v, want %d", room["lastSessionNo"], session)
	}
	k, _ := room["streamKey"].(map[string]any)
	switch {
	case keyState == "" && k != nil:
		t.Fatalf("streamKey = %v, want null", k)
	case keyState != "" && (k == nil || k["streamKeyState"] != keyState):
		t.Fatalf("streamKey = %v, want state %s", k, keyState)
	}
}

// checkURLs checks the derived play URLs of a room.
func checkURLs(t *testing.T, room map[string]any, uuid string, session int, hls, dash, rtmp, playIsRTMP bool) {
	t.Helper()
	base := "http://media.test/live/" + uuid + "/" + itoa(session)
	want := map[string]any{"cmafHlsPlayUrl": nil, "cmafDashPlayUrl": nil, "rtmpPlayUrl": nil, "playUrl": nil, "liveUrl": nil}
	if hls {
		want["cmafHlsPlayUrl"] = base + "/index.m3u8"
	}
	if dash {
		want["cmafDashPlayUrl"] = base + "/index.mpd"
	}
	if rtmp {
		want["rtmpPlayUrl"] = "rtmp://media.test:1935/play/" + uuid
	}
	switch {
	case playIsRTMP:
		want["playUrl"] = want["rtmpPlayUrl"]
	case hls:
		want["playUrl"] = want["cmafHlsPlayUrl"]
	}
	want["liveUrl"] = want["playUrl"]
	for k, v := range want {
		if room[k] != v {
			t.Errorf("%s = %v, want %v", k, room[k], v)
		}
	}
}

func itoa(n int) string { return idString(n) }

// TestMemberBroadcastFlow runs start/end/cancel through the Member API (owner only).
func TestMemberBroadcastFlow(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	other := e.newMember(app, "other")
	room := e.must(201, "POST", "/v2/members/me/video-rooms", bearer(host.Access), map[string]any{
		"type": "BROADCAST_RTMP", "title": "Mine", "scheduledAt": "2025-03-02T10:00:00Z",
	}).JSON()
	if room["creatorType"] != "MEMBER" || room["creatorId"].(float64) != float64(host.ID) {
		t.Fatalf("creator = %v %v", room["creatorType"], room["creatorId"])
	}
	p := "/v2/members/me/video-rooms/" + idString(room["id"])
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "POST", "/v2/members/me/video-rooms/999/start", bearer(host.Access), nil)
	e.fail(403, "VIDEO_ROOM_NOT_OWNED", "POST", p+"/start", bearer(other.Access), nil)
	e.fail(400, "STREAM_KEY_STATE_NOT_ACTIVE", "POST", p+"/start", bearer(host.Access), nil)
	ps, err := e.c.PublishStarted(ctx, host.Key, "CMAF")
	if err != nil {
		t.Fatal(err)
	}
	checkRoom(t, e.must(200, "POST", p+"/start", bearer(host.Access), nil).JSON(), "LIVE", "ACTIVE_LIVE", 1)
	// Another member sees the play URL of the live room.
	seen := e.must(200, "GET", p, bearer(other.Access), nil).JSON()
	checkURLs(t, seen, room["uuid"].(string), 1, true, true, false, false)
	seen = e.must(200, "GET", "/v2/members/me/video-rooms/uuid/"+room["uuid"].(string), bearer(other.Access), nil).JSON()
	checkRoom(t, seen, "LIVE", "ACTIVE_LIVE", 1)
	e.fail(400, "VIDEO_ROOM_STATE_NOT_LIVE_INACTIVE", "POST", p+"/end", bearer(host.Access), nil)
	if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
		t.Fatal(err)
	}
	e.fail(403, "VIDEO_ROOM_NOT_OWNED", "POST", p+"/end", bearer(other.Access), nil)
	checkRoom(t, e.must(200, "POST", p+"/end", bearer(host.Access), nil).JSON(), "ENDED", "", 1)

	// Cancel.
	room2 := e.must(201, "POST", "/v2/members/me/video-rooms", bearer(host.Access), map[string]any{
		"type": "BROADCAST_RTMP", "scheduledAt": "2025-03-02T10:00:00Z"}).JSON()
	p2 := "/v2/members/me/video-rooms/" + idString(room2["id"])
	e.fail(403, "VIDEO_ROOM_NOT_OWNED", "POST", p2+"/cancel", bearer(other.Access), nil)
	got := e.must(200, "POST", p2+"/cancel", bearer(host.Access), nil).JSON()
	if got["videoRoomState"] != "CANCELLED" || got["cancelledAt"] == nil {
		t.Fatalf("cancelled room: %v", got)
	}
	e.fail(400, "VIDEO_ROOM_STATE_NOT_SCHEDULED", "POST", p2+"/cancel", bearer(host.Access), nil)
	e.fail(400, "VIDEO_ROOM_STATE_NOT_SCHEDULED", "POST", p2+"/start", bearer(host.Access), nil)

	// Media operations on a WEB_RTC room.
	conf := e.must(201, "POST", "/v2/members/me/video-rooms", bearer(host.Access), map[string]any{
		"type": "VIDEO_CONFERENCE", "password": "pw"}).JSON()
	if conf["protocol"] != "WEB_RTC" || conf["format"] != "UNDEFINED" || conf["streamKey"] != nil ||
		conf["policy"].(map[string]any)["hasPassword"] != true {
		t.Fatalf("conference room: %v", conf)
	}
	pc := "/v2/members/me/video-rooms/" + idString(conf["id"])
	for _, action := range []string{"start", "end", "cancel"} {
		e.fail(400, "VIDEO_ROOM_TYPE_NOT_BROADCAST_RTMP", "POST", pc+"/"+action, bearer(host.Access), nil)
		e.fail(400, "VIDEO_ROOM_TYPE_NOT_BROADCAST_RTMP", "POST",
			"/v2/apps/me/video-rooms/"+idString(conf["id"])+"/rtmp-broadcast/state/"+
				map[string]string{"start": "live", "end": "ended", "cancel": "cancelled"}[action], app, nil)
	}
}

// TestPublishSeams covers the errors of PublishStarted/Stopped, AuthorizePlay and Room.
func TestPublishSeams(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, app := e.newApp("app")
	_, app2 := e.newApp("app2")
	host := e.newMember(app, "host")
	stranger := e.newMember(app2, "viewer")
	viewer := e.newMember(app, "viewer")

	if _, err := e.c.PublishStarted(ctx, "no-such-key", "CMAF"); !errors.Is(err, control.ErrStreamKeyNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := e.c.PublishStarted(ctx, host.Key, "HLS"); !errors.Is(err, control.ErrInvalidMode) {
		t.Fatalf("bad mode: %v", err)
	}
	if _, err := e.c.PublishStarted(ctx, host.Key+"x", ""); !errors.Is(err, control.ErrStreamKeyNotFound) {
		t.Fatalf("near key: %v", err)
	}
	if err := e.c.PublishStopped(ctx, 9999, "CLIENT_UNPUBLISH"); !errors.Is(err, control.ErrStreamKeyNotFound) {
		t.Fatalf("unknown key id: %v", err)
	}
	room := e.newRoom(app, "host", "Play")
	uuid := room["uuid"].(string)
	ps, err := e.c.PublishStarted(ctx, host.Key, "RTMP_CMAF")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AuthorizePlay(ctx, uuid, viewer.Streaming); !errors.Is(err, control.ErrVideoRoomNotLive) {
		t.Fatalf("play before start: %v", err)
	}
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
	keyID, err := e.c.AuthorizePlay(ctx, uuid, viewer.Streaming)
	if err != nil || keyID != ps.KeyID {
		t.Fatalf("AuthorizePlay = %d, %v", keyID, err)
	}
	if _, err := e.c.AuthorizePlay(ctx, uuid, viewer.Access); !errors.Is(err, control.ErrUnauthorized) {
		t.Fatalf("access token as streaming token: %v", err)
	}
	if _, err := e.c.AuthorizePlay(ctx, uuid, stranger.Streaming); !errors.Is(err, control.ErrVideoRoomNotFound) {
		t.Fatalf("other app's viewer: %v", err)
	}
	if _, err := e.c.AuthorizePlay(ctx, "nope", viewer.Streaming); !errors.Is(err, control.ErrVideoRoomNotFound) {
		t.Fatalf("unknown room: %v", err)
	}
	cl, err := e.c.VerifyStreamingToken(viewer.Streaming)
	if err != nil || cl.MemberID != viewer.ID || cl.Kind != member.TokenStreaming {
		t.Fatalf("VerifyStreamingToken = %+v, %v", cl, err)
	}
	v, err := e.c.Room(ctx, uuid)
	if err != nil || v.VideoRoomState != control.VideoRoomStateLive || v.SessionNo != 1 || v.Mode != publish.ModeRTMPCMAF ||
		v.PlayURL != "http://media.test/live/"+uuid+"/1/index.m3u8" || v.RTMPPlayURL == "" || v.Title != "Play" {
		t.Fatalf("Room = %+v, %v", v, err)
	}
	if _, err := e.c.Room(ctx, "nope"); !errors.Is(err, control.ErrVideoRoomNotFound) {
		t.Fatalf("Room(unknown): %v", err)
	}
	// Webhook and SSE payloads of the live event.
	ev := e.rec.last()
	if ev.Name != events.EventVideoRoomLive || ev.Seq == 0 || ev.ID == "" || ev.ChannelID != ev.RoomID {
		t.Fatalf("event = %+v", ev)
	}
	msg := decodeMap(t, ev.Message)
	data := msg["customData"].(map[string]any)
	if msg["customType"] != "CHANGE_DATA_CAPTURE" || msg["origin"] != "SYSTEM" || data["videoRoomState"] != "LIVE" ||
		data["playUrl"] != v.PlayURL || data["videoRoomId"] != idString(room["id"]) {
		t.Fatalf("SSE message = %v", msg)
	}
	wh := decodeMap(t, ev.Webhook)
	if wh["event"] != events.EventVideoRoomLive || wh["payload"].(map[string]any)["videoRoom"].(map[string]any)["uuid"] != uuid {
		t.Fatalf("webhook = %v", wh)
	}
	// The outbox holds the same event.
	err = e.store.View(func(tx *storageTx) error {
		return tx.ForEachEventAfter(ev.Seq-1, func(rec storageEvent) (bool, error) {
			got, err := events.DecodeEvent(rec)
			if err != nil || got.ID != ev.ID || got.Seq != ev.Seq || string(got.Webhook) != string(ev.Webhook) {
				t.Fatalf("outbox event = %+v, %v", got, err)
			}
			return false, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The publish-stopped event carries the reason and never the secret.
	if err := e.c.PublishStopped(ctx, ps.KeyID, "IDLE_TIMEOUT"); err != nil {
		t.Fatal(err)
	}
	e.rec.mu.Lock()
	stop := e.rec.events[len(e.rec.events)-2]
	e.rec.mu.Unlock()
	if stop.Name != events.EventPublishStopped || !contains(stop.Webhook, `"reason":"IDLE_TIMEOUT"`) || contains(stop.Webhook, host.Key) {
		t.Fatalf("publish stopped event = %s", stop.Webhook)
	}
	if _, err := e.c.AuthorizePlay(ctx, uuid, viewer.Streaming); !errors.Is(err, control.ErrPlayInactive) {
		t.Fatalf("play while LIVE_INACTIVE: %v (want ErrPlayInactive: a playing relay waits)", err)
	}
	// resumed without RTMP: still inactive for the relay
	if _, err := e.c.PublishStarted(ctx, host.Key, "CMAF"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AuthorizePlay(ctx, uuid, viewer.Streaming); !errors.Is(err, control.ErrPlayInactive) {
		t.Fatalf("play of a CMAF-only session: %v", err)
	}
	if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/ended", app, nil)
	_, err = e.c.AuthorizePlay(ctx, uuid, viewer.Streaming)
	if !errors.Is(err, control.ErrVideoRoomNotLive) || errors.Is(err, control.ErrPlayInactive) {
		t.Fatalf("play after the end: %v (the relay must stop)", err)
	}
}

func TestRecover(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	preview := e.newMember(app, "preview")
	room := e.newRoom(app, "host", "Crash")
	if _, err := e.c.PublishStarted(ctx, host.Key, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.PublishStarted(ctx, preview.Key, ""); err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
	if err := e.c.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	checkRoom(t, e.must(200, "GET", roomPath(room), app, nil).JSON(), "LIVE_INACTIVE", "INACTIVE_LIVE", 1)
	k := e.must(200, "GET", "/v2/apps/me/members/preview/stream-key", app, nil).JSON()
	if k["streamKeyState"] != "INACTIVE" {
		t.Fatalf("preview key after recover: %v", k)
	}
	if !contains(e.rec.last().Webhook, "SERVER_RESTART") && !contains(e.rec.events[len(e.rec.events)-2].Webhook, "SERVER_RESTART") {
		t.Fatal("no SERVER_RESTART stop event")
	}
	// Resume after the restart.
	ps, err := e.c.PublishStarted(ctx, host.Key, "")
	if err != nil || ps.SessionNo != 2 {
		t.Fatalf("resume after recover = %+v, %v", ps, err)
	}
}

func TestHTTPHookOrder(t *testing.T) {
	// The hooks see the committed state: a GET from OnSessionLive already reads LIVE.
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	room := e.newRoom(app, "host", "Hook")
	var seen string
	e.c.OnSessionLive = func(s control.SessionInfo) {
		v, err := e.c.Room(context.Background(), s.RoomUUID)
		if err == nil {
			seen = string(v.VideoRoomState)
		}
	}
	if _, err := e.c.PublishStarted(context.Background(), host.Key, ""); err != nil {
		t.Fatal(err)
	}
	e.must(http.StatusOK, "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
	if seen != "LIVE" {
		t.Fatalf("OnSessionLive saw %q", seen)
	}
}

// TestRoomStreamKeyOnlyWhileBound: a room shows its streamKey object only while
// the key is bound to it (LIVE, LIVE_INACTIVE); a SCHEDULED room shows null, also
// while the key publishes a preview or is LIVE in another room of its member, and
// so does an ENDED one.
func TestRoomStreamKeyOnlyWhileBound(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	a, b := e.newRoom(app, "host", "A"), e.newRoom(app, "host", "B")
	memberPath := func(room map[string]any) string { return "/v2/members/me/video-rooms/" + idString(room["id"]) }
	// key checks room's streamKey on every view: App and Member API, get and list.
	key := func(room map[string]any, want string) {
		t.Helper()
		views := []map[string]any{
			e.must(200, "GET", roomPath(room), app, nil).JSON(),
			e.must(200, "GET", memberPath(room), bearer(host.Access), nil).JSON(),
		}
		for _, list := range []resp{
			e.must(200, "GET", "/v2/apps/me/video-rooms", app, nil),
			e.must(200, "GET", "/v2/members/me/video-rooms", bearer(host.Access), nil),
		} {
			for _, r := range list.JSON()["content"].([]any) {
				if r.(map[string]any)["id"] == room["id"] {
					views = append(views, r.(map[string]any))
				}
			}
		}
		if len(views) != 4 {
			t.Fatalf("room %v in %d views, want 4", room["id"], len(views))
		}
		for _, v := range views {
			k, present := v["streamKey"]
			switch got, _ := k.(map[string]any); {
			case !present:
				t.Fatalf("room %v: no streamKey field", room["id"])
			case want == "" && k != nil:
				t.Fatalf("room %v (%v): streamKey = %v, want null", room["id"], v["videoRoomState"], k)
			case want != "" && (got == nil || got["streamKeyState"] != want || got["id"] != float64(host.KeyID) || got["state"] != "ACTIVE"):
				t.Fatalf("room %v (%v): streamKey = %v, want key %d %s", room["id"], v["videoRoomState"], k, host.KeyID, want)
			}
		}
	}
	key(a, "")
	key(b, "")

	ps, err := e.c.PublishStarted(ctx, host.Key, "CMAF") // preview: key ACTIVE, bound to no room
	if err != nil {
		t.Fatal(err)
	}
	key(a, "")
	key(b, "")

	e.must(200, "POST", roomPath(a)+"/rtmp-broadcast/state/live", app, nil) // bound to A
	key(a, "ACTIVE_LIVE")
	key(b, "")

	if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
		t.Fatal(err)
	}
	key(a, "INACTIVE_LIVE")
	key(b, "")

	e.must(200, "POST", roomPath(a)+"/rtmp-broadcast/state/ended", app, nil) // the key forgets A
	key(a, "")
	key(b, "")

	// B goes live in turn.
	if _, err := e.c.PublishStarted(ctx, host.Key, "CMAF"); err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", roomPath(b)+"/rtmp-broadcast/state/live", app, nil)
	key(a, "")
	key(b, "ACTIVE_LIVE")
}
