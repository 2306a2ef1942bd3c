package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/roomcast/roomcast/control/events"
	"github.com/roomcast/roomcast/storage"
)

// ArchivingRoom is a room left ARCHIVING and the node of its last session (""
// on one node).
type ArchivingRoom struct {
	UUID string
	Node string
}

// ArchivingRooms returns the UUIDs of the rooms whose vodState is still ARCHIVING
// (the process stopped before the archive finished). cmd calls it at boot and
// restarts their archiving, which ends in VODFinished.
func (c *Control) ArchivingRooms(ctx context.Context) ([]ArchivingRoom, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []ArchivingRoom
	err := c.Store.View(func(tx *storage.Tx) error {
		return tx.ForEachApp(func(a storage.App) error {
			return tx.ForEachRoomOfApp(a.ID, false, func(r storage.Room) (bool, error) {
				if r.State == storage.RoomActive && VODState(r.VODState) == VODStateArchiving {
					a := ArchivingRoom{UUID: r.UUID}
					if n := len(r.Sessions); n > 0 {
						a.Node = r.Sessions[n-1].Node
					}
					out = append(out, a)
				}
				return true, nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list archiving rooms: %w", err)
	}
	return out, nil
}

// VODExpired records that the VOD media of an ARCHIVED room was deleted by the
// retention policy: vodUrl becomes null (vodState stays ARCHIVED, vodArchivedAt
// is kept). Unknown rooms: ErrVideoRoomNotFound; other vod states are left alone.
func (c *Control) VODExpired(ctx context.Context, roomUUID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := c.Store.Update(func(tx *storage.Tx) error {
		r, err := tx.RoomByUUID(roomUUID)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrVideoRoomNotFound
		}
		if err != nil {
			return fmt.Errorf("read room %s: %w", roomUUID, err)
		}
		if VODState(r.VODState) != VODStateArchived || r.VODURL == "" {
			return nil
		}
		r.VODURL, r.LastModifiedAt = "", c.now().UTC()
		return tx.PutRoom(&r)
	})
	if err != nil {
		return fmt.Errorf("vod expired (room %s): %w", roomUUID, err)
	}
	c.Log.Info("vod expired", "uuid", roomUUID)
	return nil
}

// VODFinished records the end of archiving of an ENDED room: err == nil → ARCHIVED
// with vodUrl and vodArchivedAt (event video_room.vod_archived), otherwise
// FAILED_ARCHIVING (video_room.vod_failed). Called by cmd when the packager finishes.
func (c *Control) VODFinished(ctx context.Context, roomUUID string, archiveErr error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var ob events.Outbox
	err := c.Store.Update(func(tx *storage.Tx) error {
		ob = events.Outbox{}
		r, err := tx.RoomByUUID(roomUUID)
		if errors.Is(err, storage.ErrNotFound) {
			return ErrVideoRoomNotFound
		}
		if err != nil {
			return fmt.Errorf("read room %s: %w", roomUUID, err)
		}
		ev, name := vodEventArchived, events.EventVideoRoomVODArchived
		if archiveErr != nil {
			ev, name = vodEventFailed, events.EventVideoRoomVODFailed
		}
		vod, err := vodTransition(VODState(r.VODState), ev)
		if err != nil {
			return err
		}
		now := c.now().UTC()
		r.VODState, r.LastModifiedAt = string(vod), now
		if vod == VODStateArchived {
			r.VODArchivedAt = now
			r.VODURL = c.PublicHTTPURL + "/vod/" + r.UUID + "/index.m3u8"
		}
		if err := tx.PutRoom(&r); err != nil {
			return fmt.Errorf("put room %d: %w", r.ID, err)
		}
		return c.addRoomEvent(tx, &ob, name, &r, "", now)
	})
	if err != nil {
		return fmt.Errorf("vod finished (room %s): %w", roomUUID, err)
	}
	if archiveErr != nil {
		c.Log.Warn("vod archiving failed", "uuid", roomUUID, "err", archiveErr)
	}
	ob.Emit(c.Events)
	return nil
}
