// Package api is the HTTP layer of Roomcast's control plane: the echo/v4 REST API
// (App API under /v2/apps/me, Member API under /v2/members/me, /healthz, /readyz,
// /metrics, /openapi.yaml) over a control.Control, and HTTPGuard, the connection
// and body bounds cmd puts in front of the API and playback.
//
// Server owns the routes, the middleware and the error writer; the handlers are
// grouped by resource on small handler types: roomHandlers (video rooms of both
// APIs: rooms.go, rooms_broadcast.go), memberHandlers (members, tokens, stream
// keys: members.go), chatHandlers (a room's chat room: chat*.go) and
// callbackHandlers (webhook settings and delivery log: callback.go,
// deliveries.go). Handlers decode and validate the request (request.go, utf8.go),
// call the control plane and write JSON; the room logic itself (state machine,
// transitions, events) stays in package control.
//
// Ownership rules:
//   - Server starts no goroutine: handlers run on the HTTP server's goroutines.
//     HTTPGuard starts none either; it wraps the listener's connections.
//   - Handlers return errors; one echo HTTPErrorHandler (errors.go) writes every
//     error as {"errorCode","message"} (control.APIError keeps its status and
//     code; anything else is logged and answered 500).
//   - Abuse bounds: HTTPGuard caps connections per client address and bounds the
//     arrival of request bodies; credentials are checked before a body is read,
//     and refusals close the connection instead of reading the rest. Failed
//     authentications (Basic and Bearer) spend a token bucket per client address
//     and per apiKey; over budget, 429 TOO_MANY_REQUESTS comes before the check
//     (auth_limit.go). At most MaxInFlight API requests run at once (503
//     SERVER_BUSY beyond); /healthz, /readyz, /metrics, SSE streams and playback
//     are not counted.
//   - The member SSE stream (GET /v2/members/me/event-sources) is served by the
//     EventSource (events.Broker) after memberAuthOrQuery verified the access
//     token: the Bearer header or, for browsers' EventSource, which cannot set
//     headers, ?accessToken= (this route only; the parameter is removed from the
//     request once read).
//   - Secrets (API secrets, stream keys, tokens) are never logged: request URIs
//     reach logs only through redactedURI (accessToken and streamingToken values
//     replaced).
//   - Server.Moderator (a chat.Moderator) checks member chat messages; the App
//     API manages its inputs (chat_moderation.go: forbidden words, mutes).
package api
