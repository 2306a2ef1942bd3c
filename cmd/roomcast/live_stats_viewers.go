package main

import (
	"github.com/roomcast/roomcast/packager/viewers"
)

// viewerStats is the viewers half of control.LiveStats: the concurrent viewers
// of a room, HLS/DASH viewers (the packager's OnViewer) and RTMP relay players
// (ingest's OnPlayerStart/OnPlayerStop) together, counted by one
// viewers.Counter that the server owns.
type viewerStats struct {
	counter *viewers.Counter
}

// Viewers returns the room's concurrent viewers at the last sample and their
// peak since its broadcast went live on this process.
func (v viewerStats) Viewers(roomUUID string) (current, peak int) {
	return v.counter.Viewers(roomUUID)
}

// --- seams: the counter's inputs ------------------------------------------------------

// A room's viewers are counted from its first live session until it ends or is
// deleted (a LIVE_INACTIVE room keeps its count: RTMP players wait for the resume).

func (s *server) onRoomEnded(roomUUID string) {
	s.viewers.End(roomUUID)
	s.packager.Archive(roomUUID)
}

func (s *server) onRoomDeleted(roomUUID string) {
	s.viewers.End(roomUUID)
	s.packager.DeleteRoom(roomUUID)
}
