// Package chat is the chat room of a video room: its errors, message types and
// JSON views, membership (Join, Leave) and the chat events it writes to the
// outbox (AddEvent). Every function works inside the caller's storage
// transaction; the HTTP handlers are in control/api (chatHandlers) and the chat
// room's SSE audience is read by the events Broker through control.Control's
// ChatMembers.
//
// Files: errors.go (sentinels, Load), members.go (membership), messages.go (the
// message JSON), message_type.go (MessageType, Delivery), send.go (Draft and
// Send: the one send path of admin messages, control/api, and member messages,
// control/chatsocket), events.go (the outbox events and their SSE and webhook
// shapes).
//
// Ownership rules:
//   - No goroutines and no state: callers own the transaction, commit it, then
//     emit the outbox (events.Outbox.Emit).
//   - A message's SSE audience is the chat room's members, narrowed to its
//     receivers when it has any; webhooks carry every chat event.
package chat
