package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/storage"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	creds, app := e.newApp("app")
	m := e.newMember(app, "u1")
	for _, tc := range []struct {
		name string
		path string
		a    auth
	}{
		{"app/none", "/v2/apps/me/video-rooms", ""},
		{"app/wrong-secret", "/v2/apps/me/video-rooms", basic(control.Credentials{APIKey: creds.APIKey, APISecret: "x"})},
		{"app/unknown-key", "/v2/apps/me/video-rooms", basic(control.Credentials{APIKey: "nope", APISecret: creds.APISecret})},
		{"app/garbage", "/v2/apps/me/video-rooms", "Basic !!!"},
		{"app/bearer", "/v2/apps/me/video-rooms", bearer(m.Access)},
		{"member/none", "/v2/members/me", ""},
		{"member/garbage", "/v2/members/me", "Bearer abc.def"},
		{"member/basic", "/v2/members/me", app},
		{"member/streaming-token", "/v2/members/me", bearer(m.Streaming)},
		{"member/tampered", "/v2/members/me", bearer(tamper(m.Access))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.fail(http.StatusUnauthorized, "UNAUTHORIZED", "GET", tc.path, tc.a, nil)
		})
	}
	me := e.must(200, "GET", "/v2/members/me", bearer(m.Access), nil).JSON()
	if me["appUserId"] != "u1" || me["appUserName"] != "name-u1" {
		t.Fatalf("me = %v", me)
	}
	e.must(200, "GET", "/v2/members/me/", bearer(m.Access), nil)

	// Expiry.
	e.clock.Add(control.DefaultTokenTTL + time.Second)
	e.fail(401, "UNAUTHORIZED", "GET", "/v2/members/me", bearer(m.Access), nil)
	if _, err := e.c.VerifyStreamingToken(m.Streaming); err == nil {
		t.Fatal("expired streaming token accepted")
	}
	e.clock.Add(-control.DefaultTokenTTL - time.Second)

	// Rotation without revokeExisting keeps old tokens; with it revokes them.
	tok := e.must(200, "POST", "/v2/apps/me/members/u1/tokens", app, `{}`).JSON()
	e.must(200, "GET", "/v2/members/me", bearer(m.Access), nil)
	tok2 := e.must(200, "POST", "/v2/apps/me/members/u1/tokens", app, `{"revokeExisting":true}`).JSON()
	e.fail(401, "UNAUTHORIZED", "GET", "/v2/members/me", bearer(m.Access), nil)
	e.fail(401, "UNAUTHORIZED", "GET", "/v2/members/me", bearer(tok["accessToken"].(string)), nil)
	if _, err := e.c.VerifyStreamingToken(m.Streaming); err == nil {
		t.Fatal("revoked streaming token accepted")
	}
	e.must(200, "GET", "/v2/members/me", bearer(tok2["accessToken"].(string)), nil)
	if _, err := e.c.VerifyStreamingToken(tok2["streamingToken"].(string)); err != nil {
		t.Fatalf("new streaming token: %v", err)
	}
	if exp, _ := time.Parse(time.RFC3339Nano, tok2["expiresAt"].(string)); !exp.Equal(e.clock.Now().Add(control.DefaultTokenTTL).Truncate(time.Second)) {
		t.Fatalf("expiresAt = %v", tok2["expiresAt"])
	}
	e.fail(404, "MEMBER_NOT_FOUND", "POST", "/v2/apps/me/members/nobody/tokens", app, nil)
	e.fail(400, "INVALID_REQUEST", "POST", "/v2/apps/me/members/u1/tokens", app, `{"revokeExisting":"yes"}`)
}

// tamper flips one character of the token's MAC.
func tamper(tok string) string {
	b := []byte(tok)
	i := len(b) - 3
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestMembersAndStreamKeys(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	m := e.must(201, "POST", "/v2/apps/me/members", app, map[string]any{"appUserId": "a/b c", "appUserName": "Ann"}).JSON()
	if m["appUserId"] != "a/b c" || m["appUserName"] != "Ann" || m["appUserProfileImgUrl"] != nil || m["state"] != "ACTIVE" {
		t.Fatalf("member = %v", m)
	}
	up := e.must(200, "POST", "/v2/apps/me/members", app,
		map[string]any{"appUserId": "a/b c", "appUserProfileImgUrl": "https://img/x.png"}).JSON()
	if up["id"] != m["id"] || up["appUserName"] != "Ann" || up["appUserProfileImgUrl"] != "https://img/x.png" {
		t.Fatalf("upserted member = %v", up)
	}
	got := e.must(200, "GET", "/v2/apps/me/members/a%2Fb%20c", app, nil).JSON()
	if got["id"] != m["id"] {
		t.Fatalf("get member = %v", got)
	}
	e.fail(404, "MEMBER_NOT_FOUND", "GET", "/v2/apps/me/members/zzz", app, nil)
	e.fail(404, "MEMBER_NOT_FOUND", "GET", "/v2/apps/me/members/zzz/stream-key", app, nil)
	e.fail(404, "MEMBER_NOT_FOUND", "POST", "/v2/apps/me/members/zzz/stream-key/reset", app, nil)
	for _, body := range []any{`{}`, `{"appUserId":""}`, `{"appUserId":null}`} {
		e.fail(400, "EMPTY_MEMBER_APP_USER_ID", "POST", "/v2/apps/me/members", app, body)
	}
	for _, body := range []any{`{"appUserId":5}`, `[1]`, `{"appUserId":"x"`, ``, `{"appUserId":"x"} {}`,
		map[string]any{"appUserId": strings.Repeat("x", 129)}} {
		e.fail(400, "INVALID_REQUEST", "POST", "/v2/apps/me/members", app, body)
	}

	k := e.must(200, "GET", "/v2/apps/me/members/a%2Fb%20c/stream-key", app, nil).JSON()
	secret := k["streamKey"].(string)
	if len(secret) < 22 || k["ingestUrl"] != "rtmp://media.test:1935/live" || k["streamKeyState"] != "INACTIVE" {
		t.Fatalf("stream key = %v", k)
	}
	k2 := e.must(200, "POST", "/v2/apps/me/members/a%2Fb%20c/stream-key/reset", app, nil).JSON()
	if k2["streamKey"] == secret || k2["id"] != k["id"] {
		t.Fatalf("reset key = %v", k2)
	}
	if _, err := e.c.PublishStarted(context.Background(), secret, ""); err == nil {
		t.Fatal("old secret still publishes")
	}
	mm := e.newMember(app, "m2")
	mk := e.must(200, "GET", "/v2/members/me/stream-key", bearer(mm.Access), nil).JSON()
	if mk["streamKey"] != mm.Key {
		t.Fatalf("member's own key = %v", mk)
	}
	if _, err := e.c.PublishStarted(context.Background(), mm.Key, "CMAF"); err != nil {
		t.Fatal(err)
	}
	// A reset while publishing stops the publish (this harness has no ingest:
	// control applies the stop itself) and the old secret no longer publishes.
	reset := e.must(200, "POST", "/v2/apps/me/members/m2/stream-key/reset", app, nil).JSON()
	if reset["streamKeyState"] != "INACTIVE" || reset["streamKey"] == mm.Key {
		t.Fatalf("key reset while publishing = %v", reset)
	}
	if _, err := e.c.PublishStarted(context.Background(), mm.Key, "CMAF"); !errors.Is(err, control.ErrStreamKeyNotFound) {
		t.Fatalf("old secret after a reset while publishing: %v", err)
	}
	if _, err := e.c.PublishStarted(context.Background(), reset["streamKey"].(string), "CMAF"); err != nil {
		t.Fatalf("new secret: %v", err)
	}
}

func TestCreateRoomValidation(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	m := e.newMember(app, "host")
	long := strings.Repeat("é", 51)
	items := map[string]string{}
	for i := range 11 {
		items[fmt.Sprint("k", i)] = "v"
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no-app-user", map[string]any{"type": "BROADCAST_RTMP", "scheduledAt": "2025-01-01T00:00:00Z"}, 400, "EMPTY_VIDEO_ROOM_APP_USER_ID"},
		{"no-type", map[string]any{"appUserId": "host"}, 400, "EMPTY_VIDEO_ROOM_TYPE"},
		{"bad-type", map[string]any{"appUserId": "host", "type": "SURVEILLANCE"}, 400, "INVALID_REQUEST"},
		{"type-number", map[string]any{"appUserId": "host", "type": 1}, 400, "INVALID_REQUEST"},
		{"no-scheduled", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP"}, 400, "EMPTY_VIDEO_ROOM_SCHEDULED_AT"},
		{"bad-scheduled", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP", "scheduledAt": "tomorrow"}, 400, "INVALID_REQUEST"},
		{"scheduled-number", map[string]any{"appUserId": "host", "type": "BROADCAST_RTMP", "scheduledAt": 5}, 400, "INVALID_REQUEST"},
		{"bad-access", map[string]any{"appUserId": "host", "type": "WEBINAR", "accessLevel": "EVERYONE"}, 400, "INVALID_REQUEST"},
		{"custom-type", map[string]any{"appUserId": "host", "type": "WEBINAR", "customType": long}, 400, "CUSTOM_TYPE_SIZE_UPPER_LIMIT_EXCEEDED"},
		{"custom-items", map[string]any{"appUserId": "host", "type": "WEBINAR", "customData": items}, 400, "CUSTOM_DATA_ITEM_COUNT_UPPER_LIMIT_EXCEEDED"},
		{"custom-name", map[string]any{"appUserId": "host", "type": "WEBINAR", "customData": map[string]string{long: "v"}}, 400, "CUSTOM_DATA_ITEM_NAME_SIZE_UPPER_LIMIT_EXCEEDED"},
		{"custom-value", map[string]any{"appUserId": "host", "type": "WEBINAR", "customData": map[string]string{"k": long}}, 400, "CUSTOM_DATA_ITEM_VALUE_SIZE_UPPER_LIMIT_EXCEEDED"},
		{"custom-value-type", `{"appUserId":"host","type":"WEBINAR","customData":{"k":1}}`, 400, "INVALID_REQUEST"},
		{"custom-array", `{"appUserId":"host","type":"WEBINAR","customData":["k"]}`, 400, "INVALID_REQUEST"},
		{"title-long", map[string]any{"appUserId": "host", "type": "WEBINAR", "title": strings.Repeat("t", 201)}, 400, "INVALID_REQUEST"},
		{"auto-end", map[string]any{"appUserId": "host", "type": "WEBINAR", "autoEnd": map[string]any{"inactiveSeconds": 0}}, 400, "INVALID_REQUEST"},
		{"malformed", `{"appUserId":`, 400, "INVALID_REQUEST"},
		{"empty", ``, 400, "INVALID_REQUEST"},
		{"unknown-member", map[string]any{"appUserId": "ghost", "type": "WEBINAR"}, 404, "MEMBER_NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.fail(tc.status, tc.code, "POST", "/v2/apps/me/video-rooms", app, tc.body)
		})
	}
	// Member API: same checks, no appUserId.
	e.fail(400, "EMPTY_VIDEO_ROOM_TYPE", "POST", "/v2/members/me/video-rooms", bearer(m.Access), `{}`)
	e.fail(400, "EMPTY_VIDEO_ROOM_SCHEDULED_AT", "POST", "/v2/members/me/video-rooms", bearer(m.Access), `{"type":"BROADCAST_RTMP"}`)
	e.fail(400, "CUSTOM_TYPE_SIZE_UPPER_LIMIT_EXCEEDED", "POST", "/v2/members/me/video-rooms", bearer(m.Access),
		map[string]any{"type": "WEBINAR", "customType": long})

	// Nothing was created.
	page := e.must(200, "GET", "/v2/apps/me/video-rooms", app, nil).JSON()
	if page["totalElements"].(float64) != 0 {
		t.Fatalf("rooms after bad requests: %v", page["totalElements"])
	}

	// At the limits, everything is accepted and rendered back in order.
	ok := e.must(201, "POST", "/v2/apps/me/video-rooms", app, `{"appUserId":"host","type":"BROADCAST_RTMP",
		"scheduledAt":"2025-01-02T03:04:05.678+09:00","customType":"`+strings.Repeat("é", 50)+`",
		"customData":{"z":"1","a":"`+strings.Repeat("v", 50)+`"},"accessLevel":"PRIVATE","description":"d",
		"autoEnd":{"inactiveSeconds":30}}`).JSON()
	if ok["scheduledAt"] != "2025-01-01T18:04:05.678000Z" || ok["accessLevel"] != "PRIVATE" ||
		ok["autoEnd"].(map[string]any)["inactiveSeconds"].(float64) != 30 || ok["description"] != "d" {
		t.Fatalf("room = %v", ok)
	}
	r := e.must(200, "GET", roomPath(ok), app, nil)
	if !contains(r.Body, `"customData":{"z":"1","a":"`) {
		t.Fatalf("customData order lost: %s", r.Body)
	}
}

// TestRoomJSONFields checks every VideoRoom field is present (null when absent).
func TestRoomJSONFields(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("Foo App")
	e.newMember(app, "host")
	room := e.newRoom(app, "host", "")
	fields := []string{"id", "uuid", "state", "type", "protocol", "format", "videoRoomState", "vodState", "vodUrl",
		"accessLevel", "app", "member", "channel", "creatorType", "creatorId", "title", "description", "customType",
		"customData", "policy", "scheduledAt", "cancelledAt", "lastSessionNo", "liveStartedAt", "liveEndedAt",
		"vodArchivedAt", "streamKey", "playUrl", "liveUrl", "cmafHlsPlayUrl", "cmafDashPlayUrl", "rtmpPlayUrl",
		"videoPost", "chat", "stats", "createdAt", "lastModifiedAt"}
	for _, f := range fields {
		if _, ok := room[f]; !ok {
			t.Errorf("field %s missing", f)
		}
	}
	for _, f := range []string{"vodUrl", "title", "description", "customType", "customData", "cancelledAt",
		"liveStartedAt", "playUrl", "videoPost"} {
		if room[f] != nil {
			t.Errorf("%s = %v, want null", f, room[f])
		}
	}
	if room["state"] != "ACTIVE" || room["protocol"] != "RTMP" || room["format"] != "CMAF" ||
		room["creatorType"] != "APP" || room["app"].(map[string]any)["name"] != "Foo App" ||
		room["vodState"] != "NOT_ARCHIVED" || room["accessLevel"] != "PUBLIC" ||
		room["member"].(map[string]any)["appUserId"] != "host" {
		t.Fatalf("room = %v", room)
	}
	created := room["createdAt"].(string)
	if _, err := time.Parse(time.RFC3339Nano, created); err != nil || !strings.HasSuffix(created, "Z") ||
		created != "2025-03-01T12:00:00.123456Z" {
		t.Fatalf("createdAt = %q", created)
	}
}

func TestListRooms(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	a := e.newMember(app, "a")
	e.newMember(app, "b")
	var ids []string
	for i := range 25 {
		owner := "a"
		if i%5 == 0 {
			owner = "b"
		}
		typ := "BROADCAST_RTMP"
		if i%4 == 0 {
			typ = "WEBINAR"
		}
		r := e.must(201, "POST", "/v2/apps/me/video-rooms", app, map[string]any{
			"appUserId": owner, "type": typ, "title": fmt.Sprintf("Room %02d", i),
			"scheduledAt": "2025-03-01T13:00:00Z", "accessLevel": []string{"PUBLIC", "APP"}[i%2],
		}).JSON()
		ids = append(ids, idString(r["id"]))
		e.clock.Add(time.Second)
	}
	// Touch room 3 so that it is the most recently modified.
	e.must(200, "POST", "/v2/apps/me/video-rooms/"+ids[3]+"/rtmp-broadcast/state/cancelled", app, nil)
	e.must(204, "DELETE", "/v2/apps/me/video-rooms/"+ids[24], app, nil)

	list := func(a auth, q string) map[string]any {
		t.Helper()
		return e.must(200, "GET", "/v2/apps/me/video-rooms"+q, a, nil).JSON()
	}
	firstID := func(p map[string]any) string { return idString(p["content"].([]any)[0].(map[string]any)["id"]) }

	p := list(app, "")
	if p["totalElements"].(float64) != 24 || p["totalPages"].(float64) != 3 || p["size"].(float64) != 10 ||
		p["number"].(float64) != 0 || p["first"] != true || p["last"] != false || p["numberOfElements"].(float64) != 10 ||
		firstID(p) != ids[23] || p["empty"] != false {
		t.Fatalf("default page = total %v pages %v first %v", p["totalElements"], p["totalPages"], firstID(p))
	}
	if pg := p["pageable"].(map[string]any); pg["pageSize"].(float64) != 10 || pg["offset"].(float64) != 0 {
		t.Fatalf("pageable = %v", pg)
	}
	p = list(app, "?page=2&pageSize=10&sortBy=CREATED_AT_ASC")
	if p["numberOfElements"].(float64) != 4 || p["last"] != true || firstID(p) != ids[20] {
		t.Fatalf("last page: %v elements, first %s", p["numberOfElements"], firstID(p))
	}
	if p = list(app, "?page=9"); p["empty"] != true || len(p["content"].([]any)) != 0 {
		t.Fatalf("page beyond the end: %v", p)
	}
	if p = list(app, "?sortBy=LAST_MODIFIED_AT_DESC"); firstID(p) != ids[3] {
		t.Fatalf("LAST_MODIFIED_AT_DESC first = %s", firstID(p))
	}
	if p = list(app, "?sortBy=LAST_MODIFIED_AT_ASC&pageSize=1&page=1"); firstID(p) != ids[1] {
		t.Fatalf("LAST_MODIFIED_AT_ASC second = %s", firstID(p))
	}
	if p = list(app, "?memberId="+fmt.Sprint(a.ID)+"&pageSize=100"); p["totalElements"].(float64) != 19 {
		t.Fatalf("memberId filter: %v", p["totalElements"])
	}
	if p = list(app, "?keyword=room%2001"); p["totalElements"].(float64) != 1 || firstID(p) != ids[1] {
		t.Fatalf("keyword filter: %v", p["totalElements"])
	}
	if p = list(app, "?type=WEBINAR"); p["totalElements"].(float64) != 6 {
		t.Fatalf("type filter: %v", p["totalElements"])
	}
	if p = list(app, "?videoRoomState=CANCELLED"); p["totalElements"].(float64) != 1 {
		t.Fatalf("state filter: %v", p["totalElements"])
	}
	if p = list(app, "?accessLevel=PUBLIC&type=BROADCAST_RTMP"); p["totalElements"].(float64) != 6 {
		t.Fatalf("accessLevel filter: %v", p["totalElements"])
	}
	for _, q := range []string{"?page=-1", "?page=x", "?pageSize=0", "?pageSize=101", "?sortBy=TITLE",
		"?videoRoomState=STARTED", "?type=X", "?accessLevel=x", "?memberId=abc", "?page=99999999"} {
		e.fail(400, "INVALID_REQUEST", "GET", "/v2/apps/me/video-rooms"+q, app, nil)
	}
	// Member API: own rooms only.
	p = e.must(200, "GET", "/v2/members/me/video-rooms?pageSize=100&sortBy=CREATED_AT_ASC", bearer(a.Access), nil).JSON()
	if p["totalElements"].(float64) != 19 {
		t.Fatalf("member list: %v", p["totalElements"])
	}
	e.fail(400, "INVALID_REQUEST", "GET", "/v2/members/me/video-rooms?pageSize=1000", bearer(a.Access), nil)
}

func TestGetDeleteRoom(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	m := e.newMember(app, "host")
	room := e.newRoom(app, "host", "R")
	uuid := room["uuid"].(string)
	e.must(200, "GET", roomPath(room), app, nil)
	e.must(200, "GET", "/v2/apps/me/video-rooms/uuid/"+uuid, app, nil)
	e.must(200, "GET", "/v2/members/me/video-rooms/"+idString(room["id"]), bearer(m.Access), nil)
	for _, p := range []string{"/v2/apps/me/video-rooms/999", "/v2/apps/me/video-rooms/abc",
		"/v2/apps/me/video-rooms/uuid/nope", "/v2/apps/me/video-rooms/0"} {
		e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", p, app, nil)
	}
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "DELETE", "/v2/apps/me/video-rooms/999", app, nil)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", "/v2/members/me/video-rooms/uuid/nope", bearer(m.Access), nil)
	e.must(204, "DELETE", roomPath(room), app, nil)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", roomPath(room), app, nil)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", "/v2/apps/me/video-rooms/uuid/"+uuid, app, nil)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "DELETE", roomPath(room), app, nil)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "POST", roomPath(room)+"/rtmp-broadcast/state/live", app, nil)
	if _, err := e.c.Room(context.Background(), uuid); err == nil {
		t.Fatal("deleted room visible to the player page")
	}
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, nil)
	_, app1 := e.newApp("one")
	_, app2 := e.newApp("two")
	m1 := e.newMember(app1, "same")
	m2 := e.newMember(app2, "same")
	if m1.ID == m2.ID || m1.Key == m2.Key {
		t.Fatal("members of two apps collide")
	}
	r1 := e.newRoom(app1, "same", "one's room")
	p := roomPath(r1)
	uuid := r1["uuid"].(string)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", p, app2, nil)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", "/v2/apps/me/video-rooms/uuid/"+uuid, app2, nil)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "DELETE", p, app2, nil)
	for _, s := range []string{"live", "ended", "cancelled"} {
		e.fail(404, "VIDEO_ROOM_NOT_FOUND", "POST", p+"/rtmp-broadcast/state/"+s, app2, nil)
	}
	mp := "/v2/members/me/video-rooms/" + idString(r1["id"])
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", mp, bearer(m2.Access), nil)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", "/v2/members/me/video-rooms/uuid/"+uuid, bearer(m2.Access), nil)
	for _, s := range []string{"start", "end", "cancel", "join", "leave"} {
		e.fail(404, "VIDEO_ROOM_NOT_FOUND", "POST", mp+"/"+s, bearer(m2.Access), nil)
	}
	if p := e.must(200, "GET", "/v2/apps/me/video-rooms", app2, nil).JSON(); p["totalElements"].(float64) != 0 {
		t.Fatal("app2 lists app1's rooms")
	}
	if p := e.must(200, "GET", fmt.Sprintf("/v2/apps/me/video-rooms?memberId=%d", m1.ID), app2, nil).JSON(); p["totalElements"].(float64) != 0 {
		t.Fatal("app2 lists app1's member's rooms")
	}
	// app2 creating a room for app1's member id by appUserId gets its own member.
	r2 := e.newRoom(app2, "same", "two's room")
	if r2["member"].(map[string]any)["id"].(float64) != float64(m2.ID) {
		t.Fatal("room of app2 bound to app1's member")
	}
	if _, err := e.c.AuthorizePlay(context.Background(), uuid, m2.Streaming); err == nil {
		t.Fatal("app2's viewer may play app1's room")
	}
}

func TestJoinLeave(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	viewer := e.newMember(app, "viewer")
	room := e.newRoom(app, "host", "J")
	p := "/v2/members/me/video-rooms/" + idString(room["id"])
	e.must(200, "POST", p+"/join", bearer(viewer.Access), nil)
	e.must(200, "POST", p+"/join", bearer(host.Access), `{}`)
	e.must(200, "POST", p+"/join", bearer(viewer.Access), nil)
	ids, err := e.c.ChannelMembers(uint64(room["id"].(float64)))
	if err != nil || len(ids) != 2 || ids[0] != viewer.ID || ids[1] != host.ID {
		t.Fatalf("channel members = %v, %v", ids, err)
	}
	e.must(200, "POST", p+"/leave", bearer(viewer.Access), nil)
	if ids, _ := e.c.ChannelMembers(uint64(room["id"].(float64))); len(ids) != 1 || ids[0] != host.ID {
		t.Fatalf("after leave = %v", ids)
	}
	conf := e.must(201, "POST", "/v2/members/me/video-rooms", bearer(host.Access),
		map[string]any{"type": "VIDEO_CONFERENCE", "password": "s3cret"}).JSON()
	pc := "/v2/members/me/video-rooms/" + idString(conf["id"])
	e.fail(403, "VIDEO_ROOM_PASSWORD_MISMATCH", "POST", pc+"/join", bearer(viewer.Access), nil)
	e.fail(403, "VIDEO_ROOM_PASSWORD_MISMATCH", "POST", pc+"/join", bearer(viewer.Access), `{"password":"x"}`)
	e.fail(400, "INVALID_REQUEST", "POST", pc+"/join", bearer(viewer.Access), `{"password":1}`)
	e.must(200, "POST", pc+"/join", bearer(viewer.Access), `{"password":"s3cret"}`)
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "POST", "/v2/members/me/video-rooms/999/join", bearer(viewer.Access), nil)
}

func TestErrorHandler(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	e.newMember(app, "host")
	e.fail(404, "NOT_FOUND", "GET", "/nope", "", nil)
	e.fail(404, "NOT_FOUND", "GET", "/v2/apps/me/nope", app, nil)
	e.fail(405, "METHOD_NOT_ALLOWED", "PATCH", "/v2/apps/me/video-rooms", app, nil)
	big := `{"appUserId":"host","type":"WEBINAR","title":"` + strings.Repeat("x", DefaultBodyLimit) + `"}`
	e.fail(400, "INVALID_REQUEST", "POST", "/v2/apps/me/video-rooms", app, big)
	e.fail(400, "INVALID_REQUEST", "PUT", "/v2/apps/me/callback", app, `{"url":"ftp://x"}`)
	e.must(200, "GET", "/healthz", "", nil)
	e.must(200, "GET", "/readyz", "", nil)
	e.api.Ready = func() error { return fmt.Errorf("rtmp listener down") }
	e.fail(503, "NOT_READY", "GET", "/readyz", "", nil)
}

func TestCallback(t *testing.T) {
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	got := e.must(200, "GET", "/v2/apps/me/callback", app, nil).JSON()
	if got["url"] != nil || got["secret"] != nil {
		t.Fatalf("initial callback = %v", got)
	}
	got = e.must(200, "PUT", "/v2/apps/me/callback", app, `{"url":"https://hooks.test/x","events":["video_room.live"]}`).JSON()
	secret := got["secret"].(string)
	if got["url"] != "https://hooks.test/x" || len(secret) < 32 {
		t.Fatalf("callback = %v", got)
	}
	got = e.must(200, "POST", "/v2/apps/me/callback/secret", app, nil).JSON()
	if got["secret"] == secret || got["url"] != "https://hooks.test/x" {
		t.Fatalf("rotated = %v", got)
	}
	e.fail(400, "INVALID_REQUEST", "PUT", "/v2/apps/me/callback", app, `{"url":"https://x","events":["nope"]}`)
	e.fail(400, "INVALID_REQUEST", "PUT", "/v2/apps/me/callback", app, `{}`)
	var a storage.App
	_ = e.store.View(func(tx *storage.Tx) error { a, _ = tx.App(1); return nil })
	if a.CallbackURL != "https://hooks.test/x" || a.CallbackSecret != got["secret"] {
		t.Fatalf("stored app = %+v", a)
	}
}
