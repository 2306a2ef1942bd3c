package chatsocket_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/roomcast/roomcast/control/chat"
	"github.com/roomcast/roomcast/control/chatsocket"
	"github.com/roomcast/roomcast/internal/testwait"
)

// connectFrame is a CONNECT with token as passcode, as raw bytes.
func connectFrame(token string) string {
	return "CONNECT\naccept-version:1.2\nhost:h\npasscode:" + token + "\n\n\x00"
}

// TestBadInput: every malformed or abusive input gets an ERROR with its code
// and the socket is closed, while a watcher in the same chat room keeps
// receiving every message in order and the server keeps serving.
func TestBadInput(t *testing.T) {
	e := start(t, func(s *chatsocket.Server) { s.MaxFrameSize = 4096; s.MaxConnsPerMember = 2 })
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, map[string]any{"password": "secret"})
	watcher, w := e.newMember(a, "watcher"), (*client)(nil)
	w, _ = e.connect(watcher.Token)
	w.subscribe("w", room.dest(), "password", "secret")
	bad := e.newMember(a, "bad")
	n := 0
	// proof: the bad connection is gone, and the watcher still gets a new message.
	proof := func(t *testing.T, name string) {
		t.Helper()
		testwait.Until(t, 10*time.Second, "bad connections gone", func() bool { return e.chat.Stats().Connections == 1 })
		n++
		text := fmt.Sprintf("after %s", name)
		w.t = t
		w.post(room.messages(), "p"+strconv.Itoa(n), map[string]any{"message": text})
		w.expectTexts("watcher", text)
	}
	run := func(name, code string, connect bool, msgs ...string) {
		t.Run(name, func(t *testing.T) {
			c := e.mustDial("")
			c.t = t
			if connect {
				c.raw([]byte(connectFrame(bad.Token)))
				if f := c.next(); f.Command != frame.CONNECTED {
					t.Fatalf("CONNECT answered %s %s", f.Command, f.Body)
				}
			}
			for _, m := range msgs {
				c.raw([]byte(m))
			}
			c.expectError(code)
			proof(t, name)
		})
	}
	raw := func(name, code string, msgs ...string) { run(name, code, false, msgs...) }
	connected := func(name, code string, msgs ...string) { run(name, code, true, msgs...) }
	raw("garbage", "INVALID_FRAME", "\x16\x03\x01 not stomp at all\n\n\x00")
	raw("frame before CONNECT", "NOT_CONNECTED", "SEND\ndestination:"+room.messages()+"\n\n{}\x00")
	raw("frame without NUL", "FRAME_NOT_TERMINATED", "CONNECT\naccept-version:1.2\n\n")
	raw("oversized frame", "FRAME_TOO_LARGE", "SEND\ndestination:x\n\n"+strings.Repeat("x", 5000)+"\x00")
	raw("undefined escape", "INVALID_FRAME", connectFrame(bad.Token)[:0]+"SUBSCRIBE\nid:a\\t\n\n\x00")
	raw("header without colon", "INVALID_FRAME", "CONNECT\naccept-version\n\n\x00")
	raw("content-length of 4 GB", "INVALID_FRAME", "CONNECT\ncontent-length:4000000000\n\n\x00")
	raw("content-length past the message", "FRAME_NOT_TERMINATED", "CONNECT\ncontent-length:100\n\nabc\x00")
	raw("no NUL after content-length", "INVALID_FRAME", "CONNECT\ncontent-length:1\n\nabc\x00")
	raw("unsupported version", "UNSUPPORTED_VERSION", "CONNECT\naccept-version:1.0,1.1\npasscode:"+bad.Token+"\n\n\x00")
	raw("bad heart-beat", "INVALID_FRAME", "CONNECT\naccept-version:1.2\nheart-beat:fast\npasscode:"+bad.Token+"\n\n\x00")
	raw("no token", "UNAUTHORIZED", "CONNECT\naccept-version:1.2\n\n\x00")
	raw("forged token", "UNAUTHORIZED", connectFrame(bad.Token+"x"))
	connected("second CONNECT", "NOT_CONNECTED", connectFrame(bad.Token))
	connected("transaction", "UNSUPPORTED_FRAME", "BEGIN\ntransaction:t\n\n\x00")
	connected("server frame", "UNSUPPORTED_FRAME", "MESSAGE\ndestination:x\n\n\x00")
	connected("subscribe unknown destination", "UNKNOWN_DESTINATION", "SUBSCRIBE\nid:1\ndestination:/topic/x\n\n\x00")
	connected("subscribe unknown chat room", "CHAT_ROOM_NOT_FOUND", "SUBSCRIBE\nid:1\ndestination:/chat-rooms/nope\n\n\x00")
	connected("wrong password", "VIDEO_ROOM_PASSWORD_MISMATCH", "SUBSCRIBE\nid:1\npassword:guess\ndestination:"+room.dest()+"\n\n\x00")
	connected("subscribe without id", "INVALID_FRAME", "SUBSCRIBE\ndestination:"+room.dest()+"\n\n\x00")
	connected("duplicate subscription", "DUPLICATE_SUBSCRIPTION", "SUBSCRIBE\nid:e\ndestination:/user/queue/errors\n\n\x00",
		"SUBSCRIBE\nid:e\ndestination:/user/queue/errors\n\n\x00")

	t.Run("1000 SUBSCRIBE", func(t *testing.T) {
		c, _ := e.connect(bad.Token)
		c.t = t
		c.subscribe("first", room.dest(), "password", "secret")
		var b strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&b, "SUBSCRIBE\nid:%d\ndestination:%s\npassword:secret\n\n\x00", i, room.dest())
			if b.Len() > 3500 || i == 999 {
				c.raw([]byte(b.String()))
				b.Reset()
			}
		}
		for { // receipts are not asked for; MESSAGE frames cannot come (nobody sends)
			f := c.next()
			if f.Command == frame.ERROR {
				c.pending = append([]*frame.Frame{f}, c.pending...)
				break
			}
		}
		c.expectError("TOO_MANY_SUBSCRIPTIONS")
		proof(t, "1000 SUBSCRIBE")
	})
	t.Run("too many connections per member", func(t *testing.T) {
		c1, _ := e.connect(bad.Token)
		c2, _ := e.connect(bad.Token)
		c3 := e.mustDial("")
		c3.t = t
		c3.raw([]byte(connectFrame(bad.Token)))
		c3.expectError("TOO_MANY_CONNECTIONS")
		c1.ws.CloseNow()
		c2.ws.CloseNow()
		proof(t, "too many connections")
	})
	if st := e.chat.Stats(); st.Subscriptions != 1 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestAuth: the token may come as passcode, as an Authorization: Bearer header
// of CONNECT, as ?accessToken= or an Authorization header of the upgrade; a bad
// token on the upgrade is a 401 JSON before any WebSocket; an expired token is
// refused at CONNECT, and a connection whose token expires meanwhile is closed
// at its next frame.
func TestAuth(t *testing.T) {
	e := start(t, nil)
	a := e.newApp()
	m := e.newMember(a, "m")
	connected := func(c *client) {
		t.Helper()
		c.raw([]byte("CONNECT\naccept-version:1.2\n\n\x00"))
		if f := c.next(); f.Command != frame.CONNECTED {
			t.Fatalf("got %s %s", f.Command, f.Body)
		}
	}
	connected(e.mustDial("accessToken=" + m.Token))
	c, err := e.dial("", http.Header{"Authorization": {"Bearer " + m.Token}})
	if err != nil {
		t.Fatal(err)
	}
	connected(c)
	c = e.mustDial("")
	c.raw([]byte("CONNECT\naccept-version:1.2\nAuthorization:Bearer " + m.Token + "\n\n\x00"))
	if f := c.next(); f.Command != frame.CONNECTED {
		t.Fatalf("Authorization header in CONNECT: %s %s", f.Command, f.Body)
	}
	if _, err := e.dial("accessToken=forged", nil); err == nil {
		t.Fatal("forged upgrade token accepted")
	} else if c, _ := e.dial("accessToken=forged", nil); c.resp == nil || c.resp.StatusCode != 401 ||
		!strings.HasPrefix(c.resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("forged upgrade token: %v", c.resp)
	}
	st, body := e.call("GET", "/v2/members/me/chat-socket", "", nil)
	if st != http.StatusUpgradeRequired || body["errorCode"] != "UPGRADE_REQUIRED" {
		t.Fatalf("plain GET: %d %v", st, body)
	}

	// Expiry: a connection made now, then the clock passes the token's TTL.
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	live, _ := e.connect(m.Token)
	live.subscribe("s", room.dest())
	e.clock.Add(2 * time.Hour)
	late := e.mustDial("")
	late.raw([]byte(connectFrame(m.Token)))
	late.expectError("UNAUTHORIZED")
	live.raw([]byte("SEND\ndestination:" + room.messages() + "\n\n{\"message\":\"x\"}\x00"))
	live.expectError("UNAUTHORIZED")
}

// TestSendRefusals: refusals that harm nobody answer with a RECEIPT carrying
// error and error-message headers and a MESSAGE on /user/queue/errors; the
// connection goes on and its next message is stored.
func TestSendRefusals(t *testing.T) {
	e := start(t, func(s *chatsocket.Server) {
		s.Moderator = &chat.Moderator{MaxMessageLen: 10}
		if err := s.Moderator.Initialize(); err != nil {
			t.Fatal(err)
		}
	})
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	closed := e.newChatRoom(a, host, nil)
	other := e.newChatRoom(a, host, nil)
	m := e.newMember(a, "m")
	c, _ := e.connect(m.Token)
	c.subscribe("errs", "/user/queue/errors")
	c.subscribe("room", room.dest())
	c.subscribe("closed", closed.dest())
	e.must(200, "POST", closed.path()+"/chat-room/close", string(a), nil)
	cases := []struct {
		name, dest, body, code string
	}{
		{"not joined", other.messages(), `{"message":"hi"}`, "CHAT_ROOM_MEMBER_NOT_FOUND"},
		{"too long", room.messages(), `{"message":"` + strings.Repeat("é", 11) + `"}`, "CHAT_MESSAGE_TOO_LONG"},
		{"bad JSON", room.messages(), `{"message":`, "INVALID_REQUEST"},
		{"unknown field", room.messages(), `{"text":"hi"}`, "INVALID_REQUEST"},
		{"data not an object", room.messages(), `{"message":"hi","data":[1]}`, "INVALID_REQUEST"},
		{"DM without receivers", room.messages(), `{"type":"DM","message":"hi"}`, "EMPTY_CHAT_ROOM_APP_USER_IDS"},
		{"unknown destination", "/chat-rooms/" + room.ChannelKey + "/x", `{"message":"hi"}`, "UNKNOWN_DESTINATION"},
		{"closed chat room", closed.messages(), `{"message":"hi"}`, "CHAT_ROOM_MEMBER_NOT_FOUND"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "r" + strconv.Itoa(i)
			c.send(frame.SEND, []string{"destination", tc.dest, "receipt", id}, []byte(tc.body))
			r := c.receiptFor(id)
			if r.Header.Get("error") != tc.code || r.Header.Get("error-message") == "" {
				t.Fatalf("receipt %v, want error %s", r.Header, tc.code)
			}
			f, _ := c.nextMessage()
			var b struct{ ErrorCode, Message, Command, Destination, ReceiptID string }
			_ = json.Unmarshal(f.Body, &b)
			if f.Header.Get("subscription") != "errs" || f.Header.Get("destination") != "/user/queue/errors" ||
				b.ErrorCode != tc.code || b.Command != "SEND" || b.Destination != tc.dest || b.ReceiptID != id {
				t.Fatalf("error queue %v %s", f.Header, f.Body)
			}
		})
	}
	c.send(frame.SEND, []string{"destination", room.messages()}, []byte(`{"message":"no receipt"}`))
	f, _ := c.nextMessage()
	if !strings.Contains(string(f.Body), "no receipt") {
		t.Fatalf("refused without receipt? %s", f.Body)
	}
	r := c.post(room.messages(), "ok", map[string]any{"message": "fine"})
	if r.Header.Get("chat-message-id") != "2" {
		t.Fatalf("receipt %v", r.Header)
	}
	c.expectTexts("m", "fine")
}

// TestHeartBeat: the server beats at the negotiated interval and closes a
// client that promised beats and went silent (ERROR HEART_BEAT_TIMEOUT); a
// socket that never sends CONNECT is closed after ConnectTimeout.
func TestHeartBeat(t *testing.T) {
	e := start(t, func(s *chatsocket.Server) {
		s.HeartBeat = 50 * time.Millisecond
		s.ConnectTimeout = 200 * time.Millisecond
	})
	a := e.newApp()
	m := e.newMember(a, "m")
	c, conn := e.connect(m.Token, "heart-beat", "20,30")
	if conn.Header.Get("heart-beat") != "50,50" {
		t.Fatalf("heart-beat %q", conn.Header.Get("heart-beat"))
	}
	if f, err := c.nextFrame(10*time.Second, false); err != nil || f != nil {
		t.Fatalf("want a heart-beat, got %v %v", f, err)
	}
	c.expectError("HEART_BEAT_TIMEOUT") // the client sent nothing for 2 × max(20, 50) ms
	mute := e.mustDial("")
	mute.expectError("HEART_BEAT_TIMEOUT")
}

// TestSlowConsumer: a client that never reads (small socket buffers) fills its
// queue and is dropped with SLOW_CONSUMER; the others get every message.
func TestSlowConsumer(t *testing.T) {
	// The write deadline is long: the queue, not the deadline, must drop the client.
	e := start(t, func(s *chatsocket.Server) { s.SendQueue = 4; s.WriteTimeout = time.Minute }, smallSendBuffers)
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	good, _ := e.connect(e.newMember(a, "good").Token)
	good.subscribe("s", room.dest())

	slowM := e.newMember(a, "slow")
	dialer := &net.Dialer{Control: smallBuffers}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.wsURL("accessToken="+slowM.Token), &websocket.DialOptions{
		HTTPClient: hc, Subprotocols: []string{"v12.stomp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	slow := &client{t: t, ws: ws}
	slow.raw([]byte("CONNECT\naccept-version:1.2\n\n\x00"))
	if f := slow.next(); f.Command != frame.CONNECTED {
		t.Fatalf("CONNECT answered %s", f.Command)
	}
	slow.subscribe("s", room.dest()) // reads CONNECTED and the receipt, then never again

	data := map[string]any{"pad": strings.Repeat("p", 15000)}
	var want []string
	for i := 0; e.chat.Stats().Dropped == 0; i++ {
		if i == 500 {
			t.Fatal("the slow client was never dropped")
		}
		text := "m" + strconv.Itoa(i)
		e.must(201, "POST", room.path()+"/chat-room/admin/messages/broadcast", string(a),
			map[string]any{"messageType": "MESSAGE", "message": text, "data": data})
		want = append(want, text)
		good.expectTexts("good", text)
	}
	testwait.Until(t, 10*time.Second, "slow connection closed", func() bool { return e.chat.Stats().Connections == 1 })
	good.post(room.messages(), "after", map[string]any{"message": "after"})
	good.expectTexts("good", "after")
	if len(want) < 5 {
		t.Fatalf("dropped after %d messages", len(want))
	}
}

// TestModeratedSends: the chat room's forbidden words, a mute and the member's
// rate limit refuse a SEND the way every refusal does (RECEIPT error header, the
// connection goes on) through chat.Moderator; another member is unaffected.
func TestModeratedSends(t *testing.T) {
	e := start(t, func(s *chatsocket.Server) {
		s.Moderator = &chat.Moderator{Rate: 1e-6, Burst: 4} // four messages, no refill
		if err := s.Moderator.Initialize(); err != nil {
			t.Fatal(err)
		}
	})
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	m, other := e.newMember(a, "m"), e.newMember(a, "o")
	c, _ := e.connect(m.Token)
	c.subscribe("room", room.dest())
	o, _ := e.connect(other.Token)
	o.subscribe("room", room.dest())
	e.must(200, "PUT", room.path()+"/chat-room/forbidden-words", string(a), map[string]any{"forbiddenWords": []string{"dummkopf"}})
	refused := func(id, text, code string) {
		t.Helper()
		if r := c.post(room.messages(), id, map[string]any{"message": text}); r.Header.Get("error") != code {
			t.Fatalf("%q: receipt %v, want error %s", text, r.Header, code)
		}
	}
	refused("f", "Du DUMMKOPF!", "CHAT_MESSAGE_FORBIDDEN_WORD")
	accepted := func(id, text string) {
		t.Helper()
		if r := c.post(room.messages(), id, map[string]any{"message": text}); r.Header.Get("error") != "" {
			t.Fatalf("%q refused: %v", text, r.Header)
		}
	}
	accepted("ok1", "clean")
	e.must(200, "POST", room.path()+"/chat-room/members/m/mute", string(a), nil)
	refused("mu", "hello", "CHAT_MEMBER_MUTED")
	e.must(200, "POST", room.path()+"/chat-room/members/m/unmute", string(a), nil)
	accepted("ok2", "again")
	refused("rl", "one too many", "CHAT_RATE_LIMITED")
	o.post(room.messages(), "o1", map[string]any{"message": "others go on"})
	o.expectTexts("o", "clean", "again", "others go on")
}
