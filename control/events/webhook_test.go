package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/internal/testwait"
	"github.com/roomcast/roomcast/storage"
)

// TestEveryTransitionWritesOneEvent drives every transition of the issue and reads
// the outbox: one event each, in order, with the stop reasons.
func TestEveryTransitionWritesOneEvent(t *testing.T) {
	e := start(t, "", nil)
	a := e.newApp("a")
	host := e.newMember(a, "host")
	room := e.newRoom(a, host, nil)
	e.broadcast(a, host, room)
	if err := e.ctl.VODFinished(context.Background(), e.roomUUID(a, room), nil); err != nil {
		t.Fatal(err)
	}
	e.publish(host) // preview, no room
	e.unpublish(host, "KEY_RESET")
	e.publish(host)
	e.unpublish(host, "IDLE_TIMEOUT")
	e.publish(host)
	e.unpublish(host, "SERVER_SHUTDOWN")
	cancelled := e.newRoom(a, host, nil)
	e.must(200, "POST", roomPath(cancelled)+"/rtmp-broadcast/state/cancelled", a.auth, nil)
	failed := e.newRoom(a, host, nil)
	e.broadcastOnce(a, host, failed)
	if err := e.ctl.VODFinished(context.Background(), e.roomUUID(a, failed), errors.New("disk full")); err != nil {
		t.Fatal(err)
	}
	forced := e.newRoom(a, host, nil)
	e.publish(host)
	e.must(200, "POST", roomPath(forced)+"/rtmp-broadcast/state/live", a.auth, nil)
	e.must(200, "POST", roomPath(forced)+"/rtmp-broadcast/state/ended", a.auth, map[string]any{"force": true})
	e.ctl.IngestCapacity(events.EventIngestNearLimit, 8, 10)
	e.ctl.IngestCapacity(events.EventIngestLimited, 10, 10)
	want := []string{
		"stream_key.publish_started", "video_room.live",
		"stream_key.publish_stopped:CONNECTION_ERROR", "video_room.live_inactive",
		"stream_key.publish_started", "video_room.live",
		"stream_key.publish_stopped:CLIENT_UNPUBLISH", "video_room.live_inactive",
		"video_room.ended:REQUESTED", "video_room.vod_archived",
		"stream_key.publish_started", "stream_key.publish_stopped:KEY_RESET",
		"stream_key.publish_started", "stream_key.publish_stopped:IDLE_TIMEOUT",
		"stream_key.publish_started", "stream_key.publish_stopped:SERVER_SHUTDOWN",
		"video_room.cancelled",
		"stream_key.publish_started", "video_room.live",
		"stream_key.publish_stopped:CLIENT_UNPUBLISH", "video_room.live_inactive",
		"video_room.ended:REQUESTED", "video_room.vod_failed",
		// a forced end of a LIVE room: the room ends, then its publisher is
		// disconnected (this harness has no ingest: control stops the key itself)
		"stream_key.publish_started", "video_room.live",
		"video_room.ended:FORCED", "stream_key.publish_stopped:KICKED",
		"ingest.concurrency_near_limit", "ingest.concurrency_limited",
	}
	if got := e.outboxNames(0); !slices.Equal(got, want) {
		t.Fatalf("outbox:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// broadcastOnce: LIVE, LIVE_INACTIVE, ENDED.
func (e *env) broadcastOnce(a app, host member, room uint64) {
	e.t.Helper()
	e.publish(host)
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", a.auth, nil)
	e.unpublish(host, "CLIENT_UNPUBLISH")
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/ended", a.auth, nil)
}

// roomUUID reads a room's uuid through the API.
func (e *env) roomUUID(a app, room uint64) string {
	return e.must(200, "GET", roomPath(room), a.auth, nil)["uuid"].(string)
}

// TestWebhooksSignedAndOrdered: every event of two interleaved rooms arrives once,
// signed with the documented recipe, in order per room, with the documented body.
func TestWebhooksSignedAndOrdered(t *testing.T) {
	e := start(t, "", nil)
	rcv := newReceiver(t)
	a := e.newApp("a")
	secret := e.setCallback(a, rcv.srv.URL+"/hooks", nil)
	h1, h2 := e.newMember(a, "h1"), e.newMember(a, "h2")
	r1, r2 := e.newRoom(a, h1, nil), e.newRoom(a, h2, nil)
	e.publish(h1)
	e.publish(h2)
	e.must(200, "POST", roomPath(r1)+"/rtmp-broadcast/state/live", a.auth, nil)
	e.must(200, "POST", roomPath(r2)+"/rtmp-broadcast/state/live", a.auth, nil)
	e.unpublish(h2, "CLIENT_UNPUBLISH")
	e.unpublish(h1, "CLIENT_UNPUBLISH")
	e.must(200, "POST", roomPath(r1)+"/rtmp-broadcast/state/ended", a.auth, nil)
	e.must(200, "POST", roomPath(r2)+"/rtmp-broadcast/state/ended", a.auth, nil)
	all := e.outboxNames(0)
	testwait.Until(t, 10*time.Second, "all webhooks", func() bool { return len(rcv.hooks()) >= len(all) })
	hs := rcv.hooks()
	if len(hs) != len(all) {
		t.Fatalf("%d webhooks for %d events", len(hs), len(all))
	}
	perRoom := map[uint64][]string{}
	for _, h := range hs {
		if err := verify(secret, h.Signature, h.Body); err != nil {
			t.Fatal(err)
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(h.Body, &body); err != nil {
			t.Fatal(err)
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range body {
				if !yield(k) {
					return
				}
			}
		})
		if !slices.Equal(keys, []string{"event", "eventTs", "id", "payload"}) {
			t.Fatalf("body keys %v", keys)
		}
		if string(body["id"]) != strconv.Quote(h.EventID) {
			t.Fatalf("body id %s, header %s", body["id"], h.EventID)
		}
		perRoom[h.RoomID] = append(perRoom[h.RoomID], h.Event)
	}
	want := []string{"stream_key.publish_started", "video_room.live", "stream_key.publish_stopped",
		"video_room.live_inactive", "video_room.ended"}
	// The first publish_started has no room yet (preview): lane 0.
	for _, r := range []uint64{r1, r2} {
		if got := perRoom[r]; !slices.Equal(got, want[1:]) {
			t.Errorf("room %d webhooks %v, want %v", r, got, want[1:])
		}
	}
	if got := perRoom[0]; !slices.Equal(got, []string{"stream_key.publish_started", "stream_key.publish_started"}) {
		t.Errorf("webhooks without room %v", got)
	}
}

// TestWebhooksSurviveReceiverDownAndRestart: the receiver fails while a broadcast
// runs, the whole server restarts from the same file, the receiver comes back:
// every event arrives, in order per room, retries keep their Roomcast-Event-Id.
func TestWebhooksSurviveReceiverDownAndRestart(t *testing.T) {
	dir := t.TempDir()
	rcv := newReceiver(t)
	rcv.setStatus(http.StatusServiceUnavailable)
	e := start(t, dir, nil)
	a := e.newApp("a")
	secret := e.setCallback(a, rcv.srv.URL, nil)
	host := e.newMember(a, "host")
	room := e.newRoom(a, host, nil)
	e.broadcast(a, host, room)
	want, wantRooms := e.outboxNames(0), e.outboxRooms(0)
	testwait.Until(t, 10*time.Second, "failed attempts", func() bool { return len(rcv.hooks()) >= 3 })
	e.stop() // restart with the receiver still down
	before := len(rcv.hooks())
	e = start(t, dir, nil)
	testwait.Until(t, 10*time.Second, "attempts after the restart", func() bool { return len(rcv.hooks()) > before })
	rcv.setStatus(http.StatusNoContent)
	testwait.Until(t, 10*time.Second, "every event delivered", func() bool { return len(distinct(rcv.hooks())) == len(want) })
	testwait.Until(t, 10*time.Second, "delivery log all DELIVERED", func() bool {
		page := e.must(200, "GET", "/v2/apps/me/callback/deliveries?status=PENDING", a.auth, nil)
		return page["totalElements"].(float64) == 0
	})
	hs := rcv.hooks()
	var names []string
	ids := map[string]string{} // event id → body
	for _, h := range hs {
		if err := verify(secret, h.Signature, h.Body); err != nil {
			t.Fatal(err)
		}
		if prev, ok := ids[h.EventID]; ok && prev != string(h.Body) {
			t.Fatalf("event %s sent with two bodies", h.EventID)
		}
		ids[h.EventID] = string(h.Body)
	}
	// Order is promised per room (a lane): events of different rooms, or of no room
	// (publish_started of a key not yet bound), may interleave either way.
	byRoom := map[uint64][]string{}
	for _, h := range distinct(hs) {
		byRoom[h.RoomID] = append(byRoom[h.RoomID], h.Event)
		names = append(names, h.Event)
	}
	wantByRoom := map[uint64][]string{}
	var wantNames []string
	for i, n := range want {
		n = strings.Split(n, ":")[0]
		wantByRoom[wantRooms[i]] = append(wantByRoom[wantRooms[i]], n)
		wantNames = append(wantNames, n)
	}
	if len(names) != len(wantNames) || len(byRoom) != len(wantByRoom) {
		t.Fatalf("delivered %v, want %v", names, wantNames)
	}
	for room, w := range wantByRoom {
		if !slices.Equal(byRoom[room], w) {
			t.Fatalf("room %d: delivered %v, want %v (all: %v)", room, byRoom[room], w, names)
		}
	}
	if len(hs) <= len(want) {
		t.Fatalf("expected retries: %d requests for %d events", len(hs), len(want))
	}
	// Strict order per room: once a later event of a room was sent, no earlier
	// one is sent again (each is retried until acknowledged before the next).
	order := map[string]int{}
	for i, h := range distinct(hs) {
		order[h.EventID] = i
	}
	lastOf := map[uint64]int{}
	for _, h := range hs {
		if prev, ok := lastOf[h.RoomID]; ok && order[h.EventID] < prev {
			t.Fatalf("room %d: %s sent after a later event", h.RoomID, h.Event)
		}
		lastOf[h.RoomID] = order[h.EventID]
	}
	page := e.must(200, "GET", "/v2/apps/me/callback/deliveries?pageSize=100", a.auth, nil)
	content := page["content"].([]any)
	if len(content) != len(want) {
		t.Fatalf("delivery log has %d entries, want %d", len(content), len(want))
	}
	d := content[len(content)-1].(map[string]any) // the oldest
	if d["status"] != "DELIVERED" || d["attempts"].(float64) < 2 || d["lastError"] != nil || d["destination"] != "APP_CALLBACK" {
		t.Fatalf("oldest delivery %v", d)
	}
}

// TestWebhookBadReceivers: redirect, 500 with a huge body, timeout: retried,
// logged with the error, never followed, never blocking transitions.
func TestWebhookBadReceivers(t *testing.T) {
	redirected := make(chan struct{}, 100)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected <- struct{}{}
	}))
	defer target.Close()
	stall := make(chan struct{})
	cases := []struct {
		name    string
		handler http.HandlerFunc
		errPart string
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusFound)
		}, "HTTP 302: redirects are not followed"},
		{"500-huge-body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			chunk := []byte(strings.Repeat("x", 1<<16))
			for range 1 << 10 { // 64 MiB, only 64 KiB read
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "HTTP 500: xxxx"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body) // so the server notices the client hanging up
			select {
			case <-stall:
			case <-r.Context().Done():
			}
		}, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			e := start(t, "", func(b *events.Broker) { b.AttemptTimeout = 200 * time.Millisecond })
			defer e.stop()
			a := e.newApp("a")
			e.setCallback(a, srv.URL, nil)
			host := e.newMember(a, "host")
			t0 := time.Now()
			e.publish(host)
			e.unpublish(host, "CLIENT_UNPUBLISH")
			if d := time.Since(t0); d > 5*time.Second {
				t.Fatalf("transitions took %s", d)
			}
			var last map[string]any
			testwait.Until(t, 10*time.Second, "two failed attempts", func() bool {
				page := e.must(200, "GET", "/v2/apps/me/callback/deliveries", a.auth, nil)
				c := page["content"].([]any)
				if len(c) == 0 {
					return false
				}
				last = c[len(c)-1].(map[string]any)
				return last["attempts"].(float64) >= 2
			})
			lastErr := strings.ReplaceAll(last["lastError"].(string), "deadline exceeded", "timeout")
			if last["status"] != "PENDING" || !strings.Contains(lastErr, tc.errPart) ||
				last["nextAttemptAt"] == nil {
				t.Fatalf("delivery %v", last)
			}
			if len(last["lastError"].(string)) > 400 {
				t.Fatalf("lastError not bounded: %d bytes", len(last["lastError"].(string)))
			}
		})
	}
	close(stall)
	if len(redirected) != 0 {
		t.Fatal("a redirect was followed")
	}
}

// TestCallbackURLMustBeHTTP: PUT /callback refuses other schemes.
func TestCallbackURLMustBeHTTP(t *testing.T) {
	e := start(t, "", nil)
	a := e.newApp("a")
	for _, u := range []string{"ftp://x/y", "file:///etc/passwd", "javascript:alert(1)", "/relative", "http://"} {
		if st, body := e.call("PUT", "/v2/apps/me/callback", a.auth, map[string]any{"url": u}); st != 400 {
			t.Errorf("PUT callback %q: %d %s", u, st, body)
		}
	}
}

// TestRedeliverKeepsEventID: a manual redelivery sends the same event (same
// Roomcast-Event-Id and body) again; pending deliveries cannot be redelivered.
func TestRedeliverKeepsEventID(t *testing.T) {
	e := start(t, "", nil)
	rcv := newReceiver(t)
	a := e.newApp("a")
	e.setCallback(a, rcv.srv.URL, []string{events.EventPublishStarted})
	host := e.newMember(a, "host")
	e.publish(host)
	testwait.Until(t, 10*time.Second, "first delivery", func() bool { return len(rcv.hooks()) == 1 })
	page := e.must(200, "GET", "/v2/apps/me/callback/deliveries", a.auth, nil)
	d := page["content"].([]any)[0].(map[string]any)
	id := strconv.FormatFloat(d["id"].(float64), 'f', -1, 64)
	testwait.Until(t, 10*time.Second, "DELIVERED", func() bool {
		p := e.must(200, "GET", "/v2/apps/me/callback/deliveries", a.auth, nil)
		return p["content"].([]any)[0].(map[string]any)["status"] == "DELIVERED"
	})
	nd := e.must(202, "POST", "/v2/apps/me/callback/deliveries/"+id+"/redeliver", a.auth, nil)
	if nd["redeliveryOf"].(float64) != d["id"].(float64) || nd["eventId"] != d["eventId"] {
		t.Fatalf("redelivery %v of %v", nd, d)
	}
	testwait.Until(t, 10*time.Second, "redelivery", func() bool { return len(rcv.hooks()) == 2 })
	hs := rcv.hooks()
	if hs[0].EventID != hs[1].EventID || string(hs[0].Body) != string(hs[1].Body) || hs[1].EventID != d["eventId"] {
		t.Fatalf("redelivered %+v vs %+v", hs[1], hs[0])
	}
	// Another app cannot see or redeliver it; unknown ids are 404.
	b := e.newApp("b")
	if st, _ := e.call("POST", "/v2/apps/me/callback/deliveries/"+id+"/redeliver", b.auth, nil); st != 404 {
		t.Fatalf("other app redeliver: %d", st)
	}
	if st, _ := e.call("POST", "/v2/apps/me/callback/deliveries/999/redeliver", a.auth, nil); st != 404 {
		t.Fatalf("unknown redeliver: %d", st)
	}
	if st, _ := e.call("GET", "/v2/apps/me/callback/deliveries?status=NOPE", a.auth, nil); st != 400 {
		t.Fatalf("bad status filter: %d", st)
	}
}

// TestRoomWebhookFilter: a room created with webhook {endPoint, events} receives
// only those events of that room, signed with the app's secret; the app callback
// filter applies separately.
func TestRoomWebhookFilter(t *testing.T) {
	e := start(t, "", nil)
	roomRcv, appRcv := newReceiver(t), newReceiver(t)
	a := e.newApp("a")
	host := e.newMember(a, "host")
	if st, _ := e.call("POST", "/v2/apps/me/video-rooms", a.auth, map[string]any{"appUserId": "host",
		"type": "BROADCAST_RTMP", "scheduledAt": "2030-01-01T00:00:00Z",
		"webhook": map[string]any{"endPoint": "ftp://nope"}}); st != 400 {
		t.Fatalf("room webhook ftp: %d", st)
	}
	room := e.newRoom(a, host, map[string]any{"webhook": map[string]any{
		"endPoint": roomRcv.srv.URL, "events": []string{events.EventVideoRoomLive, events.EventVideoRoomEnded}}})
	other := e.newRoom(a, host, nil)
	e.broadcastOnce(a, host, room)
	e.broadcastOnce(a, host, other)
	secret := e.setCallback(a, appRcv.srv.URL, []string{events.EventVideoRoomEnded})
	testwait.Until(t, 10*time.Second, "room webhooks", func() bool { return len(roomRcv.hooks()) == 2 })
	for i, h := range roomRcv.hooks() {
		if err := verify(secret, h.Signature, h.Body); err != nil {
			t.Fatal(err)
		}
		if h.RoomID != room || h.Event != []string{events.EventVideoRoomLive, events.EventVideoRoomEnded}[i] {
			t.Fatalf("room webhook %d: %s room %d", i, h.Event, h.RoomID)
		}
	}
	// The app callback, set after the broadcasts, gets only video_room.ended (of
	// events the dispatcher had not read yet, if any) and later events in its filter.
	e.ctl.IngestCapacity(events.EventIngestLimited, 10, 10)
	third := e.newRoom(a, host, nil)
	e.must(200, "POST", roomPath(third)+"/rtmp-broadcast/state/cancelled", a.auth, nil)
	e.broadcastOnce(a, host, e.newRoom(a, host, nil))
	testwait.Until(t, 10*time.Second, "ended of the last room", func() bool {
		hs := appRcv.hooks()
		return len(hs) > 0 && hs[len(hs)-1].RoomID == third+1
	})
	for _, h := range appRcv.hooks() {
		if h.Event != events.EventVideoRoomEnded {
			t.Fatalf("app callback got %s outside its filter", h.Event)
		}
	}
}

// TestCapacityEventGoesToEveryApp: ingest events (AppID 0) reach every app.
func TestCapacityEventGoesToEveryApp(t *testing.T) {
	e := start(t, "", nil)
	r1, r2 := newReceiver(t), newReceiver(t)
	e.setCallback(e.newApp("a"), r1.srv.URL, nil)
	e.setCallback(e.newApp("b"), r2.srv.URL, nil)
	e.ctl.IngestCapacity(events.EventIngestNearLimit, 8, 10)
	testwait.Until(t, 10*time.Second, "both apps", func() bool { return len(r1.hooks()) == 1 && len(r2.hooks()) == 1 })
	if r1.hooks()[0].EventID != r2.hooks()[0].EventID {
		t.Fatal("one event, two ids")
	}
}

// TestAutoEndSurvivesRestart: a LIVE_INACTIVE room with autoEnd is ended after a
// restart, at its stored deadline.
func TestAutoEndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := start(t, dir, nil)
	a := e.newApp("a")
	host := e.newMember(a, "host")
	room := e.newRoom(a, host, map[string]any{"autoEnd": map[string]any{"inactiveSeconds": 1}})
	e.publish(host)
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/live", a.auth, nil)
	e.unpublish(host, "CONNECTION_ERROR")
	e.stop() // before the timer fires
	time.Sleep(1100 * time.Millisecond)
	e = start(t, dir, nil)
	testwait.Until(t, 10*time.Second, "auto-ended after restart", func() bool {
		return e.must(200, "GET", roomPath(room), a.auth, nil)["videoRoomState"] == "ENDED"
	})
	var names []string
	_ = e.store.View(func(tx *storage.Tx) error {
		return tx.ForEachEventAfter(0, func(rec storage.Event) (bool, error) {
			names = append(names, rec.Name)
			return true, nil
		})
	})
	if names[len(names)-1] != events.EventVideoRoomEnded {
		t.Fatalf("events %v", names)
	}
}

// TestRetention: delivered events and finished deliveries older than Retention are
// pruned (a Last-Event-ID before them is then too old); events of pending
// deliveries stay.
func TestRetention(t *testing.T) {
	e := start(t, "", func(b *events.Broker) {
		b.Retention, b.PruneInterval = 150*time.Millisecond, 20*time.Millisecond
	})
	rcv := newReceiver(t)
	a := e.newApp("a")
	e.setCallback(a, rcv.srv.URL, nil)
	host, viewer := e.newMember(a, "host"), e.newMember(a, "viewer")
	room := e.newRoom(a, host, nil)
	e.join(viewer, room)
	e.broadcastOnce(a, host, room)
	first := func() uint64 {
		var f uint64
		_ = e.store.View(func(tx *storage.Tx) error { f = tx.FirstEventSeq(); return nil })
		return f
	}
	testwait.Until(t, 10*time.Second, "outbox and log pruned", func() bool {
		page := e.must(200, "GET", "/v2/apps/me/callback/deliveries", a.auth, nil)
		return first() == 0 && page["totalElements"].(float64) == 0
	})
	c, _ := e.openSSE(viewer.Access, "1")
	if m := c.next(t); m.Event != "reset" || !strings.Contains(m.Data, events.ResetLastEventIDTooOld) {
		t.Fatalf("old id after pruning: %+v", m)
	}
	// A failing receiver keeps its events in the outbox past Retention.
	rcv.setStatus(500)
	e.ctl.IngestCapacity(events.EventIngestLimited, 10, 10)
	testwait.Until(t, 10*time.Second, "attempted", func() bool { return len(rcv.hooks()) > len(e.outboxNames(0))+4 })
	time.Sleep(300 * time.Millisecond)
	if got := e.outboxNames(0); !slices.Equal(got, []string{events.EventIngestLimited}) {
		t.Fatalf("outbox with a pending delivery: %v", got)
	}
}
