package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/control"
	"github.com/roomcast/roomcast/control/api/request"
	"github.com/roomcast/roomcast/storage"
)

// Creator types of a room: APP via the App API, MEMBER via the Member API.
const (
	creatorApp    = "APP"
	creatorMember = "MEMBER"
)

// onAppVideoRoomsCreate is POST /v2/apps/me/video-rooms.
func (h *roomHandlers) onAppVideoRoomsCreate(ec echo.Context) error {
	app := appOf(ec)
	var req request.CreateRoom
	if err := request.DecodeBody(ec, &req); err != nil {
		return err
	}
	spec, err := req.Validate(true)
	if err != nil {
		return err
	}
	owner := func(tx *storage.Tx) (storage.Member, error) {
		return tx.MemberByAppUserID(app.ID, spec.AppUserID)
	}
	view, err := h.c.CreateRoom(app.ID, spec, owner, creatorApp, app.ID)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusCreated, view)
}

// onMemberVideoRoomsCreate is POST /v2/members/me/video-rooms.
func (h *roomHandlers) onMemberVideoRoomsCreate(ec echo.Context) error {
	cl := claimsOf(ec)
	var req request.CreateRoom
	if err := request.DecodeBody(ec, &req); err != nil {
		return err
	}
	spec, err := req.Validate(false)
	if err != nil {
		return err
	}
	owner := func(tx *storage.Tx) (storage.Member, error) { return tx.Member(cl.AppID, cl.MemberID) }
	view, err := h.c.CreateRoom(cl.AppID, spec, owner, creatorMember, cl.MemberID)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusCreated, view)
}

// onAppVideoRoomsGet is GET /v2/apps/me/video-rooms/{id}.
func (h *roomHandlers) onAppVideoRoomsGet(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	return h.writeRoom(ec, appOf(ec).ID, func(tx *storage.Tx) (storage.Room, error) {
		return control.LoadRoom(tx, appOf(ec).ID, id)
	})
}

// onMemberVideoRoomsGet is GET /v2/members/me/video-rooms/{id}: any room of the
// member's app (viewers read the playUrl of other members' rooms).
func (h *roomHandlers) onMemberVideoRoomsGet(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	cl := claimsOf(ec)
	return h.writeRoom(ec, cl.AppID, func(tx *storage.Tx) (storage.Room, error) {
		return control.LoadRoom(tx, cl.AppID, id)
	})
}

// onAppVideoRoomsGetByUUID is GET /v2/apps/me/video-rooms/uuid/{uuid}.
func (h *roomHandlers) onAppVideoRoomsGetByUUID(ec echo.Context) error {
	return h.writeRoom(ec, appOf(ec).ID, roomByUUIDTx(appOf(ec).ID, ec.Param("uuid")))
}

// onMemberVideoRoomsGetByUUID is GET /v2/members/me/video-rooms/uuid/{uuid}.
func (h *roomHandlers) onMemberVideoRoomsGetByUUID(ec echo.Context) error {
	cl := claimsOf(ec)
	return h.writeRoom(ec, cl.AppID, roomByUUIDTx(cl.AppID, ec.Param("uuid")))
}

// roomByUUIDTx returns a loader of room uuid of appID.
func roomByUUIDTx(appID uint64, id string) func(*storage.Tx) (storage.Room, error) {
	return func(tx *storage.Tx) (storage.Room, error) {
		r, err := tx.RoomByUUID(id)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && (r.AppID != appID || r.State != storage.RoomActive)) {
			return r, control.ErrVideoRoomNotFound.WithMessage("video room %q not found", id)
		}
		return r, err
	}
}

// writeRoom loads a room and its dependencies in one read transaction and writes
// its JSON.
func (h *roomHandlers) writeRoom(ec echo.Context, appID uint64, load func(*storage.Tx) (storage.Room, error)) error {
	var view *control.RoomJSON
	err := h.c.Store.View(func(tx *storage.Tx) error {
		r, err := load(tx)
		if err != nil {
			return err
		}
		view = h.c.NewRoomJSON(&r, h.c.LoadRoomDeps(tx, &r, nil))
		return nil
	})
	if err != nil {
		return err
	}
	return writeRoomJSON(ec, http.StatusOK, view)
}

// onAppVideoRoomsList is GET /v2/apps/me/video-rooms (its filters).
func (h *roomHandlers) onAppVideoRoomsList(ec echo.Context) error {
	q, err := request.ParseListQuery(ec)
	if err != nil {
		return err
	}
	return h.writeRoomPage(ec, appOf(ec).ID, q)
}

// onMemberVideoRoomsList is GET /v2/members/me/video-rooms: the member's own rooms.
func (h *roomHandlers) onMemberVideoRoomsList(ec echo.Context) error {
	q, err := request.ParseListQuery(ec)
	if err != nil {
		return err
	}
	q.MemberID = claimsOf(ec).MemberID
	return h.writeRoomPage(ec, claimsOf(ec).AppID, q)
}

// writeRoomPage filters, sorts and pages the rooms of appID (walking the app's or
// the member's creation-order index) and writes a Spring Page.
func (h *roomHandlers) writeRoomPage(ec echo.Context, appID uint64, q request.ListQuery) error {
	var page pageJSON[*control.RoomJSON]
	err := h.c.Store.View(func(tx *storage.Tx) error {
		rooms, total, err := h.selectRooms(tx, appID, q)
		if err != nil {
			return err
		}
		memo := map[uint64]*storage.Member{}
		views := make([]*control.RoomJSON, 0, len(rooms))
		for i := range rooms {
			views = append(views, h.c.NewRoomJSON(&rooms[i], h.c.LoadRoomDeps(tx, &rooms[i], memo)))
		}
		page = newPage(views, q.Page, q.PageSize, total)
		return nil
	})
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, page)
}

// selectRooms returns the rooms of the requested page and the number of matches,
// through the store's list indexes (storage.RoomQuery): a page reads its own rooms
// only.
func (h *roomHandlers) selectRooms(tx *storage.Tx, appID uint64, q request.ListQuery) ([]storage.Room, int, error) {
	rooms, total, err := tx.ListRooms(storage.RoomQuery{
		AppID: appID, MemberID: q.MemberID, State: string(q.State), Type: string(q.Type),
		AccessLevel: string(q.AccessLevel), Keyword: q.Keyword,
		ByModified: q.SortBy == control.SortByLastModifiedAtAsc || q.SortBy == control.SortByLastModifiedAtDesc,
		Desc:       q.SortBy == control.SortByCreatedAtDesc || q.SortBy == control.SortByLastModifiedAtDesc,
		Offset:     q.Page * q.PageSize, Limit: q.PageSize,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list rooms: %w", err)
	}
	return rooms, total, nil
}

// onAppVideoRoomsDelete is DELETE /v2/apps/me/video-rooms/{id}: soft delete, 204.
// Refused with 400 VIDEO_ROOM_STATE_LIVE while LIVE or LIVE_INACTIVE.
func (h *roomHandlers) onAppVideoRoomsDelete(ec echo.Context) error {
	id, err := request.PathID(ec)
	if err != nil {
		return err
	}
	if err := h.c.DeleteRoom(ec.Request().Context(), appOf(ec).ID, id); err != nil {
		return err
	}
	return ec.NoContent(http.StatusNoContent)
}
