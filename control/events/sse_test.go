package events_test

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/internal/testwait"
	"github.com/roomcast/roomcast/storage"
)

// join makes m join the channel of room through the Member API.
func (e *env) join(m member, room uint64) {
	e.t.Helper()
	e.must(200, "POST", "/v2/members/me/video-rooms/"+strconv.FormatUint(room, 10)+"/join", "Bearer "+m.Access, nil)
}

// seedKeys are the top-level fields of the EventSource notification.
var seedKeys = []string{"channelId", "customData", "customType", "deliveryType", "messageId", "origin", "sentAt", "type"}

// checkSeedMessage checks the documented fields of an SSE message about room.
func checkSeedMessage(t *testing.T, data string, room uint64, state string) (playURL *string) {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		t.Fatalf("message %s: %v", data, err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, seedKeys) {
		t.Fatalf("message fields %v, want %v", keys, seedKeys)
	}
	var m struct {
		MessageID, SentAt, Origin, Type, DeliveryType, CustomType string
		ChannelID                                                 uint64
		CustomData                                                map[string]any
	}
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []string{m.MessageID, m.SentAt} {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Fatalf("messageId/sentAt %q: %v", ts, err)
		}
	}
	if m.Origin != "SYSTEM" || m.Type != "SIGNAL" || m.DeliveryType != "BROADCAST" ||
		m.CustomType != "CHANGE_DATA_CAPTURE" || m.ChannelID != room {
		t.Fatalf("message %s", data)
	}
	cd := m.CustomData
	if cd["type"] != "VIDEO_ROOM" || cd["videoRoomId"] != strconv.FormatUint(room, 10) || cd["videoRoomState"] != state {
		t.Fatalf("customData %v, want state %s", cd, state)
	}
	if _, ok := cd["playUrl"]; !ok {
		t.Fatalf("customData without playUrl: %v", cd)
	}
	if u, ok := cd["playUrl"].(string); ok {
		return &u
	}
	return nil
}

// TestSSEDropAndResume: a member joined to the room's channel receives the seed
// messages LIVE, LIVE_INACTIVE, LIVE (new playUrl), LIVE_INACTIVE, ENDED with
// increasing ids; a member not joined receives none of them.
func TestSSEDropAndResume(t *testing.T) {
	e := start(t, "", nil)
	a := e.newApp("a")
	host, viewer, outsider := e.newMember(a, "host"), e.newMember(a, "viewer"), e.newMember(a, "outsider")
	room := e.newRoom(a, host, nil)
	e.join(viewer, room)
	c, st := e.openSSE(viewer.Access, "")
	if st != 200 || c.res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %q", st, c.res.Header.Get("Content-Type"))
	}
	o, _ := e.openSSE(outsider.Access, "")
	testwait.Until(t, 10*time.Second, "both subscribed", func() bool { return e.broker.Stats().SSEClients == 2 })
	e.broadcast(a, host, room)
	want := []string{"LIVE", "LIVE_INACTIVE", "LIVE", "LIVE_INACTIVE", "ENDED"}
	var ids []uint64
	var urls []*string
	for _, w := range want {
		m, state := c.nextState(t)
		if state != w || m.Event != "" {
			t.Fatalf("got %s (event %q), want %s", state, m.Event, w)
		}
		id, err := strconv.ParseUint(m.ID, 10, 64)
		if err != nil || (len(ids) > 0 && id <= ids[len(ids)-1]) {
			t.Fatalf("id %q after %v", m.ID, ids)
		}
		ids = append(ids, id)
		urls = append(urls, checkSeedMessage(t, m.Data, room, w))
	}
	if urls[0] == nil || urls[2] == nil || *urls[0] == *urls[2] || urls[1] != nil || urls[3] != nil || urls[4] != nil {
		t.Fatalf("playUrls %v: set while LIVE, new on resume, null otherwise", urls)
	}
	// The outsider's first message is about a room it joined later, not these.
	other := e.newRoom(a, host, nil)
	e.join(outsider, other)
	e.must(200, "POST", roomPath(other)+"/rtmp-broadcast/state/cancelled", a.auth, nil)
	m := o.next(t)
	checkSeedMessage(t, m.Data, other, "CANCELLED")
}

// TestSSEReplayLastEventID: a member that reconnects with Last-Event-ID gets what it
// missed, in order, then the live stream, without duplicates.
func TestSSEReplayLastEventID(t *testing.T) {
	e := start(t, "", nil)
	a := e.newApp("a")
	host, viewer := e.newMember(a, "host"), e.newMember(a, "viewer")
	room := e.newRoom(a, host, nil)
	e.join(viewer, room)
	c, _ := e.openSSE(viewer.Access, "")
	testwait.Until(t, 10*time.Second, "subscribed", func() bool { return e.broker.Stats().SSEClients == 1 })
	e.publish(host)
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", a.auth, nil)
	m1, _ := c.nextState(t)
	c.close()
	e.unpublish(host, "CONNECTION_ERROR") // missed
	e.publish(host)                       // missed
	c2, _ := e.openSSE(viewer.Access, m1.ID)
	e.unpublish(host, "CLIENT_UNPUBLISH") // live (or replayed: either way once)
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/ended", a.auth, nil)
	var got []string
	last := m1.ID
	for range 4 {
		m, s := c2.nextState(t)
		if mustAtoi(m.ID) <= mustAtoi(last) {
			t.Fatalf("id %s after %s", m.ID, last)
		}
		last = m.ID
		got = append(got, s)
	}
	if want := []string{"LIVE_INACTIVE", "LIVE", "LIVE_INACTIVE", "ENDED"}; !slices.Equal(got, want) {
		t.Fatalf("after reconnect %v, want %v", got, want)
	}
	// Same through ?lastEventId= (EventSource polyfills), from the first id.
	c3, _ := e.openSSEPath(viewer.Access, "/v2/members/me/event-sources?lastEventId="+m1.ID, "")
	m, s := c3.nextState(t)
	if s != "LIVE_INACTIVE" || mustAtoi(m.ID) <= mustAtoi(m1.ID) {
		t.Fatalf("query replay: %s %s", m.ID, s)
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// TestSSEBadLastEventID: garbage, future and too-old ids start from now with a
// reset message that says why.
func TestSSEBadLastEventID(t *testing.T) {
	e := start(t, "", func(b *events.Broker) { b.ReplayLimit = 2 })
	a := e.newApp("a")
	host, viewer := e.newMember(a, "host"), e.newMember(a, "viewer")
	room := e.newRoom(a, host, nil)
	e.join(viewer, room)
	e.broadcast(a, host, room) // 9 events
	for _, tc := range []struct{ id, reason string }{
		{"garbage", events.ResetInvalidLastEventID},
		{"-1", events.ResetInvalidLastEventID},
		{"99999", events.ResetInvalidLastEventID},
		{"1", events.ResetLastEventIDTooOld}, // 8 behind, limit 2
	} {
		c, _ := e.openSSE(viewer.Access, tc.id)
		m := c.next(t)
		var r struct{ Type, Reason, LastEventID, ResumeFrom string }
		if err := json.Unmarshal([]byte(m.Data), &r); err != nil {
			t.Fatal(err)
		}
		if m.Event != "reset" || r.Type != "RESET" || r.Reason != tc.reason || r.LastEventID != tc.id || m.ID != r.ResumeFrom {
			t.Fatalf("Last-Event-ID %q: %+v %+v", tc.id, m, r)
		}
		c.close()
	}
	// A recent id within the limit replays.
	c, _ := e.openSSE(viewer.Access, "8")
	if m, s := c.nextState(t); m.Event != "" || s != "ENDED" {
		t.Fatalf("replay from 8: %+v %s", m, s)
	}
}

// TestSSEUnauthorized: a missing, forged or app-level credential is 401 JSON.
func TestSSEUnauthorized(t *testing.T) {
	e := start(t, "", nil)
	a := e.newApp("a")
	for _, auth := range []string{"", "Bearer nope", "Bearer " + strings.Repeat("x", 200), a.auth} {
		st, body := e.call("GET", "/v2/members/me/event-sources", auth, nil)
		if st != 401 || !strings.Contains(string(body), `"errorCode":"UNAUTHORIZED"`) {
			t.Fatalf("auth %q: %d %s", auth, st, body)
		}
	}
}

// TestSSEHeartbeat: idle streams get comment lines.
func TestSSEHeartbeat(t *testing.T) {
	e := start(t, "", func(b *events.Broker) { b.Heartbeat = 30 * time.Millisecond })
	a := e.newApp("a")
	viewer := e.newMember(a, "viewer")
	c, _ := e.openSSE(viewer.Access, "")
	for n := 0; n < 2; {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ": heartbeat\n" {
			n++
		}
	}
}

// TestSSESlowClientDisconnected: a client that stops reading is disconnected once
// its queue is full; the fan-out and the other clients go on.
func TestSSESlowClientDisconnected(t *testing.T) {
	e := start(t, "", func(b *events.Broker) { b.ClientQueue, b.WriteTimeout = 4, 500*time.Millisecond })
	a := e.newApp("a")
	host, slow, fast := e.newMember(a, "host"), e.newMember(a, "slow"), e.newMember(a, "fast")
	room := e.newRoom(a, host, nil)
	e.join(slow, room)
	e.join(fast, room)
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /v2/members/me/event-sources HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", slow.Access)
	fc, _ := e.openSSE(fast.Access, "")
	testwait.Until(t, 10*time.Second, "subscribed", func() bool { return e.broker.Stats().SSEClients == 2 })
	pad := strings.Repeat("p", 64<<10)
	got := 0
	// Disconnected either by its full queue (SSEDropped) or by the write timeout,
	// whichever comes first; in both cases the fan-out never waited for it.
	for i := 0; e.broker.Stats().SSEClients == 2; i++ {
		if i == 2000 {
			t.Fatal("slow client never dropped")
		}
		e.appendRoomEvent(a.AppID, room, pad)
		// The reading client keeps up: at most one message behind, well within its
		// queue of 4 (a lag of 12 × 64 KiB used to outgrow the loopback socket
		// buffers on a busy machine and drop the fast client too).
		for got <= i-1 {
			fc.next(t)
			got++
		}
	}
	e.appendRoomEvent(a.AppID, room, "last")
	for {
		if m := fc.next(t); strings.Contains(m.Data, `"last"`) {
			break
		}
	}
}

// appendRoomEvent writes a synthetic room event with a message padded by pad and
// emits it (what a transition does).
func (e *env) appendRoomEvent(appID, room uint64, pad string) {
	e.t.Helper()
	msg, _ := json.Marshal(map[string]any{"customData": map[string]any{"videoRoomState": "LIVE", "pad": pad}})
	ev := events.Event{ID: uuid.NewString(), Name: events.EventVideoRoomLive, AppID: appID, RoomID: room,
		ChannelID: room, Time: time.Now().UTC(), Message: msg, Webhook: json.RawMessage(`{}`)}
	raw, _ := json.Marshal(ev)
	rec := storage.Event{AppID: appID, RoomID: room, Name: ev.Name, Payload: raw}
	if err := e.store.Update(func(tx *storage.Tx) error { return tx.AppendEvent(&rec) }); err != nil {
		e.t.Fatal(err)
	}
	ev.Seq = rec.Seq
	e.broker.Emit(ev)
}
