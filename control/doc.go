// Package control is Roomcast's control plane: the echo/v4 REST API (App API under
// /v2/apps/me, Member API under /v2/members/me), authentication of apps and members,
// signed member tokens, the VideoRoom state machine and the seams that ingest and the
// packager call through cmd/roomcast (PublishStarted, PublishStopped, AuthorizePlay,
// VerifyStreamingToken, Room).
//
// Ownership rules:
//   - control owns every write to apps, members, stream keys and rooms; ingest and the
//     packager reach the room logic only through the exported methods of Control,
//     wired by cmd with plain values (control never imports ingest or packager).
//   - Every room transition is computed by the pure function transition
//     (statemachine.go) and applied in one storage Update that writes the room, its
//     stream key and the outbox event together. Events and the OnSessionLive /
//     OnRoomEnded hooks run after the commit, outside any mutex.
//   - Chat changes (admin message sent, hidden, unhidden, deleted) write their
//     outbox event in the transaction of the change too (chat_events.go). Their SSE
//     audience is the room's chat room (Event.Audience AudienceChat, ChatMembers),
//     narrowed to the message's receivers (Event.Receivers); the Member API room
//     join/leave also joins/leaves the room's open chat room.
//   - Concurrent API transitions of one room: the first holds a per-room try-lock
//     (until its hooks returned, so hooks of one room run in order), the others get
//     400 REQUEST_LOCKED at once. Ingest transitions are serialized by the store.
//     A hook must not call an API transition of the same room.
//   - Tokens are verified without a store read: HMAC-SHA256 with the install secret,
//     and the member token versions kept in memory (loaded at Initialize, updated on
//     rotation).
//   - Secrets (API secrets, stream keys, tokens) are never logged.
//   - Abuse bounds of the HTTP layer: HTTPGuard (used by cmd in front of the API and
//     playback) caps connections per client address and bounds the arrival of request
//     bodies; credentials are checked before a body is read, and refusals close the
//     connection instead of reading the rest. Failed authentications (Basic and
//     Bearer) spend a token bucket per client address and per apiKey; over budget,
//     429 TOO_MANY_REQUESTS comes before the check (auth_limit.go). At most
//     MaxInFlight API requests run at once (503 SERVER_BUSY beyond); /healthz,
//     /readyz, /metrics, SSE streams and playback are not counted.
//
// Handlers return errors; one echo HTTPErrorHandler (errors.go) writes every error as
// {"errorCode","message"}.
package control
