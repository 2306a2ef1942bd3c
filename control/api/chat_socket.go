package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
)

// ChatSocket serves the member chat socket of GET /v2/members/me/chat-socket:
// STOMP 1.2 over WebSocket (chatsocket.Server implements it; cmd sets
// Server.ChatSocket). token is the access token presented with the upgrade,
// already verified, or "" when the STOMP CONNECT frame will carry it.
type ChatSocket interface {
	ServeChat(w http.ResponseWriter, r *http.Request, token string)
}

// API errors of the chat socket route.
var (
	ErrChatSocketUnavailable = control.NewAPIError(http.StatusServiceUnavailable, "CHAT_SOCKET_UNAVAILABLE", "the chat socket is not available")
	ErrUpgradeRequired       = control.NewAPIError(http.StatusUpgradeRequired, "UPGRADE_REQUIRED", "the chat socket is a WebSocket (STOMP 1.2, subprotocol v12.stomp)")
)

// onChatSocket is GET /v2/members/me/chat-socket. Browsers cannot set headers
// on a WebSocket, so the access token may come as Authorization: Bearer, as
// ?accessToken=, or only in the STOMP CONNECT frame (passcode). A token given
// with the upgrade is checked here (401 before the upgrade), with the failed
// authentication budget of memberAuth; tokens are never logged.
func (s *Server) onChatSocket(ec echo.Context) error {
	if s.ChatSocket == nil {
		return ErrChatSocketUnavailable
	}
	r := ec.Request()
	if !headerHasToken(r.Header, "Connection", "upgrade") || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		ec.Response().Header().Set("Upgrade", "websocket")
		return ErrUpgradeRequired
	}
	token := upgradeToken(r)
	if token != "" {
		addr, _ := clientAddr(r.RemoteAddr)
		now := s.Control.Time()
		if wait := s.authLimit.check(now, addr, nil); wait > 0 {
			return tooManyRequests(ec, wait)
		}
		if _, err := s.Control.VerifyAccessToken(token); err != nil {
			s.authLimit.failed(now, addr, "", false)
			return err
		}
	}
	s.ChatSocket.ServeChat(ec.Response(), r, token)
	return nil
}

// upgradeToken is the access token of an upgrade request: Authorization:
// Bearer, else ?accessToken=.
func upgradeToken(r *http.Request) string {
	const prefix = "Bearer "
	if h := r.Header.Get("Authorization"); len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return h[len(prefix):]
	}
	return r.URL.Query().Get("accessToken")
}

// headerHasToken reports whether a comma-separated header lists token
// (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
