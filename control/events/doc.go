// Package events is the one home of Roomcast's events: the event envelope (Event,
// the member SSE notifications RoomSignal, ChatMessage and ChatSignal, the
// webhook body), the outbox record (Outbox writes each event in the caller's
// storage transaction) and its delivery (member Server-Sent Events and signed
// webhooks, Broker). It imports storage only: the control plane produces events
// through it, and a second server node can read and deliver the same outbox.
//
// The control plane writes events; cmd wires the Broker:
//
//	broker := &events.Broker{Store: store, Log: log}
//	ctl.Events = broker                  // before ctl.Initialize
//	srv.EventSource = broker             // the API serves the member SSE stream through it
//	broker.Channels = ctl                // the audiences (ChannelDirectory, ChatDirectory)
//	broker.Initialize()                  // after ctl.Initialize
//	stop := broker.ListenChat(fn)        // the chat socket's deliveries (chatsocket.Server)
//	defer broker.Close()                 // after the HTTP server stopped, before store.Close
//
// # Files
//
//   - event.go: event names, Event, DecodeEvent, Emitter, Waker, Outbox.
//   - message.go: the SSE notifications carried in Event.Message.
//   - redelivery.go: manual redelivery records.
//   - broker.go, sse.go, webhook.go: the Broker and its goroutines.
//   - chat_listen.go: ListenChat, the chat events for the member chat socket.
//
// # Ownership rules
//
//   - The bbolt outbox is the only source of truth. A producer writes each event
//     with Outbox.Append in the transaction of its change and calls Outbox.Emit
//     after commit; Emit never blocks, it only wakes the Broker's goroutines, which
//     then read the outbox in sequence order. An Emit that comes late, twice or
//     never loses nothing: the next wake or the poll (PollInterval) reads the
//     outbox again.
//   - One fan-out goroutine reads new room events and pushes each SSE frame (shared,
//     immutable bytes) into the bounded queue of every subscribed member of the
//     event's audience: the room's channel (room transitions, ChannelDirectory) or,
//     for AudienceChat (chat messages), the room's chat room (ChatDirectory),
//     narrowed to Event.Receivers when the event has a receiver set (direct
//     messages). Replay applies the same filter. A full queue disconnects that
//     client; nothing blocks the fan-out. The same goroutine hands each chat
//     event, with its audience resolved once, to the chat listeners
//     (ListenChat: the member chat socket), once each and in outbox order; a
//     listener only queues. Each SSE connection is written by its own
//     HTTP handler goroutine, with a write deadline on every write, a comment
//     heartbeat, and Last-Event-ID replay read straight from the outbox.
//   - One dispatcher goroutine turns new outbox events into durable delivery records
//     (storage.Delivery, one per destination) in the same transaction that advances
//     its cursor (meta "webhooks.enqueuedSeq"), then hands due deliveries to a fixed
//     pool of workers through a bounded channel. A lane (app, destination kind, room)
//     has at most one delivery in flight, and only its oldest pending one: webhooks of
//     a room arrive strictly in order. Results are written back before the lane moves
//     on, so a restart resumes exactly where it stopped (a delivery cut short by
//     Close is sent again: receivers dedupe on Roomcast-Event-Id).
//   - Retention: outbox events and finished deliveries older than Retention are
//     deleted, except events some pending delivery or the fan-out still needs.
//   - Close cancels every goroutine (fan-out, dispatcher, workers, the SSE handlers
//     it serves) and waits for them; it does not touch the store.
//   - Webhook signing secrets and URLs with credentials are never logged.
package events
