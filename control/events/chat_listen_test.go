package events_test

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/internal/testwait"
)

// chatSink collects ListenChat deliveries.
type chatSink struct {
	mu sync.Mutex
	ds []events.ChatDelivery
}

func (s *chatSink) add(d events.ChatDelivery) {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
}

func (s *chatSink) all() []events.ChatDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ds)
}

// TestListenChat: a chat listener gets every chat event once, in outbox order,
// with no SSE stream open; Members is the chat room narrowed to the receivers,
// ascending; room transitions are not chat events; after stop nothing more
// arrives.
func TestListenChat(t *testing.T) {
	e := start(t, "", nil)
	a, room, ms, _ := chatSetup(t, e, 3)
	var sink chatSink
	stop := e.broker.ListenChat(sink.add)
	b := e.marker(a, room, "one")
	dm := e.send(a, room, "direct", map[string]any{"messageType": "DM", "message": "two",
		"appUserIds": []string{"u3", "u1", "ghost"}})
	e.must(204, "POST", chatPath(room)+"/messages/"+dm+"/hide", a.auth, nil)
	e.must(200, "POST", roomPath(room)+"/rtmp-broadcast/state/cancelled", a.auth, nil)
	e.marker(a, room, "three")
	testwait.Until(t, 10*time.Second, "four chat deliveries", func() bool { return len(sink.all()) >= 4 })

	ds := sink.all()
	if len(ds) != 4 {
		t.Fatalf("%d deliveries, want 4", len(ds))
	}
	names := []string{}
	for i, d := range ds {
		names = append(names, d.Event.Name)
		if i > 0 && d.Event.Seq <= ds[i-1].Event.Seq {
			t.Fatalf("delivery %d seq %d after %d", i, d.Event.Seq, ds[i-1].Event.Seq)
		}
		if !slices.IsSorted(d.Members) {
			t.Fatalf("members %v not ascending", d.Members)
		}
	}
	want := []string{events.EventChatMessageSent, events.EventChatMessageSent, events.EventChatMessageHidden, events.EventChatMessageSent}
	if !slices.Equal(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	all := []uint64{ms[0].ID, ms[1].ID, ms[2].ID}
	slices.Sort(all)
	receivers := []uint64{ms[0].ID, ms[2].ID}
	slices.Sort(receivers)
	for i, w := range [][]uint64{all, receivers, receivers, all} {
		if !slices.Equal(ds[i].Members, w) {
			t.Fatalf("delivery %d members %v, want %v", i, ds[i].Members, w)
		}
	}
	var first events.ChatMessage
	if err := json.Unmarshal(ds[0].Event.Message, &first); err != nil || first.MessageID != b || first.Origin != events.OriginAdmin {
		t.Fatalf("first message %s: %v", ds[0].Event.Message, err)
	}

	stop()
	e.marker(a, room, "after stop")
	// The SSE stream of a member proves the fan-out passed the last event.
	c, _ := e.openSSE(ms[0].Access, "")
	testwait.Until(t, 10*time.Second, "subscribed", func() bool { return e.broker.Stats().SSEClients == 1 })
	e.marker(a, room, "proof")
	// The fan-out (one goroutine, in order) reaches "proof" after "after stop":
	// the stream may or may not have subscribed before "after stop" went out.
	if _, cm := c.nextChat(t); cm.text() == "after stop" {
		c.expectTexts(t, "u1", "proof")
	} else if cm.text() != "proof" {
		t.Fatalf("u1 got %q, want \"proof\" (after \"after stop\" or not)", cm.text())
	}
	if n := len(sink.all()); n != 4 {
		t.Fatalf("%d deliveries after stop", n)
	}
}
