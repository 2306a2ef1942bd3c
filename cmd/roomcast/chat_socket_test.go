package main

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-stomp/stomp/v3/frame"
)

// TestChatSocketWired: the whole server serves the member chat socket: a member
// CONNECTs with ?accessToken=, subscribes to a chat room, sends and receives
// its own message; Close ends the socket with ERROR SERVER_SHUTDOWN before the
// store closes.
func TestChatSocketWired(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, testConfig(t, dir))
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	a := newAPI(t, s, dir)
	a.do("POST", "/members", map[string]any{"appUserId": "m"}, nil)
	var tok struct{ AccessToken string }
	a.do("POST", "/members/m/tokens", nil, &tok)
	var room struct{ ID uint64 }
	a.do("POST", "/video-rooms", map[string]any{"appUserId": "m", "type": "BROADCAST_RTMP",
		"scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, &room)
	var chat struct{ ChannelKey string }
	if st := a.do("POST", "/video-rooms/"+strconv.FormatUint(room.ID, 10)+"/chat-room", nil, &chat); st != 200 {
		t.Fatalf("create chat room: %d", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+s.HTTPAddr()+"/v2/members/me/chat-socket?accessToken="+tok.AccessToken,
		&websocket.DialOptions{Subprotocols: []string{"v10.stomp", "v11.stomp", "v12.stomp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	write := func(s string) {
		if err := ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	read := func() *frame.Frame {
		t.Helper()
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if f, err := frame.NewReader(bytes.NewReader(msg)).Read(); err != nil || f != nil {
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
	}
	dest := "/chat-rooms/" + chat.ChannelKey
	write("CONNECT\naccept-version:1.0,1.1,1.2\nheart-beat:10000,10000\n\n\x00")
	if f := read(); f.Command != "CONNECTED" || f.Header.Get("version") != "1.2" {
		t.Fatalf("CONNECT: %s %v %s", f.Command, f.Header, f.Body)
	}
	write("SUBSCRIBE\nid:0\ndestination:" + dest + "\nreceipt:s\n\n\x00")
	if f := read(); f.Command != "RECEIPT" || f.Header.Get("receipt-id") != "s" {
		t.Fatalf("SUBSCRIBE: %s %v %s", f.Command, f.Header, f.Body)
	}
	write("SEND\ndestination:" + dest + "/messages\ncontent-type:application/json\n\n{\"message\":\"hi\"}\x00")
	if f := read(); f.Command != "MESSAGE" || !bytes.Contains(f.Body, []byte(`"message":"hi"`)) ||
		!bytes.Contains(f.Body, []byte(`"origin":"MEMBER"`)) {
		t.Fatalf("MESSAGE: %s %v %s", f.Command, f.Header, f.Body)
	}
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	closed = true
	if f := read(); f.Command != "ERROR" || f.Header.Get("message") != "SERVER_SHUTDOWN" {
		t.Fatalf("at shutdown: %s %v %s", f.Command, f.Header, f.Body)
	}
	_, _, _ = ws.Read(ctx) // the close handshake
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("server Close did not return")
	}
}
