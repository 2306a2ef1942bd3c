// Package chat is the chat room of a video room: its errors, message types and
// JSON views, membership (Join, Leave) and the chat events it writes to the
// outbox (AddEvent). Every function works inside the caller's storage
// transaction; the HTTP handlers are in control/api (chatHandlers) and the chat
// room's SSE audience is read by the events Broker through control.Control's
// ChatMembers.
//
// Moderation: Moderator.Moderate is the one check of a member's message (the
// member send path calls it inside its transaction): closed room, length
// (MaxMessageLen, shared with admin messages), the per-member rate limit
// (Limiter), membership, mutes (Mute, Unmute, MuteOf) and the chat room's
// forbidden words (Matcher; matching rules in words.go), each refusal a
// documented sentinel counted in roomcast_chat_messages_refused_total{reason}.
//
// Files: errors.go (sentinels, Load), members.go (membership), messages.go (the
// message JSON), message_type.go (MessageType, Delivery), send.go (Draft and
// Send: the one send path of admin messages, control/api, and member messages,
// control/chatsocket), events.go (the outbox events and their SSE and webhook
// shapes), moderation.go (Moderator), words.go (normalising and matching
// forbidden words), limiter.go (token buckets per member), mutes.go (mutes and
// their events).
//
// Ownership rules:
//   - No goroutines. The functions are stateless: callers own the transaction,
//     commit it, then emit the outbox (events.Outbox.Emit).
//   - Moderator is the only state: its limiter and its compiled matchers (one
//     per chat room, replaced when ForbiddenWordsVersion changes, at most
//     MaxMatchers) behind mutexes, safe for concurrent use. Its memory is bounded:
//     the limiter forgets members idle for two refill periods (a forgotten bucket
//     was full anyway), the matcher cache drops one entry when full. A Matcher is
//     immutable once compiled.
//   - A message's SSE audience is the chat room's members, narrowed to its
//     receivers when it has any; webhooks carry every chat event.
package chat
