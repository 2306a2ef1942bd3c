package api

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// chatFixture is an app with a host, a room and the room's chat path.
type chatFixture struct {
	e    *env
	app  auth
	room map[string]any
	chat string // App API path of the room's chat room
}

// newChatFixture creates an app, a member "host" and a room (no chat room yet).
func newChatFixture(t *testing.T) chatFixture {
	t.Helper()
	e := newEnv(t, nil)
	_, app := e.newApp("app")
	e.newMember(app, "host")
	room := e.newRoom(app, "host", "chat room")
	return chatFixture{e: e, app: app, room: room, chat: roomPath(room) + "/chat-room"}
}

// create creates the chat room and returns its JSON.
func (f chatFixture) create() map[string]any {
	f.e.t.Helper()
	return f.e.must(http.StatusOK, "POST", f.chat, f.app, "").JSON()
}

// send posts an admin message (kind "broadcast" or "direct") and returns its ID.
func (f chatFixture) send(kind string, body any) float64 {
	f.e.t.Helper()
	r := f.e.must(http.StatusCreated, "POST", f.chat+"/admin/messages/"+kind, f.app, body).JSON()
	return r["messageId"].(float64)
}

// chatRoomJSONOf reads the chat room.
func (f chatFixture) get() map[string]any {
	f.e.t.Helper()
	return f.e.must(http.StatusOK, "GET", f.chat, f.app, nil).JSON()
}

func TestChatRoomLifecycle(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "GET", f.chat, f.app, nil)
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "POST", f.chat+"/close", f.app, "")
	e.fail(400, "INVALID_REQUEST", "POST", f.chat, f.app, "{oops")
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "GET", f.chat, f.app, nil) // bad JSON created nothing

	created := f.create()
	videoKey := idString(f.room["id"])
	if created["videoKey"] != videoKey || created["closed"] != false ||
		created["totalChatMessageCount"] != 0.0 || created["totalChatMemberCount"] != 0.0 ||
		created["createdAt"] != "2025-03-01T12:00:00.123456Z" {
		t.Fatalf("created %v", created)
	}
	if key, _ := created["channelKey"].(string); len(key) < 16 {
		t.Fatalf("channelKey %q", created["channelKey"])
	}
	if len(created) != 6 {
		t.Fatalf("chat room has fields %v, want the 6", created)
	}
	e.fail(400, "CHAT_ROOM_ALREADY_EXISTS", "POST", f.chat, f.app, "")
	if got := f.get(); fmt.Sprint(got) != fmt.Sprint(created) {
		t.Fatalf("get %v, want %v", got, created)
	}

	e.clock.Add(60_000_000_000)
	closed := e.must(200, "POST", f.chat+"/close", f.app, "{}").JSON()
	if closed["closed"] != true || closed["channelKey"] != created["channelKey"] || closed["createdAt"] != created["createdAt"] {
		t.Fatalf("closed %v", closed)
	}
	e.must(200, "POST", f.chat+"/close", f.app, nil) // again: still 200
	if got := f.get(); got["closed"] != true {
		t.Fatalf("after close %v", got)
	}
	e.fail(400, "CHAT_ROOM_ALREADY_EXISTS", "POST", f.chat, f.app, "")
	e.fail(400, "INVALID_REQUEST", "POST", f.chat+"/close", f.app, "[1,")
}

func TestChatUnknownRooms(t *testing.T) {
	f := newChatFixture(t)
	f.create()
	for _, base := range []string{"/v2/apps/me/video-rooms/999/chat-room", "/v2/apps/me/video-rooms/abc/chat-room",
		"/v2/apps/me/video-rooms/0/chat-room"} {
		for _, ep := range chatEndpoints() {
			t.Run(ep.method+" "+base+ep.suffix, func(t *testing.T) {
				f.e.fail(404, "VIDEO_ROOM_NOT_FOUND", ep.method, base+ep.suffix, f.app, ep.body)
			})
		}
	}
	f.e.fail(401, "UNAUTHORIZED", "GET", f.chat, "", nil)
	f.e.fail(401, "UNAUTHORIZED", "POST", f.chat+"/admin/messages/broadcast", "", `{"messageType":"MESSAGE"}`)
}

// chatEndpoint is one route of the chat API with a valid body.
type chatEndpoint struct {
	method, suffix string
	body           any
}

// chatEndpoints lists every chat route relative to .../chat-room, message 1 and
// member "host".
func chatEndpoints() []chatEndpoint {
	return []chatEndpoint{
		{"POST", "", ""},
		{"GET", "", nil},
		{"POST", "/close", ""},
		{"GET", "/members", nil},
		{"POST", "/members", `{"appUserId":"host"}`},
		{"DELETE", "/members/host", nil},
		{"POST", "/admin/messages/broadcast", `{"messageType":"MESSAGE","message":"x"}`},
		{"POST", "/admin/messages/direct", `{"messageType":"DM","appUserIds":["host"]}`},
		{"GET", "/messages", nil},
		{"GET", "/messages/1", nil},
		{"POST", "/messages/1/hide", nil},
		{"POST", "/messages/1/unhide", nil},
		{"DELETE", "/messages/1", nil},
	}
}

func TestChatTenantIsolationAndDeletedRoom(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	f.create()
	e.must(201, "POST", f.chat+"/members", f.app, `{"appUserId":"host"}`)
	f.send("broadcast", `{"messageType":"MESSAGE","message":"mine"}`)
	before := f.get()

	_, other := e.newApp("other")
	e.newMember(other, "host") // same appUserId in another app
	for _, ep := range chatEndpoints() {
		t.Run("other app "+ep.method+ep.suffix, func(t *testing.T) {
			e.fail(404, "VIDEO_ROOM_NOT_FOUND", ep.method, f.chat+ep.suffix, other, ep.body)
		})
	}
	if after := f.get(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("another app changed the chat room: %v → %v", before, after)
	}
	e.must(200, "GET", f.chat+"/messages/1", f.app, nil)

	// The other app's own room gets its own chat room and message IDs.
	oroom := e.newRoom(other, "host", "theirs")
	ochat := roomPath(oroom) + "/chat-room"
	e.must(200, "POST", ochat, other, "")
	r := e.must(201, "POST", ochat+"/admin/messages/broadcast", other, `{"messageType":"MESSAGE"}`).JSON()
	if r["messageId"] != 1.0 {
		t.Fatalf("other room's first message %v", r)
	}
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", ochat+"/messages/1", f.app, nil)

	// A deleted room's chat is gone from the API.
	e.must(204, "DELETE", roomPath(f.room), f.app, nil)
	for _, ep := range chatEndpoints() {
		t.Run("deleted "+ep.method+ep.suffix, func(t *testing.T) {
			e.fail(404, "VIDEO_ROOM_NOT_FOUND", ep.method, f.chat+ep.suffix, f.app, ep.body)
		})
	}
}

func TestChatMessages(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "POST", f.chat+"/admin/messages/broadcast", f.app, `{"messageType":"MESSAGE"}`)
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "POST", f.chat+"/admin/messages/direct", f.app, `{"messageType":"DM","appUserIds":["1"]}`)
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "GET", f.chat+"/messages", f.app, nil)
	for _, ep := range chatEndpoints()[9:] { // message endpoints of a room without chat room
		e.fail(404, "CHAT_ROOM_MESSAGE_NOT_FOUND", ep.method, f.chat+ep.suffix, f.app, nil)
	}
	created := f.create()

	ref := e.must(201, "POST", f.chat+"/admin/messages/broadcast", f.app, map[string]any{
		"messageType": "MESSAGE", "customType": "MSG", "message": "Foo Message",
		"data": map[string]any{"foo": "bar", "bar": "foo"}, "appUserIds": []string{"1", "2"},
	}).JSON()
	want := map[string]any{"videoKey": idString(f.room["id"]), "channelKey": created["channelKey"], "messageId": 1.0}
	if fmt.Sprint(ref) != fmt.Sprint(want) {
		t.Fatalf("broadcast answer %v, want %v", ref, want)
	}
	e.clock.Add(1_000_000)
	dm := f.send("direct", `{"messageType":"DM","customType":"DM","message":"hi",
		"data":{"z": 1, "a": {"nested": [true, null]}},"appUserIds":["2","1","2"]}`)
	cmd := f.send("broadcast", `{"messageType":"COMMAND","customType":"WARNING"}`)
	cmdDM := f.send("direct", `{"messageType":"COMMAND","appUserIds":["9"]}`)
	if dm != 2 || cmd != 3 || cmdDM != 4 {
		t.Fatalf("message ids %v %v %v", dm, cmd, cmdDM)
	}

	got := e.must(200, "GET", f.chat+"/messages/2", f.app, nil)
	wantBody := `{"videoKey":"` + idString(f.room["id"]) + `","channelKey":"` + created["channelKey"].(string) +
		`","messageId":2,"messageType":"DM","customType":"DM","message":"hi","data":{"z":1,"a":{"nested":[true,null]}},` +
		`"receiverAppUserIds":["2","1"],"deliveryType":"DIRECT","hidden":false,"origin":"ADMIN","sender":null,` +
		`"createdAt":"2025-03-01T12:00:00.124456Z"}`
	if strings.TrimSpace(string(got.Body)) != wantBody {
		t.Fatalf("GET message 2:\n got %s\nwant %s", got.Body, wantBody)
	}
	m3 := e.must(200, "GET", f.chat+"/messages/3", f.app, nil).JSON()
	if m3["message"] != nil || m3["data"] != nil || fmt.Sprint(m3["receiverAppUserIds"]) != "[]" ||
		m3["deliveryType"] != "BROADCAST" || m3["messageType"] != "COMMAND" || m3["customType"] != "WARNING" {
		t.Fatalf("message 3 %v", m3)
	}
	if c := f.get(); c["totalChatMessageCount"] != 4.0 {
		t.Fatalf("count %v", c)
	}

	// hide / unhide / delete.
	e.must(204, "POST", f.chat+"/messages/2/hide", f.app, nil)
	e.must(204, "POST", f.chat+"/messages/2/hide", f.app, nil)
	if m := e.must(200, "GET", f.chat+"/messages/2", f.app, nil).JSON(); m["hidden"] != true {
		t.Fatalf("hidden %v", m)
	}
	e.must(204, "POST", f.chat+"/messages/2/unhide", f.app, nil)
	e.must(204, "POST", f.chat+"/messages/2/unhide", f.app, nil)
	if m := e.must(200, "GET", f.chat+"/messages/2", f.app, nil).JSON(); m["hidden"] != false {
		t.Fatalf("unhidden %v", m)
	}
	e.must(204, "DELETE", f.chat+"/messages/2", f.app, nil)
	for _, ep := range chatEndpoints()[9:] {
		e.fail(404, "CHAT_ROOM_MESSAGE_NOT_FOUND", ep.method, strings.Replace(f.chat+ep.suffix, "/messages/1", "/messages/2", 1), f.app, nil)
	}
	for _, id := range []string{"0", "99", "-1", "abc", "18446744073709551616"} {
		e.fail(404, "CHAT_ROOM_MESSAGE_NOT_FOUND", "GET", f.chat+"/messages/"+id, f.app, nil)
	}
	if c := f.get(); c["totalChatMessageCount"] != 3.0 {
		t.Fatalf("count after delete %v", c)
	}
	if next := f.send("broadcast", `{"messageType":"MESSAGE"}`); next != 5 {
		t.Fatalf("id after delete %v, want 5", next)
	}

	// A closed chat room keeps its messages readable and moderatable but takes no new ones.
	e.must(200, "POST", f.chat+"/close", f.app, "")
	e.fail(400, "CHAT_ROOM_CLOSED", "POST", f.chat+"/admin/messages/broadcast", f.app, `{"messageType":"MESSAGE"}`)
	e.fail(400, "CHAT_ROOM_CLOSED", "POST", f.chat+"/admin/messages/direct", f.app, `{"messageType":"DM","appUserIds":["1"]}`)
	e.must(200, "GET", f.chat+"/messages/1", f.app, nil)
	e.must(204, "POST", f.chat+"/messages/1/hide", f.app, nil)
	e.must(204, "DELETE", f.chat+"/messages/1", f.app, nil)
	if c := f.get(); c["totalChatMessageCount"] != 3.0 {
		t.Fatalf("count after close %v", c)
	}
}

func TestChatMessageValidation(t *testing.T) {
	f := newChatFixture(t)
	f.create()
	long := strings.Repeat("é", 51)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	for _, tc := range []struct {
		name, kind, code string
		body             any
	}{
		{"broadcast/no type", "broadcast", "EMPTY_CHAT_ROOM_MESSAGE_TYPE", `{"message":"x"}`},
		{"broadcast/empty type", "broadcast", "EMPTY_CHAT_ROOM_MESSAGE_TYPE", `{"messageType":""}`},
		{"broadcast/null type", "broadcast", "EMPTY_CHAT_ROOM_MESSAGE_TYPE", `{"messageType":null}`},
		{"broadcast/DM", "broadcast", "INVALID_REQUEST", `{"messageType":"DM"}`},
		{"broadcast/unknown", "broadcast", "INVALID_REQUEST", `{"messageType":"NOTICE"}`},
		{"broadcast/lowercase", "broadcast", "INVALID_REQUEST", `{"messageType":"message"}`},
		{"broadcast/type not string", "broadcast", "INVALID_REQUEST", `{"messageType":1}`},
		{"direct/no type", "direct", "EMPTY_CHAT_ROOM_MESSAGE_TYPE", `{"appUserIds":["1"]}`},
		{"direct/no type no ids", "direct", "EMPTY_CHAT_ROOM_MESSAGE_TYPE", `{}`},
		{"direct/no ids", "direct", "EMPTY_CHAT_ROOM_APP_USER_IDS", `{"messageType":"DM"}`},
		{"direct/empty ids", "direct", "EMPTY_CHAT_ROOM_APP_USER_IDS", `{"messageType":"DM","appUserIds":[]}`},
		{"direct/null ids", "direct", "EMPTY_CHAT_ROOM_APP_USER_IDS", `{"messageType":"COMMAND","appUserIds":null}`},
		{"direct/MESSAGE", "direct", "INVALID_REQUEST", `{"messageType":"MESSAGE","appUserIds":["1"]}`},
		{"customType 51", "broadcast", "CUSTOM_TYPE_SIZE_UPPER_LIMIT_EXCEEDED", map[string]any{"messageType": "MESSAGE", "customType": long}},
		{"message too long", "broadcast", "INVALID_REQUEST", map[string]any{"messageType": "MESSAGE", "message": strings.Repeat("x", 10001)}},
		{"data array", "broadcast", "INVALID_REQUEST", `{"messageType":"MESSAGE","data":[1]}`},
		{"data string", "broadcast", "INVALID_REQUEST", `{"messageType":"MESSAGE","data":"x"}`},
		{"data too big", "broadcast", "INVALID_REQUEST", map[string]any{"messageType": "MESSAGE", "data": map[string]string{"k": strings.Repeat("x", 17000)}}},
		{"ids not array", "direct", "INVALID_REQUEST", `{"messageType":"DM","appUserIds":"1"}`},
		{"ids empty entry", "direct", "INVALID_REQUEST", `{"messageType":"DM","appUserIds":["1",""]}`},
		{"ids null entry", "broadcast", "INVALID_REQUEST", `{"messageType":"MESSAGE","appUserIds":[null]}`},
		{"ids too long entry", "direct", "INVALID_REQUEST", map[string]any{"messageType": "DM", "appUserIds": []string{strings.Repeat("x", 129)}}},
		{"ids too many", "broadcast", "INVALID_REQUEST", map[string]any{"messageType": "MESSAGE", "appUserIds": many}},
		{"malformed", "broadcast", "INVALID_REQUEST", `{"messageType":"MESSAGE"`},
		{"trailing data", "broadcast", "INVALID_REQUEST", `{"messageType":"MESSAGE"} {}`},
		{"empty body", "direct", "INVALID_REQUEST", ""},
		{"not an object", "broadcast", "INVALID_REQUEST", `["MESSAGE"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.e.fail(400, tc.code, "POST", f.chat+"/admin/messages/"+tc.kind, f.app, tc.body)
		})
	}
	if c := f.get(); c["totalChatMessageCount"] != 0.0 {
		t.Fatalf("refused messages were stored: %v", c)
	}
	// Limits are inclusive.
	f.send("broadcast", map[string]any{"messageType": "MESSAGE", "customType": strings.Repeat("é", 50),
		"message": strings.Repeat("x", 10000), "appUserIds": many[:100]})
	if c := f.get(); c["totalChatMessageCount"] != 1.0 {
		t.Fatalf("count %v", c)
	}
}

func TestChatMessagesPaging(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	f.create()
	for i := 1; i <= 25; i++ {
		f.send("broadcast", map[string]any{"messageType": "MESSAGE", "message": fmt.Sprint("m", i)})
	}
	e.must(204, "DELETE", f.chat+"/messages/13", f.app, nil)
	e.must(204, "POST", f.chat+"/messages/14/hide", f.app, nil)
	ids := func(page map[string]any) []int {
		var out []int
		for _, m := range page["content"].([]any) {
			out = append(out, int(m.(map[string]any)["messageId"].(float64)))
		}
		return out
	}
	for _, tc := range []struct {
		query       string
		want        []int
		first, last bool
	}{
		{"", []int{25, 24, 23, 22, 21, 20, 19, 18, 17, 16}, true, false},
		{"?page=1", []int{15, 14, 12, 11, 10, 9, 8, 7, 6, 5}, false, false},
		{"?page=2", []int{4, 3, 2, 1}, false, true},
		{"?page=3", nil, false, true},
		{"?sortBy=CREATED_AT_ASC&pageSize=5&page=2", []int{11, 12, 14, 15, 16}, false, false},
		{"?sortBy=CREATED_AT_DESC&pageSize=100", []int{25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, true, true},
	} {
		t.Run("query="+tc.query, func(t *testing.T) {
			p := e.must(200, "GET", f.chat+"/messages"+tc.query, f.app, nil).JSON()
			if got := ids(p); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ids %v, want %v", got, tc.want)
			}
			if p["totalElements"] != 24.0 || p["first"] != tc.first || p["last"] != tc.last ||
				p["numberOfElements"] != float64(len(tc.want)) || p["empty"] != (len(tc.want) == 0) {
				t.Fatalf("page %v", p)
			}
		})
	}
	p := e.must(200, "GET", f.chat+"/messages?page=1", f.app, nil).JSON()
	if m := p["content"].([]any)[1].(map[string]any); m["messageId"] != 14.0 || m["hidden"] != true || m["message"] != "m14" {
		t.Fatalf("hidden message in list %v", m)
	}
	if p["totalPages"] != 3.0 || p["size"] != 10.0 || p["number"] != 1.0 {
		t.Fatalf("page shape %v", p)
	}
	for _, q := range []string{"page=-1", "page=x", "pageSize=0", "pageSize=101", "sortBy=LAST_MODIFIED_AT_DESC", "sortBy=NEWEST"} {
		e.fail(400, "INVALID_REQUEST", "GET", f.chat+"/messages?"+q, f.app, nil)
	}
}

func TestChatMembers(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "GET", f.chat+"/members", f.app, nil)
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "POST", f.chat+"/members", f.app, `{"appUserId":"host"}`)
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "DELETE", f.chat+"/members/host", f.app, nil)
	f.create()
	list := func(query string) map[string]any {
		return e.must(200, "GET", f.chat+"/members"+query, f.app, nil).JSON()
	}
	if l := list(""); l["count"] != 0.0 || l["nextCursor"] != 0.0 || fmt.Sprint(l["content"]) != "[]" {
		t.Fatalf("empty list %v", l)
	}
	e.must(201, "POST", "/v2/apps/me/members", f.app, map[string]any{"appUserId": "1", "appUserName": "foobar1",
		"appUserProfileImgUrl": "https://img.foobar.com/users/1/profile.jpg"})
	e.clock.Add(1000)
	joined := e.must(201, "POST", f.chat+"/members", f.app, `{"appUserId":"1"}`)
	want := `{"appUserId":"1","appUserName":"foobar1","appUserProfileImgUrl":"https://img.foobar.com/users/1/profile.jpg","joinedAt":"2025-03-01T12:00:00.123457Z","muted":false,"mutedUntil":null}`
	if strings.TrimSpace(string(joined.Body)) != want {
		t.Fatalf("join answer %s", joined.Body)
	}
	e.clock.Add(1000)
	again := e.must(200, "POST", f.chat+"/members", f.app, `{"appUserId":"1"}`)
	if strings.TrimSpace(string(again.Body)) != want {
		t.Fatalf("second join %s", again.Body)
	}
	for i := 2; i <= 5; i++ {
		e.newMember(f.app, fmt.Sprint(i))
		e.must(201, "POST", f.chat+"/members", f.app, map[string]any{"appUserId": fmt.Sprint(i)})
	}
	e.must(201, "POST", f.chat+"/members", f.app, `{"appUserId":"host"}`)
	e.must(204, "DELETE", f.chat+"/members/3", f.app, nil)
	e.fail(404, "CHAT_ROOM_MEMBER_NOT_FOUND", "DELETE", f.chat+"/members/3", f.app, nil)
	e.fail(404, "MEMBER_NOT_FOUND", "DELETE", f.chat+"/members/nobody", f.app, nil)
	e.fail(404, "MEMBER_NOT_FOUND", "POST", f.chat+"/members", f.app, `{"appUserId":"nobody"}`)
	e.fail(400, "EMPTY_MEMBER_APP_USER_ID", "POST", f.chat+"/members", f.app, `{}`)
	e.fail(400, "INVALID_REQUEST", "POST", f.chat+"/members", f.app, `{"appUserId":7}`)
	e.fail(400, "INVALID_REQUEST", "POST", f.chat+"/members", f.app, "")

	if c := f.get(); c["totalChatMemberCount"] != 5.0 {
		t.Fatalf("member count %v", c)
	}
	users := func(l map[string]any) string {
		var out []string
		for _, m := range l["content"].([]any) {
			out = append(out, m.(map[string]any)["appUserId"].(string))
		}
		return strings.Join(out, ",")
	}
	l := list("?cursor=0&count=2")
	if users(l) != "1,2" || l["count"] != 2.0 || l["nextCursor"] != 2.0 {
		t.Fatalf("page 1 %v", l)
	}
	l = list("?cursor=2&count=2")
	if users(l) != "4,5" || l["nextCursor"] != 5.0 {
		t.Fatalf("page 2 %v", l)
	}
	l = list("?cursor=5&count=2")
	if users(l) != "host" || l["count"] != 1.0 || l["nextCursor"] != 6.0 {
		t.Fatalf("page 3 %v", l)
	}
	l = list("?cursor=6")
	if l["count"] != 0.0 || l["nextCursor"] != 6.0 {
		t.Fatalf("end %v", l)
	}
	if l := list(""); users(l) != "1,2,4,5,host" {
		t.Fatalf("default page %v", l)
	}
	for _, q := range []string{"cursor=-1", "cursor=x", "count=0", "count=101", "count=x"} {
		e.fail(400, "INVALID_REQUEST", "GET", f.chat+"/members?"+q, f.app, nil)
	}

	// Closing empties the list; nobody joins a closed chat room.
	closed := e.must(200, "POST", f.chat+"/close", f.app, "").JSON()
	if closed["totalChatMemberCount"] != 0.0 {
		t.Fatalf("closed %v", closed)
	}
	if l := list(""); l["count"] != 0.0 {
		t.Fatalf("members after close %v", l)
	}
	e.fail(400, "CHAT_ROOM_CLOSED", "POST", f.chat+"/members", f.app, `{"appUserId":"1"}`)
	e.fail(404, "CHAT_ROOM_MEMBER_NOT_FOUND", "DELETE", f.chat+"/members/1", f.app, nil)
}

func TestChatConcurrentMessages(t *testing.T) {
	f := newChatFixture(t)
	f.create()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := f.e.do("POST", f.chat+"/admin/messages/broadcast", f.app,
					map[string]any{"messageType": "MESSAGE", "message": fmt.Sprint(w, "-", i)})
				if r.Status != 201 {
					t.Errorf("status %d: %s", r.Status, r.Body)
				}
			}
		})
	}
	wg.Wait()
	p := f.e.must(200, "GET", f.chat+"/messages?pageSize=100&sortBy=CREATED_AT_ASC", f.app, nil).JSON()
	for i, m := range p["content"].([]any) {
		if id := m.(map[string]any)["messageId"]; id != float64(i+1) {
			t.Fatalf("message %d has id %v", i, id)
		}
	}
	if p["totalElements"] != float64(writers*each) || f.get()["totalChatMessageCount"] != float64(writers*each) {
		t.Fatalf("total %v", p["totalElements"])
	}
}
