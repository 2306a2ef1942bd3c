package main

// liveStats is the control.LiveStats cmd wires into the control plane: the
// ingest's measured health of each publish and the viewer counts of each room.
type liveStats struct {
	ingestHealth
	viewerStats
}
