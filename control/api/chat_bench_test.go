package api

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchChat is a chat room with n messages, driven through echo's ServeHTTP.
func benchChat(b *testing.B, n int) (chatFixture, func(method, path, body string) int) {
	b.Helper()
	e := newEnv(b, nil)
	_, app := e.newApp("bench")
	e.newMember(app, "host")
	room := e.newRoom(app, "host", "bench room")
	f := chatFixture{e: e, app: app, room: room, chat: roomPath(room) + "/chat-room"}
	f.create()
	h := e.api.Handler()
	serve := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", string(app))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for i := range n {
		if code := serve("POST", f.chat+"/admin/messages/broadcast",
			fmt.Sprintf(`{"messageType":"MESSAGE","message":"m%d"}`, i)); code != 201 {
			b.Fatalf("seed message: %d", code)
		}
	}
	return f, serve
}

// BenchmarkChatBroadcast is POST .../admin/messages/broadcast without the network:
// validation, one bbolt write transaction (NoSync), JSON answer.
func BenchmarkChatBroadcast(b *testing.B) {
	f, serve := benchChat(b, 0)
	body := `{"messageType":"MESSAGE","customType":"MSG","message":"Foo Message","data":{"foo":"bar"},"appUserIds":["1","2"]}`
	b.ReportAllocs()
	for b.Loop() {
		if code := serve("POST", f.chat+"/admin/messages/broadcast", body); code != 201 {
			b.Fatalf("status %d", code)
		}
	}
}

// BenchmarkChatMessagesPage is GET .../chat-room/messages?page=50 of a room with
// 2 000 messages: one index range (skipping 500 keys), 10 decoded.
func BenchmarkChatMessagesPage(b *testing.B) {
	f, serve := benchChat(b, 2000)
	b.ReportAllocs()
	b.ResetTimer() // not the 2 000 seed writes
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := serve("GET", f.chat+"/messages?page=50", ""); code != 200 {
				b.Errorf("status %d", code)
				return
			}
		}
	})
}
