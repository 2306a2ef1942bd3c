package control

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/roomcast/roomcast/storage"
)

// Creator types of a room (seed 001): APP via the App API, MEMBER via the Member API.
const (
	creatorApp    = "APP"
	creatorMember = "MEMBER"
)

// onAppVideoRoomsCreate is POST /v2/apps/me/video-rooms (seed 001).
func (c *Control) onAppVideoRoomsCreate(ec echo.Context) error {
	app := appOf(ec)
	var req createRoomRequest
	if err := decodeBody(ec, &req); err != nil {
		return err
	}
	spec, err := req.validate(true)
	if err != nil {
		return err
	}
	owner := func(tx *storage.Tx) (storage.Member, error) {
		return tx.MemberByAppUserID(app.ID, spec.AppUserID)
	}
	view, err := c.createRoom(app.ID, spec, owner, creatorApp, app.ID)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusCreated, view)
}

// onMemberVideoRoomsCreate is POST /v2/members/me/video-rooms (seed 000).
func (c *Control) onMemberVideoRoomsCreate(ec echo.Context) error {
	cl := claimsOf(ec)
	var req createRoomRequest
	if err := decodeBody(ec, &req); err != nil {
		return err
	}
	spec, err := req.validate(false)
	if err != nil {
		return err
	}
	owner := func(tx *storage.Tx) (storage.Member, error) { return tx.Member(cl.AppID, cl.MemberID) }
	view, err := c.createRoom(cl.AppID, spec, owner, creatorMember, cl.MemberID)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusCreated, view)
}

// createRoom stores a new SCHEDULED room owned by the member owner returns.
func (c *Control) createRoom(appID uint64, s roomSpec, owner func(*storage.Tx) (storage.Member, error),
	creatorType string, creatorID uint64) (*roomJSON, error) {
	var view *roomJSON
	err := c.Store.Update(func(tx *storage.Tx) error {
		m, err := owner(tx)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrMemberNotFound
		}
		if err != nil {
			return fmt.Errorf("read member: %w", err)
		}
		now := c.now().UTC()
		r := storage.Room{
			UUID: uuid.NewString(), AppID: appID, MemberID: m.ID, State: "ACTIVE",
			Type: string(s.Type), Protocol: s.Type.protocol(), Format: s.Type.format(),
			AccessLevel: string(s.AccessLevel), CreatorType: creatorType,
			CreatorID: strconv.FormatUint(creatorID, 10), Title: s.Title, Description: s.Description,
			CustomType: s.CustomType, CustomData: s.CustomData,
			VideoRoomState: string(VideoRoomStateScheduled), VODState: string(VODStateNotArchived),
			ScheduledAt: s.ScheduledAt, AutoEndSeconds: s.AutoEnd, CreatedAt: now, LastModifiedAt: now,
			WebhookURL: s.WebhookURL, WebhookEvents: s.WebhookEvents,
		}
		if s.Type == VideoRoomTypeBroadcastRTMP {
			r.StreamKeyID = m.StreamKeyID
		}
		if s.Password != "" {
			r.PasswordHash = passwordHash(r.UUID, s.Password)
		}
		if err := tx.PutRoom(&r); err != nil {
			return fmt.Errorf("put room: %w", err)
		}
		view = c.newRoomJSON(&r, roomDeps{AppName: c.appName(tx, appID), Member: &m, Key: c.keyOf(tx, &r)})
		return nil
	})
	return view, err
}

// keyOf reads the stream key of r (nil when none).
func (c *Control) keyOf(tx *storage.Tx, r *storage.Room) *storage.StreamKey {
	if r.StreamKeyID == 0 {
		return nil
	}
	k, err := tx.StreamKey(r.StreamKeyID)
	if err != nil {
		return nil
	}
	return &k
}

// passwordHash hashes a room password, salted with the room UUID.
func passwordHash(roomUUID, password string) []byte {
	sum := sha256.Sum256([]byte(roomUUID + "\x00" + password))
	return sum[:]
}

// onAppVideoRoomsGet is GET /v2/apps/me/video-rooms/{id}.
func (c *Control) onAppVideoRoomsGet(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	return c.writeRoom(ec, appOf(ec).ID, func(tx *storage.Tx) (storage.Room, error) {
		return loadRoom(tx, appOf(ec).ID, id)
	})
}

// onMemberVideoRoomsGet is GET /v2/members/me/video-rooms/{id}: any room of the
// member's app (viewers read the playUrl of other members' rooms).
func (c *Control) onMemberVideoRoomsGet(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	cl := claimsOf(ec)
	return c.writeRoom(ec, cl.AppID, func(tx *storage.Tx) (storage.Room, error) {
		return loadRoom(tx, cl.AppID, id)
	})
}

// onAppVideoRoomsGetByUUID is GET /v2/apps/me/video-rooms/uuid/{uuid}.
func (c *Control) onAppVideoRoomsGetByUUID(ec echo.Context) error {
	return c.writeRoom(ec, appOf(ec).ID, roomByUUIDTx(appOf(ec).ID, ec.Param("uuid")))
}

// onMemberVideoRoomsGetByUUID is GET /v2/members/me/video-rooms/uuid/{uuid}.
func (c *Control) onMemberVideoRoomsGetByUUID(ec echo.Context) error {
	cl := claimsOf(ec)
	return c.writeRoom(ec, cl.AppID, roomByUUIDTx(cl.AppID, ec.Param("uuid")))
}

// roomByUUIDTx returns a loader of room uuid of appID.
func roomByUUIDTx(appID uint64, id string) func(*storage.Tx) (storage.Room, error) {
	return func(tx *storage.Tx) (storage.Room, error) {
		r, err := tx.RoomByUUID(id)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && (r.AppID != appID || r.State != "ACTIVE")) {
			return r, ErrVideoRoomNotFound.withMessage("video room %q not found", id)
		}
		return r, err
	}
}

// writeRoom loads a room and its dependencies in one read transaction and writes
// its JSON.
func (c *Control) writeRoom(ec echo.Context, appID uint64, load func(*storage.Tx) (storage.Room, error)) error {
	var view *roomJSON
	err := c.Store.View(func(tx *storage.Tx) error {
		r, err := load(tx)
		if err != nil {
			return err
		}
		view = c.newRoomJSON(&r, c.loadRoomDeps(tx, &r, nil))
		return nil
	})
	if err != nil {
		return err
	}
	return writeRoomJSON(ec, http.StatusOK, view)
}

// onAppVideoRoomsList is GET /v2/apps/me/video-rooms (filters of seed 001).
func (c *Control) onAppVideoRoomsList(ec echo.Context) error {
	q, err := parseListQuery(ec)
	if err != nil {
		return err
	}
	return c.writeRoomPage(ec, appOf(ec).ID, q)
}

// onMemberVideoRoomsList is GET /v2/members/me/video-rooms: the member's own rooms.
func (c *Control) onMemberVideoRoomsList(ec echo.Context) error {
	q, err := parseListQuery(ec)
	if err != nil {
		return err
	}
	q.MemberID = claimsOf(ec).MemberID
	return c.writeRoomPage(ec, claimsOf(ec).AppID, q)
}

// writeRoomPage filters, sorts and pages the rooms of appID (walking the app's or
// the member's creation-order index) and writes a Spring Page.
func (c *Control) writeRoomPage(ec echo.Context, appID uint64, q listQuery) error {
	var page pageJSON[*roomJSON]
	err := c.Store.View(func(tx *storage.Tx) error {
		rooms, total, err := c.selectRooms(tx, appID, q)
		if err != nil {
			return err
		}
		memo := map[uint64]*storage.Member{}
		views := make([]*roomJSON, 0, len(rooms))
		for i := range rooms {
			views = append(views, c.newRoomJSON(&rooms[i], c.loadRoomDeps(tx, &rooms[i], memo)))
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
func (c *Control) selectRooms(tx *storage.Tx, appID uint64, q listQuery) ([]storage.Room, int, error) {
	rooms, total, err := tx.ListRooms(storage.RoomQuery{
		AppID: appID, MemberID: q.MemberID, State: string(q.State), Type: string(q.Type),
		AccessLevel: string(q.AccessLevel), Keyword: q.Keyword,
		ByModified: q.SortBy == SortByLastModifiedAtAsc || q.SortBy == SortByLastModifiedAtDesc,
		Desc:       q.SortBy == SortByCreatedAtDesc || q.SortBy == SortByLastModifiedAtDesc,
		Offset:     q.Page * q.PageSize, Limit: q.PageSize,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list rooms: %w", err)
	}
	return rooms, total, nil
}

// onAppVideoRoomsDelete is DELETE /v2/apps/me/video-rooms/{id}: soft delete, 204.
// Refused with 400 VIDEO_ROOM_STATE_LIVE while LIVE or LIVE_INACTIVE.
func (c *Control) onAppVideoRoomsDelete(ec echo.Context) error {
	id, err := pathID(ec)
	if err != nil {
		return err
	}
	if err := c.locks.tryLock(id); err != nil {
		return err
	}
	defer c.locks.unlock(id)
	appID := appOf(ec).ID
	var uuid string
	err = c.Store.Update(func(tx *storage.Tx) error {
		r, err := loadRoom(tx, appID, id)
		if err != nil {
			return err
		}
		switch VideoRoomState(r.VideoRoomState) {
		case VideoRoomStateLive, VideoRoomStateLiveInactive:
			return ErrVideoRoomStateLive
		}
		now := c.now().UTC()
		r.State, r.DeletedAt, r.LastModifiedAt = "DELETED", now, now
		uuid = r.UUID
		return tx.PutRoom(&r)
	})
	if err != nil {
		return err
	}
	if c.OnRoomDeleted != nil {
		c.OnRoomDeleted(uuid)
	}
	return ec.NoContent(http.StatusNoContent)
}
