package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/events"
)

// EventSource serves the member Server-Sent Events stream of GET
// /v2/members/me/event-sources. events.Broker implements it; cmd sets
// Control.EventSource. ServeEvents runs until the client goes away, the member is
// too slow, or the EventSource closes; member comes from the verified access token
// of the request.
type EventSource interface {
	ServeEvents(w http.ResponseWriter, r *http.Request, member events.Member)
}

// ErrEventSourceUnavailable answers event-sources when no EventSource is wired.
var ErrEventSourceUnavailable = control.NewAPIError(http.StatusServiceUnavailable, "EVENT_SOURCE_UNAVAILABLE", "event sources are not available")

// onEventSources is GET /v2/members/me/event-sources: the member's SSE stream.
// memberAuth has verified the Bearer access token (401 JSON otherwise).
func (s *Server) onEventSources(ec echo.Context) error {
	if s.EventSource == nil {
		return ErrEventSourceUnavailable
	}
	cl := claimsOf(ec)
	s.EventSource.ServeEvents(ec.Response(), ec.Request(), events.Member{AppID: cl.AppID, MemberID: cl.MemberID})
	return nil
}
