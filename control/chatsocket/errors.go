package chatsocket

import (
	"errors"
	"net/http"

	"github.com/roomcast/roomcast/control"
)

// Chat socket errors. A fatal error is an ERROR frame (message header = the
// code, body {"errorCode","message"}) after which the server closes the
// connection; a refusal of a SEND (or another frame that did no harm) is a
// RECEIPT with an error header and a MESSAGE on /user/queue/errors, and the
// connection goes on. Codes of the REST API keep their meaning here
// (UNAUTHORIZED, INVALID_REQUEST, CHAT_ROOM_NOT_FOUND, CHAT_ROOM_CLOSED,
// CHAT_ROOM_MEMBER_NOT_FOUND, VIDEO_ROOM_PASSWORD_MISMATCH, MEMBER_NOT_FOUND,
// ...); the ones below are the socket's own.
var (
	// ErrInvalidFrame: a frame that is not STOMP 1.2 (fatal).
	ErrInvalidFrame = control.NewAPIError(http.StatusBadRequest, "INVALID_FRAME", "the frame is not a valid STOMP 1.2 frame")
	// ErrFrameNotTerminated: a WebSocket message ends inside a frame (fatal).
	ErrFrameNotTerminated = control.NewAPIError(http.StatusBadRequest, "FRAME_NOT_TERMINATED", "the WebSocket message ends inside a frame (no NUL terminator)")
	// ErrFrameTooLarge: a WebSocket message over MaxFrameSize (fatal).
	ErrFrameTooLarge = control.NewAPIError(http.StatusRequestEntityTooLarge, "FRAME_TOO_LARGE", "the frame exceeds the size limit")
	// ErrUnsupportedVersion: the client does not accept STOMP 1.2 (fatal).
	ErrUnsupportedVersion = control.NewAPIError(http.StatusBadRequest, "UNSUPPORTED_VERSION", "only STOMP 1.2 is supported")
	// ErrNotConnected: a frame before CONNECT, or a second CONNECT (fatal).
	ErrNotConnected = control.NewAPIError(http.StatusBadRequest, "NOT_CONNECTED", "the first frame must be CONNECT or STOMP, and only the first")
	// ErrUnsupportedFrame: BEGIN, COMMIT, ABORT, or a server frame sent by the client (fatal).
	ErrUnsupportedFrame = control.NewAPIError(http.StatusBadRequest, "UNSUPPORTED_FRAME", "the frame is not supported")
	// ErrUnknownDestination: a destination the server does not have (fatal for
	// SUBSCRIBE; a refusal for SEND).
	ErrUnknownDestination = control.NewAPIError(http.StatusNotFound, "UNKNOWN_DESTINATION", "no such destination")
	// ErrDuplicateSubscription: SUBSCRIBE with an id already in use (fatal).
	ErrDuplicateSubscription = control.NewAPIError(http.StatusBadRequest, "DUPLICATE_SUBSCRIPTION", "the subscription id is already in use on this connection")
	// ErrTooManySubscriptions: more than MaxSubscriptions on one connection (fatal).
	ErrTooManySubscriptions = control.NewAPIError(http.StatusTooManyRequests, "TOO_MANY_SUBSCRIPTIONS", "too many subscriptions on this connection")
	// ErrTooManyConnections: more than MaxConnsPerMember of one member, or more
	// than MaxConnections in all (fatal; 503 before the upgrade for the latter).
	ErrTooManyConnections = control.NewAPIError(http.StatusTooManyRequests, "TOO_MANY_CONNECTIONS", "too many chat socket connections")
	// ErrSlowConsumer: the connection's send queue overflowed (fatal).
	ErrSlowConsumer = control.NewAPIError(http.StatusServiceUnavailable, "SLOW_CONSUMER", "the client does not read fast enough")
	// ErrHeartBeatTimeout: nothing received within the negotiated heart-beat
	// (or CONNECT not received within ConnectTimeout) (fatal).
	ErrHeartBeatTimeout = control.NewAPIError(http.StatusRequestTimeout, "HEART_BEAT_TIMEOUT", "nothing received from the client in time")
	// ErrServerShutdown: the server is stopping (fatal).
	ErrServerShutdown = control.NewAPIError(http.StatusServiceUnavailable, "SERVER_SHUTDOWN", "the server is shutting down")
)

// toAPIError maps err to the APIError a client sees; internal errors become
// INTERNAL_SERVER_ERROR (and are logged by the caller), storage full and
// corrupt keep their codes.
func toAPIError(err error) (control.APIError, bool) {
	var ae control.APIError
	if errors.As(err, &ae) {
		return ae, true
	}
	return control.ErrInternal, false
}
