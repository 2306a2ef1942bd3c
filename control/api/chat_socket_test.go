package api

import (
	"net/http"
	"testing"
)

// TestChatSocketRoute: without a ChatSocket the route answers 503
// CHAT_SOCKET_UNAVAILABLE in JSON; the socket itself is tested in
// control/chatsocket over this route.
func TestChatSocketRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.fail(http.StatusServiceUnavailable, "CHAT_SOCKET_UNAVAILABLE", "GET", "/v2/members/me/chat-socket", "", nil)
	e.fail(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "POST", "/v2/members/me/chat-socket", "", nil)
}
