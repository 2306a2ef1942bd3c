package main

// liveStats is the control.LiveStats cmd wires into the control plane: the
// ingest's measured health and the viewer counts.
//
// Viewers is a placeholder until viewer counting is wired: it reports none.
type liveStats struct {
	ingestHealth
}

// Viewers reports no viewers (placeholder).
func (*liveStats) Viewers(string) (current, peak int) { return 0, 0 }
