// Package control is Roomcast's control plane logic: apps and their credentials,
// members with their signed tokens and stream keys, video rooms and their state
// machine, chat rooms, and the seams that ingest and the packager call through
// cmd/roomcast (PublishStarted, PublishStopped, AuthorizePlay,
// VerifyStreamingToken, Room, VODFinished, IngestCapacity, StreamHealthChanged).
// Its HTTP API is
// package control/api, the chat rooms are package control/chat, and its events
// are written and delivered by package control/events.
//
// Files: control.go (Control, Initialize, the per-room try-lock), apps.go,
// bootstrap.go, tokens.go, members.go (apps, members, tokens, stream keys);
// rooms.go, statemachine.go, transitions.go, room_timers.go, room_events.go (rooms
// and their state machine; ChannelMembers and ChatMembers are the SSE audiences
// the events Broker reads); publish.go (ingest's publish start/stop, Recover),
// playback.go (token checks and room views for players), vod.go (archiving),
// ingest_capacity.go, stream_health.go (health warning events, the room health
// view), live_stats.go (LiveStats: what cmd measures about live rooms, read for
// the room JSON's stats; the viewer peak is stored with the room in the
// transaction that takes it out of LIVE, never per playback request);
// view*.go (the JSON views shared by the API and the webhooks); errors.go
// (APIError and the sentinels); one file per enum.
//
// Ownership rules:
//   - control owns every write to apps, members, stream keys and rooms; ingest and the
//     packager reach the room logic only through the exported methods of Control,
//     wired by cmd with plain values (control never imports ingest or packager).
//   - Every room transition is computed by the pure function transition
//     (statemachine.go) and applied in one storage Update that writes the room, its
//     stream key and the outbox event together (events.Outbox). Events and the
//     OnSessionLive / OnRoomEnded hooks run after the commit, outside any mutex.
//   - Chat changes (admin or member message sent, hidden, unhidden, deleted) write their
//     outbox event in the transaction of the change too (chat.AddEvent). Their SSE
//     audience is the room's chat room (events.AudienceChat, ChatMembers),
//     narrowed to the message's receivers (Event.Receivers); the Member API room
//     join/leave also joins/leaves the room's open chat room.
//   - Stream health warnings (ingest's OnHealth) are written as stream_health.*
//     events, all changes of one sample in one Update; their SSE audience is the
//     stream key's owner only (events.AudienceReceivers). The measured health
//     itself is never stored: views read it through LiveStats.
//   - Concurrent API transitions of one room: the first holds a per-room try-lock
//     (until its hooks returned, so hooks of one room run in order), the others get
//     400 REQUEST_LOCKED at once. Ingest transitions are serialized by the store.
//     A hook must not call an API transition of the same room.
//   - Goroutines: the room deadline timers (room_timers.go: autoEnd of
//     LIVE_INACTIVE rooms, the maximum live duration of LIVE and LIVE_INACTIVE
//     rooms), armed after transitions and re-armed from the stored times by
//     Initialize, stopped and waited for by Close. Nothing else.
//   - A forced end (the end call with force, the maximum live duration) ends the
//     room in its transaction and leaves the key publishing but unbound; after
//     the commit OnKick disconnects the publisher and the ingest's "publish
//     stopped" frees the key (KickPublisher applies it itself when no connection
//     here holds the key). A key reset of a publishing key kicks the same way.
//   - Tokens are verified without a store read: HMAC-SHA256 with the install secret,
//     and the member token versions kept in memory (loaded at Initialize, updated on
//     rotation).
//   - Secrets (API secrets, stream keys, tokens) are never logged.
package control
