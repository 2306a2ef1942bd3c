package events_test

import (
	"testing"
	"time"

	"github.com/roomcast/roomcast/control/events"
)

// BenchmarkChatBroadcastFanout1000 measures the time for one admin chat broadcast
// to reach 1 000 chat members connected over real HTTP streams: the App API POST
// (message and outbox event in one transaction), Emit, chat-member lookup,
// fan-out, every client has read the message.
func BenchmarkChatBroadcastFanout1000(b *testing.B) {
	const members = 1000
	e := start(b, "", func(br *events.Broker) { br.PollInterval = time.Hour })
	a := e.newApp("a")
	host := e.newMember(a, "host")
	room := e.newRoom(a, host, nil)
	e.must(200, "POST", chatPath(room), a.auth, nil)
	aud := connectAudience(b, e, a, room, members) // join also joins the chat room
	body := map[string]any{"messageType": "MESSAGE", "message": "hello everyone", "data": map[string]any{"k": "v"}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		aud.received.Add(members)
		e.send(a, room, "broadcast", body)
		aud.received.Wait()
	}
	b.StopTimer()
	aud.close()
}
