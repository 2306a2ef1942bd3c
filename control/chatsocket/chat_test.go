package chatsocket_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/roomcast/roomcast/control/chatsocket"
	"github.com/roomcast/roomcast/internal/testwait"
)

// TestGoSTOMPClientChat uses go-stomp's client (an unmodified STOMP client)
// over coder/websocket's net.Conn adapter: two members subscribe (and so
// join the chat room: the App API lists them), one sends, both receive the
// message in the seed shape with the member as sender; the message is in the
// App API's message list and reaches the app as a chat.message_sent webhook;
// an admin hide reaches both as a CHANGE_DATA_CAPTURE signal frame.
func TestGoSTOMPClientChat(t *testing.T) {
	e := start(t, nil)
	a := e.newApp()
	e.must(200, "PUT", "/v2/apps/me/callback", string(a), map[string]any{"url": e.hooks.srv.URL})
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	alice, bob := e.newMember(a, "alice"), e.newMember(a, "bob")

	dialSTOMP := func(m member) *stomp.Conn {
		c, err := stomp.Connect(e.netConnOf(t), stomp.ConnOpt.Login(m.AppUserID, m.Token),
			stomp.ConnOpt.AcceptVersion(stomp.V12), stomp.ConnOpt.Host("roomcast"), stomp.ConnOpt.Logger(stompLog{}))
		if err != nil {
			t.Fatalf("%s: connect: %v", m.AppUserID, err)
		}
		if c.Version() != stomp.V12 {
			t.Fatalf("version %s", c.Version())
		}
		return c
	}
	ca, cb := dialSTOMP(alice), dialSTOMP(bob)
	defer cb.Disconnect()
	subA, err := ca.Subscribe(room.dest(), stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	subB, err := cb.Subscribe(room.dest(), stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 10*time.Second, "both subscribed", func() bool { return e.chat.Stats().Subscriptions == 2 })
	list := e.must(200, "GET", room.path()+"/chat-room/members", string(a), nil)
	if ids := appUserIDs(list["content"]); ids != "alice,bob" && ids != "bob,alice" {
		t.Fatalf("chat members %q, want alice and bob", ids)
	}

	body := `{"type":"MESSAGE","message":"hello from alice","customType":"MSG","data":{"k":"v"}}`
	if err := ca.Send(room.messages(), "application/json", []byte(body), stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("send: %v", err)
	}
	var msgID string
	for who, sub := range map[string]*stomp.Subscription{"alice": subA, "bob": subB} {
		m := receive(t, sub)
		var n chatMsg
		if err := json.Unmarshal(m.Body, &n); err != nil {
			t.Fatal(err)
		}
		if m.Destination != room.dest() || m.ContentType != "application/json" || m.Header.Get("message-id") == "" ||
			m.Header.Get("subscription") != sub.Id() || n.Origin != "MEMBER" || n.Type != "MESSAGE" ||
			n.DeliveryType != "BROADCAST" || n.ChannelKey != room.ChannelKey || n.VideoKey != strconv.FormatUint(room.ID, 10) ||
			n.text() != "hello from alice" || n.CustomType != "MSG" || n.Data["k"] != "v" ||
			n.Sender == nil || n.Sender.AppUserID != "alice" || n.Sender.AppUserName != "name alice" {
			t.Fatalf("%s got %v %s", who, m.Header, m.Body)
		}
		msgID = n.MessageID
	}

	page := e.must(200, "GET", room.path()+"/chat-room/messages", string(a), nil)
	first := page["content"].([]any)[0].(map[string]any)
	if page["totalElements"].(float64) != 1 || first["message"] != "hello from alice" || first["origin"] != "MEMBER" ||
		first["sender"].(map[string]any)["appUserId"] != "alice" || strconv.FormatFloat(first["messageId"].(float64), 'f', -1, 64) != msgID {
		t.Fatalf("message list %v", page)
	}
	testwait.Until(t, 10*time.Second, "chat.message_sent webhook", func() bool { return e.hooks.find("chat.message_sent", "hello from alice") != nil })
	var hook struct {
		Payload struct {
			ChatMessage struct {
				Origin string
				Sender struct{ AppUserID string }
			}
		}
	}
	_ = json.Unmarshal(e.hooks.find("chat.message_sent", "hello from alice"), &hook)
	if hook.Payload.ChatMessage.Origin != "MEMBER" || hook.Payload.ChatMessage.Sender.AppUserID != "alice" {
		t.Fatalf("webhook %s", e.hooks.find("chat.message_sent", "hello from alice"))
	}

	e.must(204, "POST", room.path()+"/chat-room/messages/"+msgID+"/hide", string(a), nil)
	for who, sub := range map[string]*stomp.Subscription{"alice": subA, "bob": subB} {
		var n chatMsg
		_ = json.Unmarshal(receive(t, sub).Body, &n)
		if n.text() != "SIGNAL:HIDDEN:"+msgID || n.Origin != "SYSTEM" || n.CustomType != "CHANGE_DATA_CAPTURE" {
			t.Fatalf("%s got %+v", who, n)
		}
	}
	if err := subA.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := ca.Disconnect(); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
}

// receive reads one message of sub within 10 s.
func receive(t *testing.T, sub *stomp.Subscription) *stomp.Message {
	t.Helper()
	select {
	case m := <-sub.C:
		if m.Err != nil {
			t.Fatalf("subscription %s: %v", sub.Id(), m.Err)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no message on %s", sub.Id())
	}
	return nil
}

// appUserIDs joins the appUserIds of a member list's content.
func appUserIDs(content any) string {
	var ids []string
	for _, c := range content.([]any) {
		ids = append(ids, c.(map[string]any)["appUserId"].(string))
	}
	return strings.Join(ids, ",")
}

// TestFrames walks every frame type with a raw client: STOMP (the 1.2
// spelling of CONNECT) and CONNECTED with its headers, SUBSCRIBE and RECEIPT,
// SEND and MESSAGE with its headers, UNSUBSCRIBE (no more deliveries to that
// subscription, the other goes on), ACK, DISCONNECT with a receipt and the
// socket closed after it.
func TestFrames(t *testing.T) {
	e := start(t, func(s *chatsocket.Server) { s.HeartBeat = 5 * time.Second })
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	m := e.newMember(a, "m")

	c := e.mustDial("")
	if c.ws.Subprotocol() != "v12.stomp" {
		t.Fatalf("subprotocol %q", c.ws.Subprotocol())
	}
	c.send(frame.STOMP, []string{"accept-version", "1.2", "host", "h", "login", "m", "passcode", m.Token,
		"heart-beat", "0,7000"}, nil)
	conn := c.next()
	if conn.Command != frame.CONNECTED || conn.Header.Get("version") != "1.2" || conn.Header.Get("heart-beat") != "5000,5000" ||
		conn.Header.Get("session") == "" || conn.Header.Get("server") == "" {
		t.Fatalf("CONNECTED %v", conn.Header)
	}
	c.subscribe("s1", room.dest())
	c.subscribe("s2", room.dest())
	r := c.post(room.messages(), "send-1", map[string]any{"message": "one"})
	if r.Header.Get("chat-message-id") != "1" {
		t.Fatalf("receipt %v", r.Header)
	}
	seen := map[string]bool{}
	for range 2 {
		f, n := c.nextMessage()
		if n.text() != "one" || f.Header.Get("destination") != room.dest() || f.Header.Get("content-type") != "application/json" ||
			f.Header.Get("content-length") != strconv.Itoa(len(f.Body)) || f.Header.Get("message-id") == "" {
			t.Fatalf("MESSAGE %v %s", f.Header, f.Body)
		}
		seen[f.Header.Get("subscription")] = true
	}
	if !seen["s1"] || !seen["s2"] {
		t.Fatalf("subscriptions %v", seen)
	}
	c.send(frame.UNSUBSCRIBE, []string{"id", "s1", "receipt", "u1"}, nil)
	c.expectReceipt("u1")
	c.send(frame.ACK, []string{"id", "x", "receipt", "ack"}, nil)
	c.expectReceipt("ack")
	c.post(room.messages(), "send-2", map[string]any{"message": "two"})
	c.post(room.messages(), "send-3", map[string]any{"message": "three"})
	for _, want := range []string{"two", "three"} {
		f, n := c.nextMessage()
		if f.Header.Get("subscription") != "s2" || n.text() != want {
			t.Fatalf("after UNSUBSCRIBE got %v %s, want %s on s2", f.Header, f.Body, want)
		}
	}
	// The chat membership outlives the subscription (UNSUBSCRIBE does not leave).
	list := e.must(200, "GET", room.path()+"/chat-room/members", string(a), nil)
	if appUserIDs(list["content"]) != "m" {
		t.Fatalf("members %v", list)
	}
	c.send(frame.DISCONNECT, []string{"receipt", "bye"}, nil)
	c.expectReceipt("bye")
	if err := c.ws.Close(websocket.StatusNormalClosure, ""); err != nil { // as stompjs does after the receipt
		t.Fatalf("close after DISCONNECT: %v", err)
	}
	testwait.Until(t, 10*time.Second, "connection gone", func() bool { return e.chat.Stats().Connections == 0 })
}

// TestDirectMessage: a member's direct message reaches its receiver and its
// sender, nobody else (the third member's next frame is a later broadcast).
func TestDirectMessage(t *testing.T) {
	e := start(t, nil)
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	var cs []*client
	for _, id := range []string{"u1", "u2", "u3"} {
		c, _ := e.connect(e.newMember(a, id).Token)
		c.subscribe("s", room.dest())
		cs = append(cs, c)
	}
	cs[0].post(room.messages(), "dm", map[string]any{"type": "DM", "message": "psst", "appUserIds": []string{"u2"}})
	cs[0].post(room.messages(), "all", map[string]any{"message": "everyone"})
	_, dm := cs[1].nextMessage()
	if dm.Type != "DM" || dm.DeliveryType != "DIRECT" || dm.text() != "psst" || dm.Sender.AppUserID != "u1" {
		t.Fatalf("u2 got %+v", dm)
	}
	cs[1].expectTexts("u2", "everyone")
	cs[0].expectTexts("u1 (sender)", "psst", "everyone")
	cs[2].expectTexts("u3", "everyone")
}

// TestAdminMessagesArrive: admin broadcasts and direct messages of the App API
// and their delete signals arrive as MESSAGE frames, direct ones only to their
// receivers.
func TestAdminMessagesArrive(t *testing.T) {
	e := start(t, nil)
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	c1, _ := e.connect(e.newMember(a, "u1").Token)
	c2, _ := e.connect(e.newMember(a, "u2").Token)
	c1.subscribe("s", room.dest())
	c2.subscribe("s", room.dest())
	send := func(kind string, body map[string]any) string {
		r := e.must(201, "POST", room.path()+"/chat-room/admin/messages/"+kind, string(a), body)
		return strconv.FormatFloat(r["messageId"].(float64), 'f', -1, 64)
	}
	b := send("broadcast", map[string]any{"messageType": "MESSAGE", "message": "notice"})
	send("direct", map[string]any{"messageType": "DM", "message": "for u2", "appUserIds": []string{"u2"}})
	e.must(204, "DELETE", room.path()+"/chat-room/messages/"+b, string(a), nil)
	c1.expectTexts("u1", "notice", "SIGNAL:DELETED:"+b)
	c2.expectTexts("u2", "notice", "for u2", "SIGNAL:DELETED:"+b)
}

// TestShutdown: Close ends every socket with ERROR SERVER_SHUTDOWN and waits
// for its goroutines (TestMain checks that none is left); a new socket then
// gets 503 before the upgrade.
func TestShutdown(t *testing.T) {
	e := start(t, nil)
	a := e.newApp()
	host := e.newMember(a, "host")
	room := e.newChatRoom(a, host, nil)
	c, _ := e.connect(e.newMember(a, "m").Token)
	c.subscribe("s", room.dest())
	pre := e.mustDial("") // not yet connected
	closed := make(chan struct{})
	go func() { // the clients read while the server closes, as live clients do
		e.chat.Close()
		close(closed)
	}()
	c.expectError("SERVER_SHUTDOWN")
	pre.expectError("SERVER_SHUTDOWN")
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if st := e.chat.Stats(); st.Connections != 0 || st.Subscriptions != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	if _, err := e.dial("", nil); err == nil {
		t.Fatal("upgrade accepted after Close")
	} else if c2, _ := e.dial("", nil); c2.resp == nil || c2.resp.StatusCode != 503 {
		t.Fatalf("after Close: %v", c2.resp)
	}
}
