package main

import (
	"context"
	"time"

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
	if s.Config.Store != "etcd" {
		s.archiveOnce(roomUUID, "") // in a cluster, the reactor of the node with the last session
	}
}

func (s *server) onRoomDeleted(roomUUID string) {
	s.viewers.End(roomUUID)
	s.packager.DeleteRoom(roomUUID)
}

// onPeaks stores the rising peaks of live rooms (every 30 s at most), so that a
// crash loses at most that much of a peak. Rooms reach the counter through
// OnSessionLive, after control is set.
func (s *server) onPeaks(peaks map[string]int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.control.RecordPeakViewers(ctx, peaks); err != nil {
		s.Log.Warn("store peak viewers", "rooms", len(peaks), "err", err)
	}
}
