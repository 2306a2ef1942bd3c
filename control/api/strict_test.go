package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/roomcast/roomcast/control/member/membertest"
)

// strictFixture is an app with a member, a SCHEDULED room of the member with a
// chat room and one chat message: every kind of request body has a target.
type strictFixture struct {
	e      *env
	app    auth
	host   testMember
	room   string // App API path of the room
	member string // Member API path of the room
}

func newStrictFixture(t *testing.T) strictFixture {
	t.Helper()
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	room := e.newRoom(app, "host", "Show")
	f := strictFixture{e: e, app: app, host: host, room: roomPath(room),
		member: "/v2/members/me/video-rooms/" + idString(room["id"])}
	e.must(http.StatusOK, "POST", f.room+"/chat-room", app, "")
	e.must(http.StatusCreated, "POST", f.room+"/chat-room/admin/messages/broadcast", app,
		map[string]any{"messageType": "MESSAGE", "message": "hello"})
	return f
}

// refuseField sends body and checks the answer is 400 INVALID_REQUEST whose
// message is want.
func (e *env) refuseField(want, method, path string, a auth, body any) {
	e.t.Helper()
	e.fail(http.StatusBadRequest, "INVALID_REQUEST", method, path, a, body)
	r := e.do(method, path, a, body)
	var msg struct{ Message string }
	if err := json.Unmarshal(r.Body, &msg); err != nil || msg.Message != want {
		e.t.Fatalf("%s %s: message %q, want %q", method, path, msg.Message, want)
	}
}

// TestUnknownFieldsRefused: a field the API does not have, at any depth and on
// every kind of body, is a 400 INVALID_REQUEST that names it, and changes nothing.
func TestUnknownFieldsRefused(t *testing.T) {
	f := newStrictFixture(t)
	e, app, me := f.e, f.app, bearer(f.host.Access)
	room := map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP", "scheduledAt": "2025-03-01T13:00:00Z"}
	with := func(base map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for bk, bv := range base {
			out[bk] = bv
		}
		return out
	}
	memberRoom := map[string]any{"type": "BROADCAST_RTMP", "scheduledAt": "2025-03-01T13:00:00Z"}
	msg := map[string]any{"messageType": "MESSAGE", "message": "m"}
	for _, tc := range []struct {
		name, method, path string
		auth               auth
		body               any
		want               string
	}{
		{"room create", "POST", "/v2/apps/me/video-rooms", app, with(room, "customRoomId", "aaa-bbb"), `unknown field "customRoomId"`},
		{"room create autoEnd", "POST", "/v2/apps/me/video-rooms", app,
			with(room, "autoEnd", map[string]any{"inactiveSeconds": 30, "foo": 1}), `unknown field "autoEnd.foo"`},
		{"room create webhook", "POST", "/v2/apps/me/video-rooms", app,
			with(room, "webhook", map[string]any{"endPoint": "http://hooks.test/x", "event": []string{"video_room.live"}}), `unknown field "webhook.event"`},
		{"room create other case", "POST", "/v2/apps/me/video-rooms", app,
			`{"appUserId":"host","Type":"WEBINAR","type":"WEBINAR"}`, `unknown field "Type"`},
		{"room create duplicate", "POST", "/v2/apps/me/video-rooms", app,
			`{"appUserId":"host","type":"WEBINAR","title":"a","title":"b"}`, `duplicate field "title"`},
		{"member room create", "POST", "/v2/members/me/video-rooms", me, with(memberRoom, "region", "sg001"), `unknown field "region"`},
		{"member room create appUserId", "POST", "/v2/members/me/video-rooms", me, with(memberRoom, "appUserId", "host"), `unknown field "appUserId"`},
		{"member create", "POST", "/v2/apps/me/members", app, map[string]any{"appUserId": "bob", "nickname": "B"}, `unknown field "nickname"`},
		{"member update", "POST", "/v2/apps/me/members", app, map[string]any{"appUserId": "host", "appUserName": "X", "customType": "VIP"}, `unknown field "customType"`},
		{"member tokens", "POST", "/v2/apps/me/members/host/tokens", app, map[string]any{"revokeExisting": true, "ttl": 60}, `unknown field "ttl"`},
		{"stream key reset", "POST", "/v2/apps/me/members/host/stream-key/reset", app, map[string]any{"streamKey": "mine"}, `unknown field "streamKey"`},
		{"start", "POST", f.room + "/rtmp-broadcast/state/live", app, map[string]any{"mode": "CMAF"}, `unknown field "mode"`},
		{"end", "POST", f.room + "/rtmp-broadcast/state/ended", app, map[string]any{"force": true, "now": 1}, `unknown field "now"`},
		{"cancel", "POST", f.room + "/rtmp-broadcast/state/cancelled", app, map[string]any{"reason": "x"}, `unknown field "reason"`},
		{"member start", "POST", f.member + "/start", me, map[string]any{"mode": "CMAF"}, `unknown field "mode"`},
		{"member end", "POST", f.member + "/end", me, map[string]any{"force": true}, `unknown field "force"`},
		{"member cancel", "POST", f.member + "/cancel", me, map[string]any{"reason": "x"}, `unknown field "reason"`},
		{"join", "POST", f.member + "/join", me, map[string]any{"password": "", "muted": true}, `unknown field "muted"`},
		{"leave", "POST", f.member + "/leave", me, map[string]any{"all": true}, `unknown field "all"`},
		{"chat room create", "POST", f.room + "/chat-room", app, map[string]any{"name": "x"}, `unknown field "name"`},
		{"chat member add", "POST", f.room + "/chat-room/members", app, map[string]any{"appUserId": "host", "role": "admin"}, `unknown field "role"`},
		{"chat broadcast", "POST", f.room + "/chat-room/admin/messages/broadcast", app, with(msg, "priority", 1), `unknown field "priority"`},
		{"chat direct", "POST", f.room + "/chat-room/admin/messages/direct", app,
			map[string]any{"messageType": "DM", "appUserIds": []string{"host"}, "appUserId": "host"}, `unknown field "appUserId"`},
		{"chat hide", "POST", f.room + "/chat-room/messages/1/hide", app, map[string]any{"hidden": true}, `unknown field "hidden"`},
		{"chat unhide", "POST", f.room + "/chat-room/messages/1/unhide", app, map[string]any{"hidden": false}, `unknown field "hidden"`},
		{"chat room close", "POST", f.room + "/chat-room/close", app, map[string]any{"closed": true}, `unknown field "closed"`},
		{"callback", "PUT", "/v2/apps/me/callback", app, map[string]any{"url": "http://hooks.test/x", "secret": "s"}, `unknown field "secret"`},
		{"callback secret", "POST", "/v2/apps/me/callback/secret", app, map[string]any{"secret": "s"}, `unknown field "secret"`},
		{"redeliver", "POST", "/v2/apps/me/callback/deliveries/1/redeliver", app, map[string]any{"now": true}, `unknown field "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.refuseField(tc.want, tc.method, tc.path, tc.auth, tc.body)
		})
	}

	// Nothing changed.
	if n := e.must(200, "GET", "/v2/apps/me/video-rooms", app, nil).JSON()["totalElements"]; n != 1.0 {
		t.Fatalf("rooms: %v", n)
	}
	e.fail(404, "MEMBER_NOT_FOUND", "GET", "/v2/apps/me/members/bob", app, nil)
	if m := e.must(200, "GET", "/v2/apps/me/members/host", app, nil).JSON(); m["appUserName"] != "name-host" {
		t.Fatalf("member updated by a refused body: %v", m)
	}
	if k := e.must(200, "GET", "/v2/apps/me/members/host/stream-key", app, nil).JSON(); k["streamKey"] != f.host.Key {
		t.Fatal("stream key reset by a refused body")
	}
	if r := e.must(200, "GET", f.room, app, nil).JSON(); r["videoRoomState"] != "SCHEDULED" {
		t.Fatalf("room: %v", r["videoRoomState"])
	}
	if c := e.must(200, "GET", f.room+"/chat-room", app, nil).JSON(); c["totalChatMessageCount"] != 1.0 ||
		c["totalChatMemberCount"] != 0.0 || c["closed"] != false {
		t.Fatalf("chat room: %v", c)
	}
	if m := e.must(200, "GET", f.room+"/chat-room/messages/1", app, nil).JSON(); m["hidden"] == true {
		t.Fatalf("message hidden by a refused body: %v", m)
	}
	if cb := e.must(200, "GET", "/v2/apps/me/callback", app, nil).JSON(); cb["url"] != nil || cb["secret"] != nil {
		t.Fatalf("callback: %v", cb)
	}
	if _, err := e.c.VerifyAccessToken(f.host.Access); err != nil {
		t.Fatalf("tokens revoked by a refused body: %v", err)
	}
}

// TestKnownBodiesAccepted: the bodies of the API documents, with every field the
// API has, and the empty bodies of the endpoints that take none.
func TestKnownBodiesAccepted(t *testing.T) {
	f := newStrictFixture(t)
	e, app, me := f.e, f.app, bearer(f.host.Access)
	e.must(201, "POST", "/v2/apps/me/members", app,
		`{"appUserId":"bob","appUserName":"Bob","appUserProfileImgUrl":"https://img.test/bob.jpg"}`)
	e.must(200, "POST", "/v2/apps/me/members", app, `{"appUserId":"bob","appUserName":"Bobby"}`)
	e.must(201, "POST", "/v2/apps/me/video-rooms", app, `{
		"appUserId": "host", "type": "BROADCAST_RTMP", "title": "Foo Video Room",
		"description": "Foo Video Room Description", "accessLevel": "PUBLIC",
		"scheduledAt": "2022-10-19T23:59:59.999Z", "customType": "SHOW", "customData": {"foo": "bar"},
		"password": null, "autoEnd": {"inactiveSeconds": 60},
		"webhook": {"endPoint": "https://hooks.test/room", "events": ["video_room.live"]}}`)
	conf := e.must(201, "POST", "/v2/members/me/video-rooms", me, `{
		"type": "VIDEO_CONFERENCE", "title": "foo-video-room", "customType": "GROUP_METTING",
		"customData": {"foo": "bar"}, "password": "pw"}`).JSON()
	confPath := "/v2/members/me/video-rooms/" + idString(conf["id"])
	e.must(200, "POST", confPath+"/join", me, `{"password":"pw"}`)
	e.must(200, "POST", confPath+"/leave", me, `{}`)
	e.must(200, "POST", confPath+"/leave", me, "")
	e.must(200, "POST", "/v2/apps/me/members/host/tokens", app, `{"revokeExisting":false}`)
	e.must(201, "POST", f.room+"/chat-room/members", app, `{"appUserId":"bob"}`)
	e.must(201, "POST", f.room+"/chat-room/admin/messages/broadcast", app, `{
		"messageType": "MESSAGE", "customType": "MSG", "message": "Foo Message",
		"data": {"foo": "bar", "nested": {"any": ["thing"]}}, "appUserIds": ["host", "bob"]}`)
	e.must(201, "POST", f.room+"/chat-room/admin/messages/direct", app,
		`{"messageType":"DM","customType":"DM","message":"Foo Message","data":{"foo":"bar"},"appUserIds":["bob"]}`)
	e.must(204, "POST", f.room+"/chat-room/messages/1/hide", app, `{}`)
	e.must(204, "POST", f.room+"/chat-room/messages/1/unhide", app, "")
	e.must(200, "POST", f.room+"/chat-room/close", app, `{}`)
	e.must(200, "PUT", "/v2/apps/me/callback", app, `{"url":"https://hooks.test/app","events":["video_room.live"]}`)
	e.must(200, "POST", "/v2/apps/me/callback/secret", app, `{}`)
	e.must(200, "POST", "/v2/apps/me/members/host/stream-key/reset", app, " {} ")
	e.must(200, "POST", f.room+"/rtmp-broadcast/state/cancelled", app, `{}`)
	// An empty body where none is taken, but not another JSON value.
	e.fail(400, "INVALID_REQUEST", "POST", f.member+"/cancel", me, `[]`)
}

// TestTokenRespellingsRefused: an access token verifies on the Member API (and
// its event source) only as issued; the other spellings of its bytes are 401.
// (Those with a line break cannot be sent in a header: member/token_test.go.)
func TestTokenRespellingsRefused(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	others := slices.DeleteFunc(membertest.Respellings(host.Access), func(tok string) bool {
		return strings.ContainsAny(tok, "\r\n")
	})
	if len(others) < 4 {
		t.Fatalf("only %d respellings", len(others))
	}
	e.must(200, "GET", "/v2/members/me", bearer(host.Access), nil)
	for _, tok := range others {
		for _, path := range []string{"/v2/members/me", "/v2/members/me/video-rooms", "/v2/members/me/event-sources"} {
			e.clock.Add(authAddrInterval) // each failure's budget back: 401, not 429
			e.fail(http.StatusUnauthorized, "UNAUTHORIZED", "GET", path, bearer(tok), nil)
		}
	}
	e.must(200, "GET", "/v2/members/me/video-rooms", bearer(host.Access), nil)
}
