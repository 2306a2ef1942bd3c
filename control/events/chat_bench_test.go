package events_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
	var wg sync.WaitGroup
	var readers sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: members}}
	defer client.CloseIdleConnections()
	for i := range members {
		m := e.newMember(a, "m"+strconv.Itoa(i))
		e.join(m, room) // joins the chat room too
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v2/members/me/event-sources", nil)
		req.Header.Set("Authorization", "Bearer "+m.Access)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer res.Body.Close()
			rd := bufio.NewReader(res.Body)
			for {
				line, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(line, "data: ") {
					wg.Done()
				}
			}
		}()
	}
	for e.broker.Stats().SSEClients < members {
		time.Sleep(time.Millisecond)
	}
	body := map[string]any{"messageType": "MESSAGE", "message": "hello everyone", "data": map[string]any{"k": "v"}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		wg.Add(members)
		e.send(a, room, "broadcast", body)
		wg.Wait()
	}
	b.StopTimer()
	e.stop() // ends the streams
	cancel()
	readers.Wait()
}
