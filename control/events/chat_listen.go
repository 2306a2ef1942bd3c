package events

import (
	"slices"
)

// ChatDelivery is a chat event (Audience AudienceChat: a chat message sent,
// hidden, visible again or deleted) as the fan-out hands it to chat listeners.
type ChatDelivery struct {
	// Event is the outbox event; Event.Message is the notification (ChatMessage or
	// ChatSignal), the same bytes the SSE stream sends. Shared: do not modify.
	Event Event
	// Members are the members who may receive it, in ascending order: the chat
	// room's members when the event was fanned out, narrowed to the event's
	// receivers (Event.ForMember). Shared: do not modify.
	Members []uint64
}

// ChatFunc receives chat deliveries (ListenChat).
type ChatFunc func(ChatDelivery)

// chatListener is one ListenChat registration (a pointer, so that stop removes
// exactly it).
type chatListener struct{ fn ChatFunc }

// ListenChat makes fn receive every chat event fanned out after this call,
// exactly once each and in outbox order, until stop is called. fn runs on the
// fan-out goroutine: it must not block (queue and return) nor call the Broker.
// After stop returns, fn may still be running for one last delivery; it is
// not called again once the fan-out has moved past it. Chat events reach
// listeners even when no SSE stream is open. The member chat socket
// (control/chatsocket) is the listener cmd wires.
func (b *Broker) ListenChat(fn ChatFunc) (stop func()) {
	l := &chatListener{fn: fn}
	b.mu.Lock()
	b.chatListeners = append(slices.Clip(b.chatListeners), l)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.chatListeners = slices.DeleteFunc(slices.Clone(b.chatListeners), func(x *chatListener) bool { return x == l })
		b.mu.Unlock()
	}
}

// deliverChat hands ev and the members of audience it admits to listeners.
func (b *Broker) deliverChat(listeners []*chatListener, ev Event, audience []uint64) {
	members := make([]uint64, 0, len(audience))
	for _, m := range audience {
		if ev.ForMember(m) {
			members = append(members, m)
		}
	}
	slices.Sort(members)
	d := ChatDelivery{Event: ev, Members: slices.Compact(members)}
	for _, l := range listeners {
		l.fn(d)
	}
}
