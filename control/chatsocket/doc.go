// Package chatsocket is the member chat socket: STOMP 1.2 over WebSocket on
// GET /v2/members/me/chat-socket, so that @stomp/stompjs in a browser and any
// STOMP client chat in a video room's chat room with its chat.channelKey.
//
//	client                             server
//	CONNECT passcode:<accessToken>  →  CONNECTED version:1.2 heart-beat:…
//	SUBSCRIBE /chat-rooms/{key}     →  (joins the chat room) RECEIPT
//	SEND /chat-rooms/{key}/messages →  stored (chat.Send), RECEIPT chat-message-id
//	                                ←  MESSAGE for every subscriber (Broker.ListenChat)
//	DISCONNECT receipt:x            →  RECEIPT x; the client closes the socket
//
// The API (control/api) routes the upgrade to Server.ServeChat; cmd builds the
// Server with the Control and the events Broker, Initializes it after the
// Broker and Closes it before the Broker and the HTTP shutdown.
//
// # Files
//
//   - server.go: Server (config, connection and subscription registry, the
//     chat event delivery), errors.go (the socket's error codes).
//   - conn.go: one connection (reader, writer, queue, fatal errors),
//     session.go (the frames: CONNECT, SUBSCRIBE, UNSUBSCRIBE, SEND, ACK,
//     DISCONNECT, refusals).
//   - send.go: joining and sending through control/chat (Join, Draft, Send),
//     and moderate, the one place where a member's message is checked.
//   - decode.go (the frame parser), destination.go (the destinations).
//
// # Ownership rules
//
//   - Messages are stored like admin messages: one storage Update per SEND
//     through chat.Send (origin MEMBER, the member as sender), which writes
//     the chat.message_sent outbox event in the same transaction. Nothing is
//     delivered from the SEND itself: every chat event (member and admin
//     messages, hide, unhide, delete) reaches the sockets from the outbox after
//     commit, through events.Broker.ListenChat, exactly as it reaches SSE
//     streams; so every subscriber gets each event once, in outbox order, with
//     the audience the SSE stream uses (chat members, narrowed to a direct
//     message's receivers). control/events does not import this package.
//   - SUBSCRIBE to a chat room makes the member a chat member (chat.Join, in a
//     store transaction; the room's password unless already a member).
//     UNSUBSCRIBE and closing the socket stop deliveries only: the membership
//     stays, like the Member API join (leave through the Member API, or the
//     App API removes the member), so a page reload does not churn the member
//     list. A member removed from the chat room (or a closed chat room) gets
//     nothing more on its open subscriptions.
//   - Goroutines: per connection, the ServeChat goroutine reads (frames are
//     handled in it, in order) and one writer goroutine, started and waited for
//     by it, writes. Server.Close fails every connection (ERROR
//     SERVER_SHUTDOWN) and waits for all ServeChat calls. Timers (connect,
//     heart-beat, token expiry) only fail their connection.
//   - A slow or dead client never slows anyone: the fan-out only queues into a
//     bounded per-connection queue (SendQueue); a full queue closes that
//     connection (SLOW_CONSUMER) and aborts its blocked write; each write has
//     WriteTimeout; messages are capped at MaxFrameSize, subscriptions per
//     connection at MaxSubscriptions, connections at MaxConnsPerMember and
//     MaxConnections.
//   - Errors: protocol errors, authentication failures and abuse are ERROR
//     frames followed by the close; refusals of a SEND that harm nobody are a
//     RECEIPT with an error header and a MESSAGE on /user/queue/errors
//     (errors.go lists the codes; openapi.yaml documents the protocol).
//   - Tokens are never logged; the connection keeps its token only to check
//     it again (expiry, revocation) on SUBSCRIBE and SEND.
package chatsocket
