package events_test

import (
	"encoding/json"
	"github.com/roomcast/roomcast/internal/testwait"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chatMsg is the part of a chat SSE message (or chat signal) the tests read.
type chatMsg struct {
	MessageID, Origin, Type, DeliveryType, ChannelKey, VideoKey string
	ChannelID                                                   uint64
	CustomType, Message                                         *string
	Data                                                        map[string]any
	CustomData                                                  map[string]any
}

// chatPath is the App API path of room's chat room.
func chatPath(room uint64) string { return roomPath(room) + "/chat-room" }

// send posts an admin message (kind "broadcast" or "direct") and returns its id.
func (e *env) send(a app, room uint64, kind string, body map[string]any) string {
	e.t.Helper()
	r := e.must(201, "POST", chatPath(room)+"/admin/messages/"+kind, a.auth, body)
	return strconv.FormatFloat(r["messageId"].(float64), 'f', -1, 64)
}

// marker broadcasts a COMMAND whose message is text (a later message that proves,
// SSE being in order, that nothing was sent to a client before it).
func (e *env) marker(a app, room uint64, text string) string {
	e.t.Helper()
	return e.send(a, room, "broadcast", map[string]any{"messageType": "COMMAND", "customType": "MARKER", "message": text})
}

// nextChat reads the next message and decodes it.
func (c *sseClient) nextChat(t testing.TB) (sseMsg, chatMsg) {
	t.Helper()
	m := c.next(t)
	var cm chatMsg
	if err := json.Unmarshal([]byte(m.Data), &cm); err != nil {
		t.Fatalf("message %q: %v", m.Data, err)
	}
	return m, cm
}

// text is the message text of a chat message ("" for none).
func (m chatMsg) text() string {
	if m.Message == nil {
		return ""
	}
	return *m.Message
}

// expectTexts reads len(want) messages and checks their texts (signals read as
// "SIGNAL:<state>:<messageId>").
func (c *sseClient) expectTexts(t *testing.T, who string, want ...string) []sseMsg {
	t.Helper()
	var got []string
	var ms []sseMsg
	for range want {
		m, cm := c.nextChat(t)
		ms = append(ms, m)
		if cm.Type == "SIGNAL" {
			got = append(got, "SIGNAL:"+cm.CustomData["chatMessageState"].(string)+":"+cm.CustomData["messageId"].(string))
			continue
		}
		got = append(got, cm.text())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s got %q, want %q", who, got, want)
	}
	return ms
}

// chatSetup is an app with a room that has a chat room, a host and members
// u1..un who joined the chat room through the Member API join.
func chatSetup(t *testing.T, e *env, n int) (app, uint64, []member, string) {
	a := e.newApp("a")
	host := e.newMember(a, "host")
	room := e.newRoom(a, host, nil)
	chat := e.must(200, "POST", chatPath(room), a.auth, nil)
	var ms []member
	for i := range n {
		m := e.newMember(a, "u"+strconv.Itoa(i+1))
		e.join(m, room)
		ms = append(ms, m)
	}
	return a, room, ms, chat["channelKey"].(string)
}

// TestChatBroadcastReachesChatMembers: an admin broadcast reaches, over SSE, the
// members of the chat room however they joined it (Member API video room join, or
// App API chat-members without joining the channel), in the seed shape; a member
// joined to the channel before the chat room existed (so not a chat member) and
// a member of nothing receive none of it.
func TestChatBroadcastReachesChatMembers(t *testing.T) {
	e := start(t, "", nil)
	a := e.newApp("a")
	host := e.newMember(a, "host")
	room := e.newRoom(a, host, nil)
	early, joined, added, nobody := e.newMember(a, "early"), e.newMember(a, "joined"), e.newMember(a, "added"), e.newMember(a, "nobody")
	e.join(early, room) // channel only: no chat room yet
	chat := e.must(200, "POST", chatPath(room), a.auth, nil)
	e.join(joined, room)
	e.must(201, "POST", chatPath(room)+"/members", a.auth, map[string]any{"appUserId": "added"})
	cj, _ := e.openSSE(joined.Access, "")
	ca, _ := e.openSSE(added.Access, "")
	ce, _ := e.openSSE(early.Access, "")
	cn, _ := e.openSSE(nobody.Access, "")
	testwait.Until(t, 10*time.Second, "subscribed", func() bool { return e.broker.Stats().SSEClients == 4 })

	id := e.send(a, room, "broadcast", map[string]any{"messageType": "MESSAGE", "customType": "MSG",
		"message": "hello all", "data": map[string]any{"foo": "bar"}})
	for who, c := range map[string]*sseClient{"joined": cj, "added": ca} {
		m, cm := c.nextChat(t)
		if m.ID == "" || m.Event != "" || cm.MessageID != id || cm.Origin != "ADMIN" || cm.Type != "MESSAGE" ||
			cm.DeliveryType != "BROADCAST" || cm.ChannelID != room || cm.ChannelKey != chat["channelKey"] ||
			cm.VideoKey != strconv.FormatUint(room, 10) || *cm.CustomType != "MSG" || cm.text() != "hello all" ||
			cm.Data["foo"] != "bar" {
			t.Fatalf("%s got %+v %s", who, m, m.Data)
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal([]byte(m.Data), &raw)
		if _, ok := raw["sentAt"]; !ok {
			t.Fatalf("%s: no sentAt in %s", who, m.Data)
		}
	}
	// The room transition is the early member's (channel) next message: the chat
	// message, sent before it, never reached it.
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/cancelled", a.auth, nil)
	if _, st := ce.nextState(t); st != "CANCELLED" {
		t.Fatalf("early member got %s", st)
	}
	// The member of nothing: its next message is about a room it joins later.
	other := e.newRoom(a, host, nil)
	e.must(200, "POST", chatPath(other), a.auth, nil)
	e.join(nobody, other)
	e.marker(a, other, "other room")
	cn.expectTexts(t, "nobody", "other room")
	// The chat-only member gets chat messages, not room transitions: after the
	// cancel its next message is the next chat message.
	e.marker(a, room, "after cancel")
	ca.expectTexts(t, "added", "after cancel")
	cj.nextState(t) // joined is in the channel too: CANCELLED, then the marker
	cj.expectTexts(t, "joined", "after cancel")
}

// TestChatDirectOnlyToReceivers: a direct message reaches only its receivers
// among the chat members; its hide and delete signals too. Every other member's
// next message is the later broadcast marker.
func TestChatDirectOnlyToReceivers(t *testing.T) {
	e := start(t, "", nil)
	a, room, ms, _ := chatSetup(t, e, 4)
	var cs []*sseClient
	for _, m := range ms {
		c, _ := e.openSSE(m.Access, "")
		cs = append(cs, c)
	}
	testwait.Until(t, 10*time.Second, "subscribed", func() bool { return e.broker.Stats().SSEClients == len(ms) })
	// u4 is a receiver but leaves the room (and so the chat) first; "ghost" is no member.
	e.must(200, "POST", "/v2/members/me/video-rooms/"+strconv.FormatUint(room, 10)+"/leave", "Bearer "+ms[3].Access, nil)
	dm := e.send(a, room, "direct", map[string]any{"messageType": "DM", "message": "secret",
		"appUserIds": []string{"u2", "ghost", "u4"}})
	e.send(a, room, "direct", map[string]any{"messageType": "COMMAND", "message": "cmd",
		"appUserIds": []string{"u1", "u2"}})
	e.must(204, "POST", chatPath(room)+"/messages/"+dm+"/hide", a.auth, nil)
	e.must(204, "DELETE", chatPath(room)+"/messages/"+dm, a.auth, nil)
	e.marker(a, room, "marker")

	m, cm := cs[1].nextChat(t)
	if cm.Type != "DM" || cm.DeliveryType != "DIRECT" || cm.MessageID != dm || cm.text() != "secret" {
		t.Fatalf("u2 got %s", m.Data)
	}
	if strings.Contains(m.Data, "receiver") || strings.Contains(m.Data, "ghost") {
		t.Fatalf("a DM over SSE names its receivers: %s", m.Data)
	}
	cs[1].expectTexts(t, "u2", "cmd", "SIGNAL:HIDDEN:"+dm, "SIGNAL:DELETED:"+dm, "marker")
	cs[0].expectTexts(t, "u1", "cmd", "marker")
	cs[2].expectTexts(t, "u3", "marker")
	// u4, out of the chat room when the DM was sent, rejoins: its first message
	// is the next marker, not the DM.
	e.join(ms[3], room)
	e.marker(a, room, "rejoined")
	cs[3].expectTexts(t, "u4", "rejoined")
}

// TestChatReplayFiltered: Last-Event-ID replay includes the chat messages the
// member missed, with the same audience and receiver filtering as live delivery.
func TestChatReplayFiltered(t *testing.T) {
	e := start(t, "", nil)
	a, room, ms, _ := chatSetup(t, e, 3)
	u1, u2, u3 := ms[0], ms[1], ms[2]
	c1, _ := e.openSSE(u1.Access, "")
	c2, _ := e.openSSE(u2.Access, "")
	testwait.Until(t, 10*time.Second, "subscribed", func() bool { return e.broker.Stats().SSEClients == 2 })
	e.marker(a, room, "start")
	last1 := c1.expectTexts(t, "u1", "start")[0].ID
	last2 := c2.expectTexts(t, "u2", "start")[0].ID
	c1.close()
	c2.close()
	testwait.Until(t, 10*time.Second, "unsubscribed", func() bool { return e.broker.Stats().SSEClients == 0 })

	toU2 := e.send(a, room, "direct", map[string]any{"messageType": "DM", "message": "to u2", "appUserIds": []string{"u2"}})
	e.marker(a, room, "all")
	e.send(a, room, "direct", map[string]any{"messageType": "DM", "message": "to u1", "appUserIds": []string{"u1"}})
	e.send(a, room, "broadcast", map[string]any{"messageType": "MESSAGE", "message": "to u1 and u3", "appUserIds": []string{"u1", "u3"}})
	e.must(204, "POST", chatPath(room)+"/messages/"+toU2+"/hide", a.auth, nil)
	// u3 leaves the chat before replaying: it replays nothing of this chat.
	e.must(204, "DELETE", chatPath(room)+"/members/u3", a.auth, nil)

	r1, _ := e.openSSE(u1.Access, last1)
	r2, _ := e.openSSE(u2.Access, last2)
	r3, _ := e.openSSE(u3.Access, last1)
	r1.expectTexts(t, "u1 replay", "all", "to u1", "to u1 and u3")
	r2.expectTexts(t, "u2 replay", "to u2", "all", "SIGNAL:HIDDEN:"+toU2)
	testwait.Until(t, 10*time.Second, "resubscribed", func() bool { return e.broker.Stats().SSEClients == 3 })
	// u3 is still in the room's channel: the room transition is its first message,
	// so its replay held none of the chat messages. (Membership is read when the
	// replay runs, so u3 rejoins the chat only once the replay is over.)
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/cancelled", a.auth, nil)
	for who, c := range map[string]*sseClient{"u1": r1, "u2": r2, "u3": r3} {
		if _, st := c.nextState(t); st != "CANCELLED" {
			t.Fatalf("%s got %s, want CANCELLED", who, st)
		}
	}
	e.must(201, "POST", chatPath(room)+"/members", a.auth, map[string]any{"appUserId": "u3"})
	e.marker(a, room, "live")
	r1.expectTexts(t, "u1 live", "live")
	r2.expectTexts(t, "u2 live", "live")
	r3.expectTexts(t, "u3", "live")
}

// TestChatWebhookSigned: chat events reach the app's callback signed, direct
// messages included, filtered by the callback's event list.
func TestChatWebhookSigned(t *testing.T) {
	e := start(t, "", nil)
	a, room, _, channelKey := chatSetup(t, e, 2)
	rcv := newReceiver(t)
	secret := e.setCallback(a, rcv.srv.URL, []string{"chat.message_sent", "chat.message_deleted"})
	b := e.send(a, room, "broadcast", map[string]any{"messageType": "MESSAGE", "message": "hi", "data": map[string]any{"k": "v"}})
	dm := e.send(a, room, "direct", map[string]any{"messageType": "DM", "message": "psst", "appUserIds": []string{"u2"}})
	e.must(204, "POST", chatPath(room)+"/messages/"+b+"/hide", a.auth, nil) // not subscribed
	e.must(204, "DELETE", chatPath(room)+"/messages/"+dm, a.auth, nil)
	testwait.Until(t, 10*time.Second, "three webhooks", func() bool { return len(distinct(rcv.hooks())) >= 3 })
	hs := distinct(rcv.hooks())
	var names []string
	for _, h := range hs {
		names = append(names, h.Event)
		if err := verify(secret, h.Signature, h.Body); err != nil {
			t.Fatalf("%s: %v", h.Event, err)
		}
		if h.RoomID != room || h.EventID == "" {
			t.Fatalf("%s: room %d id %q", h.Event, h.RoomID, h.EventID)
		}
	}
	if want := []string{"chat.message_sent", "chat.message_sent", "chat.message_deleted"}; !slices.Equal(names, want) {
		t.Fatalf("webhooks %v, want %v", names, want)
	}
	var body struct {
		ID, Event string
		Payload   struct {
			VideoRoomID uint64 `json:"videoRoomId"`
			ChatMessage struct {
				VideoKey, ChannelKey, MessageType, DeliveryType, Message string
				MessageID                                                uint64
				ReceiverAppUserIDs                                       []string `json:"receiverAppUserIds"`
				Data                                                     map[string]any
			} `json:"chatMessage"`
		}
	}
	for i, want := range []struct{ id, typ, delivery, text string }{{b, "MESSAGE", "BROADCAST", "hi"}, {dm, "DM", "DIRECT", "psst"}} {
		if err := json.Unmarshal(hs[i].Body, &body); err != nil {
			t.Fatal(err)
		}
		cm := body.Payload.ChatMessage
		if body.ID != hs[i].EventID || strconv.FormatUint(cm.MessageID, 10) != want.id || cm.MessageType != want.typ ||
			cm.DeliveryType != want.delivery || cm.Message != want.text || cm.ChannelKey != channelKey ||
			cm.VideoKey != strconv.FormatUint(room, 10) {
			t.Fatalf("webhook %d: %s", i, hs[i].Body)
		}
	}
	if !slices.Equal(body.Payload.ChatMessage.ReceiverAppUserIDs, []string{"u2"}) {
		t.Fatalf("dm receivers %v", body.Payload.ChatMessage.ReceiverAppUserIDs)
	}
	// Unknown event names are refused; the chat ones are known.
	if st, _ := e.call("PUT", "/v2/apps/me/callback", a.auth, map[string]any{"url": rcv.srv.URL,
		"events": []string{"chat.message_hidden", "chat.message_unhidden"}}); st != 200 {
		t.Fatalf("chat events refused: %d", st)
	}
}
