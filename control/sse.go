package control

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// EventSource serves the member Server-Sent Events stream of GET
// /v2/members/me/event-sources (seed 000, SPEC §5 Events). control/events.Broker
// implements it; cmd sets Control.EventSource. ServeEvents runs until the client
// goes away, the member is too slow, or the EventSource closes; member is the
// verified access token of the request.
type EventSource interface {
	ServeEvents(w http.ResponseWriter, r *http.Request, member TokenClaims)
}

// ErrEventSourceUnavailable answers event-sources when no EventSource is wired.
var ErrEventSourceUnavailable = apiError{http.StatusServiceUnavailable, "EVENT_SOURCE_UNAVAILABLE", "event sources are not available"}

// onEventSources is GET /v2/members/me/event-sources: the member's SSE stream.
// memberAuth has verified the Bearer access token (401 JSON otherwise).
func (c *Control) onEventSources(ec echo.Context) error {
	if c.EventSource == nil {
		return ErrEventSourceUnavailable
	}
	c.EventSource.ServeEvents(ec.Response(), ec.Request(), claimsOf(ec))
	return nil
}
