package main

import (
	pub "github.com/roomcast/roomcast/publish"
)

// liveStats is the control.LiveStats cmd wires: what ingest and the packager
// measure about live rooms.
type liveStats struct {
	viewerStats
}

// IngestHealth is not measured yet: the room JSON shows a null ingest.
func (liveStats) IngestHealth(uint64) *pub.Health { return nil }
