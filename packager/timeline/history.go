package timeline

// History is the compact record of the complete segments of the current DASH
// period (Segment.Period), kept for the whole period although the live window
// holds only the last few: a DASH MPD can then list the period from its start
// (packager/dash, Options.FromPeriodStart). Per segment it keeps one flag and,
// per track, the tfdt and the duration (33 bytes a segment with two tracks: 180 KB for three hours of 2 s segments).
//
// A History is append-only and shared: Append returns a new value whose slices
// may share backing arrays with the receiver's, but it never writes inside the
// receiver's length, so published snapshots stay valid without copying.
type History struct {
	// Period is the MSN of the period's first segment; segment i of the history
	// has MSN Period+i (segments of a period are consecutive).
	Period uint64
	// Tracks is the number of tracks of every segment.
	Tracks int
	// NotIndependent is Segment.NotIndependent of each segment.
	NotIndependent []bool
	// Times holds BaseTime and Duration of each track of each segment: segment
	// i, track k at Times[2*(i*Tracks+k)] and the element after it.
	Times []uint64
}

// Len returns the number of segments.
func (h *History) Len() int {
	if h == nil {
		return 0
	}
	return len(h.NotIndependent)
}

// Track returns the BaseTime and Duration of track k of segment i.
func (h *History) Track(i, k int) (base, dur uint64) {
	j := 2 * (i*h.Tracks + k)
	return h.Times[j], h.Times[j+1]
}

// Append returns the history with s added: a new history when s starts another
// period (or h is nil), else h extended.
func (h *History) Append(s *Segment) *History {
	var n History
	if h == nil || h.Period != s.Period || h.Tracks != len(s.Tracks) || s.MSN != h.Period+uint64(h.Len()) {
		n = History{Period: s.Period, Tracks: len(s.Tracks)}
	} else {
		n = *h
	}
	n.NotIndependent = append(n.NotIndependent, s.NotIndependent)
	for _, t := range s.Tracks {
		n.Times = append(n.Times, t.BaseTime, t.Duration)
	}
	return &n
}
