package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// outboxEvents decodes the outbox after seq.
func (e *env) outboxEvents(after uint64) []events.Event {
	e.t.Helper()
	var out []events.Event
	err := e.store.View(func(tx *storage.Tx) error {
		return tx.ForEachEventAfter(after, func(rec storage.Event) (bool, error) {
			ev, err := events.DecodeEvent(rec)
			out = append(out, ev)
			return true, err
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestChatEventsInOutbox: each send, hide, unhide and delete writes one chat event
// (same transaction: it is in the outbox when the answer arrives) with the chat
// audience and, for addressed messages, the receivers' member IDs; no-op hides
// write none; the webhook carries the message, the SSE message the seed shape.
func TestChatEventsInOutbox(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	m1, m2 := e.newMember(f.app, "u1"), e.newMember(f.app, "u2")
	f.create()
	before := len(e.outboxEvents(0))

	b := f.send("broadcast", map[string]any{"messageType": "MESSAGE", "customType": "MSG", "message": "hi",
		"data": map[string]any{"foo": "bar"}})
	d := f.send("direct", map[string]any{"messageType": "DM", "message": "psst", "appUserIds": []string{"u2", "ghost", "u1"}})
	a := f.send("broadcast", map[string]any{"messageType": "COMMAND", "appUserIds": []string{"ghost"}})
	msg := f.chat + "/messages/"
	e.must(http.StatusNoContent, "POST", msg+idString(d)+"/hide", f.app, nil)
	e.must(http.StatusNoContent, "POST", msg+idString(d)+"/hide", f.app, nil) // no change, no event
	e.must(http.StatusNoContent, "POST", msg+idString(d)+"/unhide", f.app, nil)
	e.must(http.StatusNoContent, "POST", msg+idString(b)+"/unhide", f.app, nil) // no change
	e.must(http.StatusNoContent, "DELETE", msg+idString(b), f.app, nil)

	evs := e.outboxEvents(0)[before:]
	var names []string
	for _, ev := range evs {
		names = append(names, ev.Name)
		if ev.Audience != events.AudienceChat || ev.RoomID != uint64(f.room["id"].(float64)) || ev.Message == nil {
			t.Fatalf("event %s: audience %q room %d message %s", ev.Name, ev.Audience, ev.RoomID, ev.Message)
		}
	}
	want := []string{events.EventChatMessageSent, events.EventChatMessageSent, events.EventChatMessageSent,
		events.EventChatMessageHidden, events.EventChatMessageUnhidden, events.EventChatMessageDeleted}
	if !slices.Equal(names, want) {
		t.Fatalf("outbox %v, want %v", names, want)
	}
	if r := e.rec.names(); !slices.Equal(r[len(r)-len(want):], want) {
		t.Fatalf("emitted %v", r)
	}
	// Receivers: broadcast to all (nil); DM to u2 and u1 (ghost unknown); an
	// addressed broadcast to unknown users reaches nobody (empty, not nil).
	if evs[0].Receivers != nil || !slices.Equal(evs[1].Receivers, []uint64{m2.ID, m1.ID}) ||
		evs[2].Receivers == nil || len(evs[2].Receivers) != 0 || !slices.Equal(evs[3].Receivers, evs[1].Receivers) {
		t.Fatalf("receivers %v %v %v %v", evs[0].Receivers, evs[1].Receivers, evs[2].Receivers, evs[3].Receivers)
	}
	if evs[0].ForMember(m1.ID) != true || evs[1].ForMember(m1.ID+m2.ID+100) || evs[2].ForMember(m1.ID) {
		t.Fatal("ForMember")
	}

	var sse map[string]any
	if err := json.Unmarshal(evs[0].Message, &sse); err != nil {
		t.Fatal(err)
	}
	chatRoom := f.get()
	wantSSE := map[string]any{"messageId": idString(b), "sentAt": "2025-03-01T12:00:00.123456789Z",
		"origin": "ADMIN", "type": "MESSAGE", "deliveryType": "BROADCAST", "channelId": f.room["id"],
		"channelKey": chatRoom["channelKey"], "videoKey": idString(f.room["id"]), "customType": "MSG",
		"message": "hi", "data": map[string]any{"foo": "bar"}, "sender": nil}
	if idString(sse) != idString(wantSSE) {
		t.Fatalf("sse message\n got %s\nwant %s", idString(sse), idString(wantSSE))
	}
	var dm map[string]any
	_ = json.Unmarshal(evs[1].Message, &dm)
	if dm["type"] != "DM" || dm["deliveryType"] != "DIRECT" || dm["customType"] != nil || dm["data"] != nil {
		t.Fatalf("dm message %v", dm)
	}
	var sig struct {
		Type, Origin, CustomType string
		CustomData               map[string]any
	}
	_ = json.Unmarshal(evs[3].Message, &sig)
	if sig.Type != "SIGNAL" || sig.Origin != "SYSTEM" || sig.CustomType != "CHANGE_DATA_CAPTURE" ||
		sig.CustomData["type"] != "CHAT_MESSAGE" || sig.CustomData["messageId"] != idString(d) ||
		sig.CustomData["chatMessageState"] != "HIDDEN" || sig.CustomData["channelKey"] != chatRoom["channelKey"] {
		t.Fatalf("hidden signal %s", evs[3].Message)
	}
	for i, state := range map[int]string{4: "VISIBLE", 5: "DELETED"} {
		_ = json.Unmarshal(evs[i].Message, &sig)
		if sig.CustomData["chatMessageState"] != state {
			t.Fatalf("event %d: %s, want %s", i, evs[i].Message, state)
		}
	}

	var wh struct {
		ID, Event string
		Payload   struct {
			VideoRoomID uint64           `json:"videoRoomId"`
			ChatMessage chat.MessageJSON `json:"chatMessage"`
		}
	}
	if err := json.Unmarshal(evs[1].Webhook, &wh); err != nil {
		t.Fatal(err)
	}
	cm := wh.Payload.ChatMessage
	if wh.ID != evs[1].ID || wh.Event != events.EventChatMessageSent || wh.Payload.VideoRoomID != evs[1].RoomID ||
		cm.MessageID != uint64(d) || cm.MessageType != "DM" || cm.DeliveryType != "DIRECT" ||
		!slices.Equal(cm.ReceiverAppUserIDs, []string{"u2", "ghost", "u1"}) || request.Deref(cm.Message) != "psst" {
		t.Fatalf("webhook %s", evs[1].Webhook)
	}
	_ = json.Unmarshal(evs[3].Webhook, &wh)
	if !wh.Payload.ChatMessage.Hidden {
		t.Fatalf("hidden webhook %s", evs[3].Webhook)
	}
	_ = json.Unmarshal(evs[2].Webhook, &wh)
	if wh.Payload.ChatMessage.MessageID != uint64(a) || wh.Payload.ChatMessage.DeliveryType != "BROADCAST" {
		t.Fatalf("addressed broadcast webhook %s", evs[2].Webhook)
	}

	// Sending to a closed chat room writes nothing.
	e.must(http.StatusOK, "POST", f.chat+"/close", f.app, "")
	n := len(e.outboxEvents(0))
	e.fail(400, "CHAT_ROOM_CLOSED", "POST", f.chat+"/admin/messages/broadcast", f.app, map[string]any{"messageType": "MESSAGE"})
	if len(e.outboxEvents(0)) != n {
		t.Fatal("refused message wrote an event")
	}
}

// TestRoomChatField: the room JSON's chat is null without a chat room, then
// {videoKey, channelKey, closed} (VideoRoomChat), in the App and Member
// APIs and in lists.
func TestRoomChatField(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	if r := e.must(http.StatusOK, "GET", roomPath(f.room), f.app, nil).JSON(); r["chat"] != nil {
		t.Fatalf("chat %v before a chat room exists", r["chat"])
	}
	if _, ok := f.room["chat"]; !ok {
		t.Fatal("chat field missing (must be null, not omitted)")
	}
	created := f.create()
	want := map[string]any{"videoKey": idString(f.room["id"]), "channelKey": created["channelKey"], "closed": false}
	viewer := e.newMember(f.app, "viewer")
	memberPath := "/v2/members/me/video-rooms/" + idString(f.room["id"])
	for _, got := range []any{
		e.must(http.StatusOK, "GET", roomPath(f.room), f.app, nil).JSON()["chat"],
		e.must(http.StatusOK, "GET", memberPath, bearer(viewer.Access), nil).JSON()["chat"],
		e.must(http.StatusOK, "GET", "/v2/apps/me/video-rooms", f.app, nil).JSON()["content"].([]any)[0].(map[string]any)["chat"],
	} {
		if idString(got) != idString(want) {
			t.Fatalf("chat %s, want %s", idString(got), idString(want))
		}
	}
	e.must(http.StatusOK, "POST", f.chat+"/close", f.app, "")
	want["closed"] = true
	if got := e.must(http.StatusOK, "GET", roomPath(f.room), f.app, nil).JSON()["chat"]; idString(got) != idString(want) {
		t.Fatalf("closed chat %s", idString(got))
	}
}

// memberIDs lists the appUserIds of the chat room's members.
func (f chatFixture) memberIDs() []string {
	f.e.t.Helper()
	var out []string
	for _, m := range f.e.must(http.StatusOK, "GET", f.chat+"/members", f.app, nil).JSON()["content"].([]any) {
		out = append(out, m.(map[string]any)["appUserId"].(string))
	}
	return out
}

// TestMemberJoinFollowsChat: the Member API join also joins the open chat room
// (once), leave leaves it (also a member added by the App API); no chat room or a
// closed one never makes join fail.
func TestMemberJoinFollowsChat(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	v1, v2, v3 := e.newMember(f.app, "v1"), e.newMember(f.app, "v2"), e.newMember(f.app, "v3")
	path := "/v2/members/me/video-rooms/" + idString(f.room["id"])
	e.must(http.StatusOK, "POST", path+"/join", bearer(v1.Access), nil) // no chat room yet
	f.create()
	if got := f.memberIDs(); len(got) != 0 {
		t.Fatalf("members %v: joining before the chat room existed joined nothing", got)
	}
	e.must(http.StatusOK, "POST", path+"/join", bearer(v2.Access), nil)
	e.must(http.StatusOK, "POST", path+"/join", bearer(v2.Access), nil) // again: still once
	e.must(http.StatusCreated, "POST", f.chat+"/members", f.app, map[string]any{"appUserId": "v3"})
	if got := f.memberIDs(); !slices.Equal(got, []string{"v2", "v3"}) {
		t.Fatalf("members %v", got)
	}
	ids, err := e.c.ChatMembers(uint64(f.room["id"].(float64)))
	if err != nil || !slices.Equal(ids, []uint64{v2.ID, v3.ID}) {
		t.Fatalf("ChatMembers %v %v", ids, err)
	}
	e.must(http.StatusOK, "POST", path+"/leave", bearer(v3.Access), nil) // App API member leaves too
	e.must(http.StatusOK, "POST", path+"/leave", bearer(v1.Access), nil) // never in the chat
	if got := f.memberIDs(); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("members after leave %v", got)
	}
	e.must(http.StatusOK, "POST", f.chat+"/close", f.app, "")
	e.must(http.StatusOK, "POST", path+"/join", bearer(v1.Access), nil) // closed chat: joins the channel only
	ids, _ = e.c.ChatMembers(uint64(f.room["id"].(float64)))
	ch, _ := e.c.ChannelMembers(uint64(f.room["id"].(float64)))
	if len(ids) != 0 || !slices.Contains(ch, v1.ID) {
		t.Fatalf("chat %v channel %v", ids, ch)
	}
}
