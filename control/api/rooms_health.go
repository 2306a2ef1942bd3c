package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control/api/request"
)

// onAppVideoRoomsHealth is GET /v2/apps/me/video-rooms/{id}/health: the measured
// ingest health of the room's live publish and its last 5 minutes.
func (h *roomHandlers) onAppVideoRoomsHealth(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	view, err := h.c.RoomHealth(ec.Request().Context(), appOf(ec).ID, id)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, view)
}
