package api

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/roomcast/roomcast/control"
)

// TestVODSeams: rooms left ARCHIVING are listed for the boot re-archive, VODExpired
// clears vodUrl of an ARCHIVED room, and a delete calls OnRoomDeleted after commit.
func TestVODSeams(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var deleted []string
	e.c.OnRoomDeleted = func(uuid string) { deleted = append(deleted, uuid) }
	_, app := e.newApp("app")
	host := e.newMember(app, "host")
	room := e.newRoom(app, "host", "Show")
	path, uuid := roomPath(room), room["uuid"].(string)
	other := e.newRoom(app, "host", "Never started")

	ps, err := e.c.PublishStarted(ctx, host.Key, "CMAF")
	if err != nil {
		t.Fatal(err)
	}
	e.must(200, "POST", path+"/rtmp-broadcast/state/live", app, nil)
	if err := e.c.PublishStopped(ctx, ps.KeyID, "CLIENT_UNPUBLISH"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.c.ArchivingRooms(ctx); len(got) != 0 {
		t.Fatalf("archiving before end: %v", got)
	}
	e.must(200, "POST", path+"/rtmp-broadcast/state/ended", app, nil)
	if got, err := e.c.ArchivingRooms(ctx); err != nil || !slices.Equal(got, []control.ArchivingRoom{{UUID: uuid}}) {
		t.Fatalf("ArchivingRooms = %v, %v", got, err)
	}

	if err := e.c.VODFinished(ctx, uuid, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.c.ArchivingRooms(ctx); len(got) != 0 {
		t.Fatalf("archiving after archived: %v", got)
	}
	if err := e.c.VODExpired(ctx, uuid); err != nil {
		t.Fatal(err)
	}
	got := e.must(200, "GET", path, app, nil).JSON()
	if got["vodState"] != "ARCHIVED" || got["vodUrl"] != nil || got["vodArchivedAt"] == nil {
		t.Fatalf("expired VOD: %v", got)
	}
	if v, _ := e.c.Room(ctx, uuid); v.VODURL != "" {
		t.Fatalf("RoomView.VODURL = %q", v.VODURL)
	}
	if err := e.c.VODExpired(ctx, uuid); err != nil {
		t.Fatalf("repeated VODExpired: %v", err)
	}
	if err := e.c.VODExpired(ctx, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, control.ErrVideoRoomNotFound) {
		t.Fatalf("unknown room: %v", err)
	}

	e.must(204, "DELETE", path, app, nil)
	e.must(204, "DELETE", roomPath(other), app, nil)
	if !slices.Equal(deleted, []string{uuid, other["uuid"].(string)}) {
		t.Fatalf("OnRoomDeleted calls %v", deleted)
	}
}
