package vod

import (
	"testing"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
	"github.com/roomcast/roomcast/packager/vod/vodtest"
)

const testRoom = "0b5a3c8e-6d2f-4b1a-9c3e-2f4d5e6a7b8c"

// synth writes sessions the way the packager does (vodtest.Synth).
type synth struct {
	t        testing.TB
	roomDir  string
	segments int  // per session
	noEnd    bool // leave the index without its end record (a crash)
}

func (s *synth) vodtest() *vodtest.Synth {
	return &vodtest.Synth{T: s.t, RoomDir: s.roomDir, Segments: s.segments, NoEnd: s.noEnd}
}

func (s *synth) session(no int, start time.Time) string { return s.vodtest().Session(no, start) }

func (s *synth) segment(dir string, msn uint64, pdt time.Time) *timeline.Segment {
	return s.vodtest().Segment(dir, msn, pdt)
}
