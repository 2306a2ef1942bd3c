package api

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// TestChatForbiddenWordsAPI: PUT replaces the list (normalised, deduplicated)
// and GET reads it back from the store; invalid bodies change nothing; the
// list belongs to one chat room of one app.
func TestChatForbiddenWordsAPI(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	path := f.chat + "/forbidden-words"
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "GET", path, f.app, nil)
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "PUT", path, f.app, map[string]any{"forbiddenWords": []string{"x"}})
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", "/v2/apps/me/video-rooms/999/chat-room/forbidden-words", f.app, nil)
	f.create()
	if got := e.must(200, "GET", path, f.app, nil).JSON(); idString(got) != `{"forbiddenWords":[]}` {
		t.Fatalf("initial list %v", got)
	}
	put := e.must(200, "PUT", path, f.app, map[string]any{
		"forbiddenWords": []string{"Spam", "SPAM", "  Bad   Word ", "DÜMM", "色情"}}).Body
	want := `{"forbiddenWords":["spam","bad word","dümm","色情"]}`
	if got := strings.TrimSpace(string(put)); got != want {
		t.Fatalf("PUT answered %s, want %s", got, want)
	}
	if got := strings.TrimSpace(string(e.must(200, "GET", path, f.app, nil).Body)); got != want {
		t.Fatalf("GET %s, want %s", got, want)
	}
	var version uint64
	_ = e.store.View(func(tx *storage.Tx) error {
		cr, err := tx.ChatRoom(uint64(f.room["id"].(float64)))
		version = cr.ForbiddenWordsVersion
		return err
	})
	if version != 1 {
		t.Fatalf("chat room version %d after one replacement", version)
	}

	tooMany := make([]string, chat.MaxForbiddenWords+1)
	for i := range tooMany {
		tooMany[i] = "w" + idString(i)
	}
	for name, body := range map[string]any{
		"missing list":   map[string]any{},
		"null list":      `{"forbiddenWords":null}`,
		"unknown field":  map[string]any{"forbiddenWords": []string{"a"}, "words": []string{"b"}},
		"not strings":    `{"forbiddenWords":[1,2]}`,
		"empty word":     map[string]any{"forbiddenWords": []string{"ok", ""}},
		"no letters":     map[string]any{"forbiddenWords": []string{"?!"}},
		"word too long":  map[string]any{"forbiddenWords": []string{strings.Repeat("a", chat.MaxForbiddenWordLen+1)}},
		"too many words": map[string]any{"forbiddenWords": tooMany},
		"not JSON":       "{oops",
	} {
		t.Run(name, func(t *testing.T) {
			e.fail(400, "INVALID_REQUEST", "PUT", path, f.app, body)
		})
	}
	if got := strings.TrimSpace(string(e.must(200, "GET", path, f.app, nil).Body)); got != want {
		t.Fatalf("refused bodies changed the list: %s", got)
	}
	// The largest list is accepted; [] clears.
	e.must(200, "PUT", path, f.app, map[string]any{"forbiddenWords": tooMany[:chat.MaxForbiddenWords]})
	e.must(200, "PUT", path, f.app, map[string]any{"forbiddenWords": []string{}})
	if got := strings.TrimSpace(string(e.must(200, "GET", path, f.app, nil).Body)); got != `{"forbiddenWords":[]}` {
		t.Fatalf("after clearing: %s", got)
	}
	_, other := e.newApp("other")
	e.fail(404, "VIDEO_ROOM_NOT_FOUND", "GET", path, other, nil)
}

// TestChatMuteAPI: mute (timed and not), the members list's muted fields,
// unmute, a mute that outlasts leaving, errors, and the events (webhook for
// the app, SSE for the member concerned only).
func TestChatMuteAPI(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	u1, u2 := e.newMember(f.app, "u1"), e.newMember(f.app, "u2")
	members := f.chat + "/members"
	e.fail(404, "CHAT_ROOM_NOT_FOUND", "POST", members+"/u1/mute", f.app, "")
	f.create()
	for _, u := range []string{"u1", "u2"} {
		e.must(201, "POST", members, f.app, map[string]any{"appUserId": u})
	}
	before := len(e.outboxEvents(0))

	got := e.must(200, "POST", members+"/u1/mute", f.app, map[string]any{"seconds": 60}).JSON()
	if got["appUserId"] != "u1" || got["muted"] != true || got["mutedAt"] != "2025-03-01T12:00:00.123456Z" ||
		got["mutedUntil"] != "2025-03-01T12:01:00.123456Z" {
		t.Fatalf("timed mute %v", got)
	}
	if got := e.must(200, "POST", members+"/u2/mute", f.app, "").JSON(); got["muted"] != true || got["mutedUntil"] != nil {
		t.Fatalf("mute without a duration %v", got)
	}
	list := func() map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, m := range e.must(200, "GET", members, f.app, nil).JSON()["content"].([]any) {
			mm := m.(map[string]any)
			out[mm["appUserId"].(string)] = mm
		}
		return out
	}
	l := list()
	if l["u1"]["muted"] != true || l["u1"]["mutedUntil"] != "2025-03-01T12:01:00.123456Z" ||
		l["u2"]["muted"] != true || l["u2"]["mutedUntil"] != nil || l["host"] != nil {
		t.Fatalf("members list %v", l)
	}
	if _, ok := l["u1"]["joinedAt"]; !ok {
		t.Fatal("members list lost joinedAt")
	}
	// The timed mute ends by itself.
	e.clock.Add(time.Minute)
	if l := list(); l["u1"]["muted"] != false || l["u1"]["mutedUntil"] != nil || l["u2"]["muted"] != true {
		t.Fatalf("after a minute %v", l)
	}
	// Leaving and joining again keeps the mute.
	e.must(204, "DELETE", members+"/u2", f.app, nil)
	if got := e.must(201, "POST", members, f.app, map[string]any{"appUserId": "u2"}).JSON(); got["muted"] != true {
		t.Fatalf("rejoined member not muted: %v", got)
	}
	if got := e.must(200, "POST", members+"/u2/unmute", f.app, "").JSON(); got["muted"] != false || got["mutedAt"] != nil {
		t.Fatalf("unmute %v", got)
	}
	e.must(200, "POST", members+"/u2/unmute", f.app, "") // not muted: 200, no event
	if l := list(); l["u2"]["muted"] != false {
		t.Fatalf("after unmute %v", l)
	}

	e.fail(404, "MEMBER_NOT_FOUND", "POST", members+"/ghost/mute", f.app, "")
	for name, body := range map[string]any{
		"zero":    map[string]any{"seconds": 0},
		"too big": map[string]any{"seconds": 30*24*3600 + 1},
		"string":  `{"seconds":"60"}`,
		"unknown": map[string]any{"minutes": 1},
	} {
		t.Run(name, func(t *testing.T) {
			e.fail(400, "INVALID_REQUEST", "POST", members+"/u1/mute", f.app, body)
		})
	}
	e.fail(400, "INVALID_REQUEST", "POST", members+"/u1/unmute", f.app, map[string]any{"seconds": 1})

	evs := e.outboxEvents(0)[before:]
	var names []string
	for _, ev := range evs {
		names = append(names, ev.Name)
	}
	want := []string{events.EventChatMemberMuted, events.EventChatMemberMuted, events.EventChatMemberUnmuted}
	if !slices.Equal(names, want) {
		t.Fatalf("events %v, want %v", names, want)
	}
	if !slices.Equal(evs[0].Receivers, []uint64{u1.ID}) || !slices.Equal(evs[2].Receivers, []uint64{u2.ID}) ||
		evs[0].Audience != events.AudienceChat {
		t.Fatalf("audiences %q %v %v", evs[0].Audience, evs[0].Receivers, evs[2].Receivers)
	}
	var wh struct {
		Event   string
		Payload struct {
			VideoRoomID uint64        `json:"videoRoomId"`
			Mute        chat.MuteView `json:"mute"`
		}
	}
	if err := json.Unmarshal(evs[0].Webhook, &wh); err != nil {
		t.Fatal(err)
	}
	if wh.Event != events.EventChatMemberMuted || wh.Payload.Mute.AppUserID != "u1" || !wh.Payload.Mute.Muted ||
		wh.Payload.VideoRoomID != uint64(f.room["id"].(float64)) {
		t.Fatalf("webhook %s", evs[0].Webhook)
	}
	var sig events.ChatMemberSignal
	if err := json.Unmarshal(evs[2].Message, &sig); err != nil {
		t.Fatal(err)
	}
	if sig.CustomData.Type != "CHAT_MEMBER" || sig.CustomData.AppUserID != "u2" || sig.CustomData.Muted ||
		sig.DeliveryType != "DIRECT" {
		t.Fatalf("unmute signal %s", evs[2].Message)
	}
}

// TestChatModerationMetricExported: the Server's Moderator counts refusals in
// roomcast_chat_messages_refused_total on /metrics, one series per reason.
func TestChatModerationMetricExported(t *testing.T) {
	f := newChatFixture(t)
	e := f.e
	m := e.newMember(f.app, "u1")
	f.create()
	e.must(200, "PUT", f.chat+"/forbidden-words", f.app, map[string]any{"forbiddenWords": []string{"spam"}})
	roomID := uint64(f.room["id"].(float64))
	moderate := func(text string) error {
		var merr error
		err := e.store.View(func(tx *storage.Tx) error {
			cr, err := tx.ChatRoom(roomID)
			if err != nil {
				return err
			}
			mem, err := tx.Member(cr.AppID, m.ID)
			if err != nil {
				return err
			}
			merr = e.api.Moderator.Moderate(tx, &cr, mem, text, e.clock.Now())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return merr
	}
	if err := moderate("spam"); !errors.Is(err, chat.ErrMemberNotFound) {
		t.Fatalf("before joining: %v", err)
	}
	e.must(201, "POST", f.chat+"/members", f.app, map[string]any{"appUserId": "u1"})
	for _, text := range []string{"Spam!", "SPAM", "fine"} {
		_ = moderate(text)
	}
	res, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`roomcast_chat_messages_refused_total{reason="forbidden_word"} 2`,
		`roomcast_chat_messages_refused_total{reason="not_member"} 1`,
		`roomcast_chat_messages_refused_total{reason="muted"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("%s", body)
	}
}
