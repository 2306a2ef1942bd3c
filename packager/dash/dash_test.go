package dash

import (
	"fmt"
	"testing"
	"time"

	"github.com/roomcast/roomcast/packager/timeline"
)

func TestEstimate(t *testing.T) {
	const part = 200 * time.Millisecond
	cases := []struct {
		name         string
		ref, elapsed time.Duration
		want         time.Duration
	}{
		{"first part", 2 * time.Second, 200 * time.Millisecond, 2200 * time.Millisecond},
		{"same all along", 2 * time.Second, 1800 * time.Millisecond, 2200 * time.Millisecond},
		{"last part of a regular GOP", 2 * time.Second, 2000 * time.Millisecond, 2200 * time.Millisecond},
		{"longer GOP: one step", 2 * time.Second, 2100 * time.Millisecond, 4400 * time.Millisecond},
		{"no part yet", 2 * time.Second, 0, 2200 * time.Millisecond},
		{"no reference: steps of one part", 0, 300 * time.Millisecond, 600 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := estimate(c.ref, c.elapsed, part); got != c.want {
				t.Fatalf("estimate(%v, %v) = %v, want %v", c.ref, c.elapsed, got, c.want)
			}
		})
	}
}

// longTimeline is a live stream of d of 2 s GOPs at 29.97 fps (RTMP millisecond
// timestamps: 2002 ms, a millisecond more every few GOPs) with 48 kHz AAC cut at
// the video key frames, as the packager writes it; the window holds the last six.
func longTimeline(d time.Duration) *timeline.Timeline {
	v := &timeline.Version{Tracks: []timeline.Track{
		{Name: "video1", Kind: timeline.KindVideo, TimeScale: 90000, Codecs: "avc1.64001f", Init: "video1_init0.mp4", Width: 1280, Height: 720},
		{Name: "audio2", Kind: timeline.KindAudio, TimeScale: 48000, Codecs: "mp4a.40.2", Init: "audio2_init0.mp4", SampleRate: 48000, Channels: 2},
	}}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tl := &timeline.Timeline{Versions: []*timeline.Version{v}, TargetDuration: 2, PartTarget: 200 * time.Millisecond, Start: start}
	var h *timeline.History
	var window []*timeline.Segment
	var vt, at uint64 // video ms, audio samples
	for msn := uint64(0); time.Duration(vt)*time.Millisecond < d; msn++ {
		vd := uint64(2002)
		if msn%5 == 4 {
			vd++
		}
		ad := ((vt+vd)*48/1024*1024 - at) // AAC frames up to the key frame
		s := &timeline.Segment{MSN: msn, PDT: start.Add(time.Duration(vt) * time.Millisecond), Duration: time.Duration(vd) * time.Millisecond,
			Tracks: []timeline.SegmentTrack{
				{File: timeline.SegmentFile("video1", msn), BaseTime: vt * 90, Duration: vd * 90, Size: 500000},
				{File: timeline.SegmentFile("audio2", msn), BaseTime: at, Duration: ad, Size: 32000},
			}}
		h = h.Append(s)
		window = append(window, s)
		if len(window) > 6 {
			window = window[1:]
		}
		vt, at = vt+vd, at+ad
	}
	tl.Segments, tl.History = window, h
	tl.Updated = start.Add(time.Duration(vt) * time.Millisecond)
	return tl
}

// TestMPDFromPeriodStartSize measures what listing the Period from its start
// costs for a long stream: the MPD GStreamer gets at 1 h and 3 h, against the
// window's, and the time to render it (once per snapshot, up to five a second).
func TestMPDFromPeriodStartSize(t *testing.T) {
	for _, d := range []time.Duration{time.Hour, 3 * time.Hour} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			tl := longTimeline(d)
			win, err := MPD(tl, Options{})
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			full, err := MPD(tl, Options{FromPeriodStart: true})
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(began)
			t.Logf("%v of 2 s segments (%d): window MPD %d bytes, from the period start %d bytes, rendered in %v, history %d bytes",
				d, tl.History.Len(), len(win), len(full), took, tl.History.Len()*(1+8*len(tl.History.Times)/tl.History.Len()))
			if perSegment := len(full) / tl.History.Len(); perSegment > 40 {
				t.Fatalf("%d bytes a segment: the timeline is not compacted", perSegment)
			}
		})
	}
}
